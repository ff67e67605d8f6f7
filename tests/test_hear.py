"""The HEAR 2021 API (musiczoo.extractors.hear): `musiczoo extract`'s numbers, hear-validator, bad input."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import MUSICNN_GRAPH, clip_paths, relative_error, require, write_wav
from musiczoo.cli import main
from musiczoo.extractors import hear
from musiczoo.extractors.audio import load_audio
from musiczoo.zoo import export, registry

EFFNET = "discogs_track_embeddings-effnet-random-init"
VGGISH = "playlist_co_embeddings-vggish-random-init"  # the playlist VGGish: MusiCNN mels, 256-frame patches
MODULE = "musiczoo.extractors.hear"


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """Tiny untrained exports, not registered (each test has its own home): name -> .pb."""
    out = tmp_path_factory.mktemp("models")
    effnet = export.export_random_init("discogs_track_embeddings-effnet", out, register=False, width=0.25, depth=0.34)
    vggish = export.export_random_init("playlist_co_embeddings-vggish", out, register=False, width=0.0625)
    return {EFFNET: effnet, VGGISH: vggish}


def noise(seconds, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * rng.standard_normal(t.size)).astype(np.float32)


def assert_matches_extract(model, sounds, tmp_path):
    """`musiczoo extract MODEL` on wavs of ``sounds`` (name -> audio) == get_timestamp_embeddings on the same audio."""
    (tmp_path / "wavs").mkdir()
    for name, audio in sounds.items():
        write_wav(tmp_path / "wavs" / f"{name}.wav", audio)
    assert main(["extract", str(model), str(tmp_path / "wavs"), "-o", str(tmp_path / "out"), "--workers", "0"]) == 0
    loaded = hear.load_model(model)
    for row in pd.read_csv(tmp_path / "out" / "summary.csv").itertuples():
        reference = np.load(tmp_path / "out" / row.embeddings)
        embeddings, timestamps = hear.get_timestamp_embeddings(load_audio(row.path)[None], loaded)
        assert embeddings.shape == (1, *reference.shape) and timestamps.shape == (1, len(reference))
        assert relative_error(embeddings.numpy()[0], reference) < 1e-5
        graph = loaded.graph
        centres = (np.arange(len(reference)) * graph.patch_hop_size + (graph.patch_size - 1) / 2) * graph.mel.hop_size
        np.testing.assert_allclose(timestamps.numpy()[0], centres / 16, rtol=1e-6)  # ms at 16 samples per ms
    return loaded


def test_zoo_export_matches_extract(graphs, tmp_path):
    """By registry name: several patches, and a sound that Essentia's EffnetDiscogs cuts one patch from, which
    get_timestamp_embeddings zero-pads to a whole patch span without changing it."""
    registry.register_export(EFFNET, graphs[EFFNET])
    model = assert_matches_extract(EFFNET, {"five": noise(5.0), "short": noise(32600 / 16000, seed=1)}, tmp_path)
    assert (model.sample_rate, model.scene_embedding_size, model.timestamp_embedding_size) == (16000, 320, 320)
    scene = hear.get_scene_embeddings(np.stack([noise(5.0), noise(5.0, seed=2)]), model).numpy()
    embeddings, _ = hear.get_timestamp_embeddings(np.stack([noise(5.0), noise(5.0, seed=2)]), model)
    np.testing.assert_allclose(scene, embeddings.numpy().mean(axis=1), rtol=1e-6)


def test_official_musicnn_matches_extract(tmp_path):
    """The official Essentia MusiCNN graph, its metadata known by its file name."""
    graph = require(MUSICNN_GRAPH)
    model = assert_matches_extract(graph, {"clip": load_audio(clip_paths()[0])[: 6 * 16000]}, tmp_path)
    assert model.timestamp_embedding_size == 200


def test_shorter_than_a_patch_is_one_patch(graphs):
    """Less than one patch: zero-padded to one (256 frames: 65536 samples), stamped at its centre (frame 127.5:
    2040 ms); an empty batch is empty."""
    model = hear.load_model(graphs[VGGISH])
    audio = np.stack([noise(2.0), noise(2.0, seed=1)])
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, model)
    padded, _ = hear.get_timestamp_embeddings(np.pad(audio, ((0, 0), (0, 256 * 256 - audio.shape[1]))), model)
    assert embeddings.shape == (2, 1, 128) and timestamps.numpy().tolist() == [[127.5 * 16]] * 2
    np.testing.assert_array_equal(embeddings.numpy(), padded.numpy())
    empty, stamps = hear.get_timestamp_embeddings(np.zeros((0, 16000), np.float32), model)
    assert empty.shape == (0, 1, 128) and stamps.shape == (0, 1)


@pytest.mark.parametrize("name", [EFFNET, VGGISH, "musicnn"])
def test_hear_validator(name, graphs, monkeypatch, capsys):
    """hear-validator's own entry point, one model of each family (the official MusiCNN graph for musicnn)."""
    validate = pytest.importorskip("hearvalidator.validate", reason="pip install hearvalidator (the dev extra)")
    path = require(MUSICNN_GRAPH) if name == "musicnn" else graphs[name]
    monkeypatch.setattr(sys, "argv", ["hear-validator", MODULE, "--model", str(path)])
    validate.main()
    out = capsys.readouterr().out
    assert "Received tensorflow Module: HearModel(" in out and out.rstrip().endswith("Looks good!")


def test_hear_validator_command(graphs):
    """The command a user runs, in a fresh process (torch and TensorFlow imported before Essentia), by name."""
    pytest.importorskip("hearvalidator", reason="pip install hearvalidator (the dev extra)")
    registry.register_export(VGGISH, graphs[VGGISH])
    command = [sys.executable, "-m", "hearvalidator.validate", MODULE, "--model", VGGISH]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "Received embedding of shape: (8, 128)" in run.stdout, run.stdout + run.stderr
    assert run.stdout.rstrip().endswith("Looks good!")


def test_bad_input(graphs, tmp_path):
    """Wrong rank or sample rate: a ValueError naming (n_sounds, n_samples) and the rate; no JSON: FileNotFoundError."""
    model = hear.load_model(graphs[VGGISH])
    for audio in (noise(1.0), noise(1.0)[None, None]):
        with pytest.raises(ValueError, match=r"batch \(n_sounds, n_samples\) of mono audio at 16000 Hz; got shape"):
            hear.get_timestamp_embeddings(audio, model)
    model.sample_rate = 44100
    with pytest.raises(ValueError, match=r"takes audio \(n_sounds, n_samples\) at 16000 Hz .* sample_rate is 44100"):
        hear.get_scene_embeddings(noise(1.0)[None], model)
    other = shutil.copy(graphs[VGGISH], tmp_path / "rate.pb")
    metadata = json.loads(graphs[VGGISH].with_suffix(".json").read_text())
    metadata["inference"]["sample_rate"] = 44100
    (tmp_path / "rate.json").write_text(json.dumps(metadata))
    with pytest.raises(ValueError, match=r"\(n_sounds, n_samples\) at 16000 Hz"):
        hear.load_model(other)
    (tmp_path / "rate.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"^rate.pb needs its Essentia metadata beside it: .*rate.json$"):
        hear.load_model(other)
