"""`musiczoo extract`: real Essentia models, both back-ends, and bad input that never stops a batch."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import MUSICNN_GRAPH, clip_paths, require
from musiczoo.cli import main
from musiczoo.extractors.extract import extract
from musiczoo.zoo.official import OFFICIAL_METADATA
from musiczoo.runtime import essentia_standard
from musiczoo.zoo import export

SR = 16000


def write_wav(path, audio):
    essentia_standard().MonoWriter(filename=str(path), sampleRate=SR, format="wav")(np.asarray(audio, np.float32))
    return path


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory):
    """Short real excerpts as 16 kHz wav, two of them in a subfolder."""
    folder = tmp_path_factory.mktemp("audio")
    es = essentia_standard()
    for index, path in enumerate(clip_paths()[:3]):
        target = folder / ("sub" if index else "") / f"{path.stem[:20]}.wav"
        target.parent.mkdir(exist_ok=True)
        write_wav(target, es.MonoLoader(filename=str(path), sampleRate=SR, resampleQuality=4)()[: 8 * SR])
    return folder


@pytest.fixture(scope="module")
def musicnn_metadata(tmp_path_factory):
    path = tmp_path_factory.mktemp("meta") / "genre_dortmund-musicnn-msd.json"
    path.write_text(json.dumps(OFFICIAL_METADATA["genre_dortmund_musicnn_msd"]))
    return path


def test_reference_musicnn_matches_direct_essentia_call(audio_dir, musicnn_metadata, tmp_path):
    """An unmodified Essentia model: extract == TensorflowPredictMusiCNN, to the bit."""
    graph = require(MUSICNN_GRAPH)
    assert main(["extract", str(graph), str(audio_dir), "-o", str(tmp_path), "--metadata", str(musicnn_metadata)]) == 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert len(summary) == 3 and (summary.status == "ok").all() and (summary.dim == 200).all()
    es = essentia_standard()
    direct = es.TensorflowPredictMusiCNN(graphFilename=str(graph), output="model/dense/BiasAdd")
    for row in summary.itertuples():
        audio = es.MonoLoader(filename=row.path, sampleRate=SR, resampleQuality=4)()
        np.testing.assert_array_equal(np.load(tmp_path / row.embeddings), direct(audio))
    assert {p.name for p in (tmp_path / "sub").iterdir()} == {n.split("/")[-1] for n in summary.embeddings[1:]}


def test_node_and_backends(audio_dir, tmp_path):
    """``node`` picks the predictions; the TensorFlow back-end gives the same numbers.

    No metadata is given: the official model's is known by its file name.
    """
    graph = require(MUSICNN_GRAPH)
    runs = {
        backend: extract(graph, [audio_dir], tmp_path / backend, node="model/Sigmoid", backend=backend, progress=False)
        for backend in ("essentia", "tensorflow")
    }
    for row in runs["essentia"].itertuples():
        reference = np.load(tmp_path / "essentia" / row.embeddings)
        candidate = np.load(tmp_path / "tensorflow" / row.embeddings)
        assert reference.shape == candidate.shape and reference.shape[1] == 9
        assert np.abs(reference - candidate).max() < 1e-4


def test_zoo_model_by_registry_name(audio_dir, tmp_path, capsys):
    """Export registers the model; `extract NAME` finds it; API and CLI agree. An untrained export goes by its own
    name: the registry name stays the trained model's."""
    assert main(["export", "--random-init", "discogs_track_embeddings-effnet", "-o", str(tmp_path / "models")]) == 0
    assert main(["extract", "discogs_track_embeddings-effnet", str(audio_dir), "-o", str(tmp_path / "no")]) == 2
    assert "is defined but not exported on this machine" in capsys.readouterr().err
    assert main(["models", "list"]) == 0
    listed = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("discogs_track_embeddings"))
    assert listed.split()[-1] == "random-init" and "exported" not in listed
    assert (
        main(
            [
                "extract",
                "discogs_track_embeddings-effnet-random-init",
                str(audio_dir),
                "-o",
                str(tmp_path / "cli"),
                "--batch-size",
                "8",
            ]
        )
        == 0
    )
    api = extract(
        "discogs_track_embeddings-effnet-random-init", [audio_dir], tmp_path / "api", batch_size=8, progress=False
    )
    assert (api.patches == 7).all() and (api.dim == 1280).all()  # 8 s -> 501 frames -> 7 patches
    provenance = json.loads((tmp_path / "api" / "extract.json").read_text())
    assert provenance["model"] == "discogs_track_embeddings-effnet-random-init"
    assert provenance["node"] == "PartitionedCall:1"
    meta = json.loads((tmp_path / "models" / "discogs_track_embeddings-effnet-random-init.json").read_text())
    assert meta["description"].startswith("Untrained: discogs_track_embeddings-effnet at a random initialisation")
    assert meta["dataset"]["name"] == "none: random initialisation, no training data"
    for name in api.embeddings:
        np.testing.assert_array_equal(np.load(tmp_path / "cli" / name), np.load(tmp_path / "api" / name))


