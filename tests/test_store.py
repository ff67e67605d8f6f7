"""The feature store: built once, resumable after a kill, random patches without loading it."""

import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from conftest import clip_paths
from musiczoo.extractors.audio import load_audio
from musiczoo.extractors.mel import melspectrogram
from musiczoo.zoo.frontends import MUSICNN
from musiczoo.fileio import FolderBusyError
from musiczoo.runtime import essentia_standard
from musiczoo.train.store import SHARDS, FeatureStore, build_store, read_index


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    """Six 6 s excerpts of real clips as wav, plus three unusable files."""
    folder = tmp_path_factory.mktemp("audio")
    write = essentia_standard().MonoWriter
    rows = []
    for index, path in enumerate(clip_paths()[:6]):
        target = folder / f"clip{index}.wav"
        write(filename=str(target), sampleRate=16000, format="wav")(load_audio(path)[: 6 * 16000])
        rows.append((f"clip{index}", str(target)))
    write(filename=str(folder / "silent.wav"), sampleRate=16000, format="wav")(np.zeros(16000 * 3, np.float32))
    (folder / "broken.ogg").write_bytes(b"OggS" + bytes(500))
    rows += [
        ("silent", str(folder / "silent.wav")),
        ("broken", str(folder / "broken.ogg")),
        ("missing", str(folder / "missing.flac")),
    ]
    return pd.DataFrame(rows, columns=["track_id", "path"])


def test_build_read_and_exclusions(tracks, tmp_path):
    index = build_store(tracks, tmp_path, workers=2, shard_tracks=4, progress=False)
    store = FeatureStore(tmp_path)
    assert len(store) == 6 and len(index) == 9 and index.track_id.is_unique
    reasons = dict(zip(store.excluded.track_id, store.excluded.reason))
    assert set(reasons) == {"silent", "broken", "missing"}
    assert reasons["silent"].startswith("silent") and reasons["missing"].startswith("not a file")
    reference = melspectrogram(load_audio(tracks.path[2]), MUSICNN)
    stored = store.mel("clip2")
    assert stored.shape == reference.shape and np.abs(stored - reference).max() < 4e-3  # float16
    patch = store.patch("clip2", 128, offset=100)
    np.testing.assert_array_equal(patch, stored[100:228])
    rng = np.random.default_rng(0)
    assert store.patch("clip1", 128, rng=rng).shape == (128, 96)
    assert store.patch("clip1", 1000, offset=0).shape == (1000, 96)  # zero-padded past the end
    info = store.info()
    assert info["tracks"] == 6 and abs(info["hours"] - 6 * 6 / 3600) < 1e-3 and len(info["excluded"]) == 3


def test_resume_skips_finished_shards(tracks, tmp_path):
    build_store(tracks.iloc[:4], tmp_path, shard_tracks=2, progress=False)
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / SHARDS).iterdir()}
    build_store(tracks, tmp_path, shard_tracks=2, progress=False)
    assert all((tmp_path / SHARDS / name).stat().st_mtime_ns == stamp for name, stamp in stamps.items())
    assert sorted(read_index(tmp_path).track_id) == sorted(tracks.track_id)


KILLED_BUILD = """
import sys, pandas as pd, musiczoo
from musiczoo.train.store import build_store
build_store(pd.read_csv(sys.argv[1]), sys.argv[2], shard_tracks=1, progress=False)
"""


def test_a_killed_build_loses_at_most_the_shard_in_flight(tracks, tmp_path):
    """...and while it runs, a second build of the same store fails at once; the kill frees the store."""
    many = pd.concat([tracks.iloc[:6].assign(track_id=lambda f, k=k: f.track_id + f"-{k}") for k in range(6)])
    many.to_csv(tmp_path / "tracks.csv", index=False)
    store = tmp_path / "store"
    process = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(tmp_path / "tracks.csv"), str(store)])
    deadline = time.time() + 120
    while len(list((store / SHARDS).glob("*.parquet"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    with pytest.raises(FolderBusyError, match="another feature-store build is writing it"):
        build_store(many, store, shard_tracks=1, progress=False)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = read_index(store)
    assert 3 <= len(finished) < len(many), "the kill should land mid-build"
    for row in finished.itertuples():  # every finished shard is whole
        assert np.load(store / SHARDS / f"{row.shard:05d}.npy", mmap_mode="r").shape[0] >= row.start + row.frames
    build_store(many, store, shard_tracks=1, progress=False)
    resumed = FeatureStore(store)
    assert sorted(resumed.index.track_id) == sorted(many.track_id)
    assert not list((store / SHARDS).glob(".*.part"))
    np.testing.assert_array_equal(resumed.mel("clip0-0"), resumed.mel("clip0-5"))


def test_the_store_follows_its_catalogue(tracks, tmp_path):
    """Changed, fixed and appearing files are read again, removed tracks leave, the rest stays as it was."""
    audio, store = tmp_path / "audio", tmp_path / "store"
    audio.mkdir()
    names = ["clip0", "clip1", "clip2", "silent", "missing"]
    for name in names[:-1]:
        shutil.copy(tracks.path[tracks.track_id == name].item(), audio / f"{name}.wav")
    catalogue = pd.DataFrame({"track_id": names, "path": [str(audio / f"{name}.wav") for name in names]})
    build_store(catalogue, store, shard_tracks=2, progress=False)
    assert set(FeatureStore(store).excluded.track_id) == {"silent", "missing"}
    first = (store / SHARDS / "00000.npy").stat().st_mtime_ns  # clip0 and clip1

    shutil.copy(tracks.path[3], audio / "clip1.wav")  # changed audio
    shutil.copy(tracks.path[4], audio / "silent.wav")  # a fixed file
    shutil.copy(tracks.path[5], audio / "missing.wav")  # a file that appeared
    build_store(catalogue[catalogue.track_id != "clip2"], store, shard_tracks=2, progress=False)
    followed = FeatureStore(store)
    assert sorted(followed.index.track_id) == ["clip0", "clip1", "missing", "silent"] and not len(followed.excluded)
    for name, source in [("clip0", 0), ("clip1", 3), ("silent", 4), ("missing", 5)]:
        reference = melspectrogram(load_audio(tracks.path[source]), MUSICNN)
        assert np.abs(followed.mel(name) - reference).max() < 4e-3, name
    index = read_index(store).set_index("track_id")
    assert index.index.is_unique and index.shard["clip0"] == 0  # kept in place: its mels are not computed again
    assert (store / SHARDS / "00000.npy").stat().st_mtime_ns == first

    stamps = {p.name: p.stat().st_mtime_ns for p in (store / SHARDS).iterdir()}
    build_store(catalogue[catalogue.track_id != "clip2"], store, shard_tracks=2, progress=False)  # nothing changed
    assert {p.name: p.stat().st_mtime_ns for p in (store / SHARDS).iterdir()} == stamps

    build_store(catalogue, store, shard_tracks=2, progress=False, rebuild=True)
    rebuilt = FeatureStore(store)
    assert sorted(rebuilt.index.track_id) == sorted(names)
    assert rebuilt.info()["frames"] == sum(np.load(p, mmap_mode="r").shape[0] for p in (store / SHARDS).glob("*.npy"))
    np.testing.assert_array_equal(rebuilt.mel("clip1"), followed.mel("clip1"))