def test_bad_files_are_reported_and_the_batch_goes_on(audio_dir, musicnn_metadata, tmp_path, capsys):
    graph = require(MUSICNN_GRAPH)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "corrupt.mp3").write_bytes(np.random.default_rng(0).bytes(20000))
    (bad / "empty.wav").write_bytes(b"")
    write_wav(bad / "silent.wav", np.zeros(5 * SR))
    write_wav(bad / "short.wav", 0.1 * np.random.default_rng(1).standard_normal(SR))  # 1 s < one 187-frame patch
    (bad / "notes.txt").write_text("not audio")
    out = tmp_path / "out"
    code = main(
        [
            "extract",
            str(graph),
            str(audio_dir),
            str(bad),
            str(bad / "notes.txt"),
            "-o",
            str(out),
            "--metadata",
            str(musicnn_metadata),
        ]
    )
    assert code == 1
    summary = pd.read_csv(out / "summary.csv").set_index(
        pd.read_csv(out / "summary.csv").path.map(lambda p: p.split("/")[-1])
    )
    assert (summary.status == "ok").sum() == 3
    errors = summary[summary.status == "error"].error.to_dict()
    assert set(errors) == {"corrupt.mp3", "empty.wav", "silent.wav", "short.wav", "notes.txt"}
    assert errors["silent.wav"].startswith("silent") and errors["short.wav"].startswith("too short")
    for name in summary[summary.status == "ok"].embeddings:
        assert np.load(out / name).shape[1] == 200
    assert "failed:" in capsys.readouterr().err


def test_any_rate_and_channels_load_as_mono_16k(tmp_path):
    """A 44.1 kHz stereo file decodes to one 16 kHz channel, the mean of the two."""
    from musiczoo.extractors.audio import load_audio

    seconds, rate = 2.0, 44100
    t = np.arange(int(seconds * rate)) / rate
    left, right = np.sin(2 * np.pi * 440 * t), np.zeros_like(t)
    stereo = np.stack([left, right], axis=1).astype(np.float32) * 0.5
    path = tmp_path / "stereo.flac"
    essentia_standard().AudioWriter(filename=str(path), sampleRate=rate, format="flac")(stereo)
    audio = load_audio(path)
    assert audio.ndim == 1 and abs(len(audio) - seconds * SR) <= 1
    assert 0.2 < np.abs(audio[SR // 2 : SR]).max() < 0.3  # (0.5 + 0) / 2 = 0.25, resampled


def test_missing_input_and_unknown_model_fail_clearly(tmp_path, capsys):
    assert main(["extract", "discogs_track_embeddings-effnet", str(tmp_path), "-o", str(tmp_path / "o")]) == 2
    assert "not exported" in capsys.readouterr().err
    assert main(["extract", "discogs_trak_embeddings-effnet", str(tmp_path), "-o", str(tmp_path / "o")]) == 2
    assert "did you mean discogs_track_embeddings-effnet" in capsys.readouterr().err
    graph = export.export_random_init("discogs_track_embeddings-effnet", tmp_path / "m", register=False)
    assert main(["extract", str(graph), str(tmp_path / "nothing-here"), "-o", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["extract", str(graph), str(tmp_path / "empty"), "-o", str(tmp_path / "o")]) == 2
    assert "no audio files in" in capsys.readouterr().err
    # batchSize 0 or -1 (all patches at once) with the default lastBatchMode crashes TensorflowPredictEffnetDiscogs
    for command in ("extract", "predict"):
        for size in ("0", "-1"):
            with pytest.raises(SystemExit) as refused:
                main([command, str(graph), str(tmp_path), "-o", str(tmp_path / "o"), "--batch-size", size])
            assert refused.value.code == 2
            assert f"--batch-size: must be a whole number of 1 or more, not {size}" in capsys.readouterr().err


def test_a_signal_one_effnet_patch_long_is_too_short_for_essentia(tmp_path):
    """Essentia's EffNet wrapper needs a frame more than one patch: 32,400 samples (one 128-frame patch by the mel's
    count) give it no patch; the file is an error row naming why, and the batch goes on."""
    graph = export.export_random_init("discogs_track_embeddings-effnet", tmp_path, width=0.25, depth=0.34)
    noise = 0.1 * np.random.default_rng(2).standard_normal(3 * SR).astype(np.float32)
    (tmp_path / "audio").mkdir()
    write_wav(tmp_path / "audio" / "edge.wav", noise[:32400])
    write_wav(tmp_path / "audio" / "longer.wav", noise)
    summary = extract(graph, [tmp_path / "audio"], tmp_path / "out", progress=False, workers=0).set_index("path")
    edge, longer = (summary.loc[str(tmp_path / "audio" / name)] for name in ("edge.wav", "longer.wav"))
    assert edge.status == "error" and edge.error.startswith("too short: 2.02 s is less than one 128-frame patch")
    assert longer.status == "ok" and longer.patches == 1


def test_every_backend_cuts_essentias_patches_at_the_boundary_lengths(tmp_path):
    """EffnetDiscogs drops the last mel frame before it cuts patches; the TensorFlow back-end (and the ONNX one,
    which shares its patching) does the same: 190 frames give one patch of 128 at hop 62, 191 give two."""
    from musiczoo.extractors.graph import Graph, predictor

    graph = Graph(export.export_random_init("discogs_track_embeddings-effnet", tmp_path, width=0.25, depth=0.34))
    essentia, tensorflow = (predictor(graph, backend=b) for b in ("essentia", "tensorflow"))
    noise = 0.1 * np.random.default_rng(3).standard_normal(64640).astype(np.float32)
    for samples, patches in [(32512, 0), (32640, 1), (48384, 1), (48512, 2), (64256, 2), (64384, 3)]:
        counts = (graph.patches_for(samples), len(essentia(noise[:samples])), len(tensorflow(noise[:samples])))
        assert counts == (patches,) * 3, samples
