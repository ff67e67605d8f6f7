"""Exported heads in Essentia: TensorflowPredict2D equals Keras; `musiczoo predict` end to end.

A head follows the embedding model it was fitted on (its JSON records the graph's path and SHA-256):
a registry export, a pretrained import, any exported ``.pb`` or an official Essentia graph.
"""

import importlib.util
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import MUSICNN_GRAPH, relative_error, require
from musiczoo.cli import main
from musiczoo.downstream import EmbeddingClassifier, Head, export_head
from musiczoo.extractors.audio import load_audio
from musiczoo.extractors.graph import Graph
from musiczoo.fileio import sha256
from musiczoo.runtime import essentia_standard
from musiczoo.zoo import export, registry
from musiczoo.zoo.resolve import resolve_graph
from test_downstream import blobs

TOLERANCE = 1e-5
EMBEDDER = "discogs_track_embeddings-effnet"


@pytest.mark.parametrize(
    "task, dim, embedder", [("multilabel", 1280, EMBEDDER), ("multiclass", 128, "playlist_co_embeddings-vggish")]
)
def test_head_round_trip_through_essentia(tmp_path, task, dim, embedder):
    X, y = blobs(40, dim=dim, multilabel=task == "multilabel")
    classifier = EmbeddingClassifier(epochs=2, progress=False).fit(X, y)
    graph = export_head(classifier, tmp_path, f"toy-{embedder}", embedder, dataset={"name": "blobs"})
    meta = json.loads(graph.with_suffix(".json").read_text())
    assert set(registry.METADATA_FIELDS) <= set(meta) and meta["classes"] == [str(c) for c in classifier.classes_]
    assert meta["type"] == {"multilabel": "multi-label classifier", "multiclass": "multi-class classifier"}[task]
    assert meta["inference"]["algorithm"] == "TensorflowPredict2D" and meta["dataset"]["size"] == "40 tracks"
    assert meta["inference"]["embedding_model"] == {
        "algorithm": registry.get(embedder)["inference"]["algorithm"],
        "model_name": embedder,
        "link": registry.get(embedder)["link"],
    }
    predictions = "model/Sigmoid" if task == "multilabel" else "model/Softmax"
    assert [o["name"] for o in meta["schema"]["outputs"]] == [predictions, "model/dense/BiasAdd"]
    assert meta["schema"]["inputs"] == [{"name": "model/Placeholder", "type": "float", "shape": ["batch_size", dim]}]

    rows = np.concatenate(X[:6])
    activations, penultimate = (np.asarray(o) for o in classifier.head_model()(rows))
    assert penultimate.shape == (len(rows), 512) and penultimate.std() > 0.1
    es = essentia_standard()
    for output, reference in ((predictions, activations), ("model/dense/BiasAdd", penultimate)):
        essentia = es.TensorflowPredict2D(graphFilename=str(graph), output=output, dimensions=dim)(rows)
        assert essentia.shape == reference.shape and relative_error(essentia, reference) <= TOLERANCE
    head = Head(graph)
    np.testing.assert_allclose(head.predict_proba(X), classifier.predict_proba(X), atol=TOLERANCE)
    assert head.score(X, y) == pytest.approx(classifier.score(X, y), abs=1e-6)


def test_export_refuses_embeddings_of_another_model(tmp_path):
    X, y = blobs(12, dim=16)
    classifier = EmbeddingClassifier(epochs=1, progress=False).fit(X, y)
    with pytest.raises(ValueError, match="takes 16-d embeddings but discogs_track_embeddings-effnet gives 1280-d"):
        export_head(classifier, tmp_path, "toy", EMBEDDER)
    with pytest.raises(KeyError, match="no model named"):
        export_head(classifier, tmp_path, "toy", "discogs_trak_embeddings-effnet")


@pytest.fixture(scope="module")
def effnet_graph(tmp_path_factory):
    return export.export_random_init(EMBEDDER, tmp_path_factory.mktemp("zoo"), register=False)


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory, clip_audio):
    folder = tmp_path_factory.mktemp("audio")
    for name, audio in clip_audio.items():
        essentia_standard().MonoWriter(filename=str(folder / f"{name[:16]}.wav"), sampleRate=16000, format="wav")(audio)
    return folder


def test_predict_runs_embedding_model_and_head_on_audio(tmp_path, effnet_graph, audio_dir, capsys):
    """`musiczoo predict HEAD AUDIO...`: the head JSON names the zoo model, found among the exports."""
    registry.register_export(EMBEDDER, effnet_graph)
    X, y = blobs(30, dim=1280, multilabel=True)
    classifier = EmbeddingClassifier(epochs=2, progress=False).fit(X, y)
    head = export_head(classifier, tmp_path / "heads", f"toy-{EMBEDDER}", EMBEDDER)
    (tmp_path / "broken.wav").write_bytes(b"not audio at all")
    csv = tmp_path / "activations.csv"
    code = main(["predict", str(head), str(audio_dir), str(tmp_path / "broken.wav"), "-o", str(csv), "--patches"])
    assert code == 1  # the broken file fails, the others land
    out, err = capsys.readouterr()
    assert "broken.wav" in err and out.count(".wav\t") == 3
    table = pd.read_csv(csv)
    assert list(table.columns) == ["path", "patch", "c0", "c1", "c2", "even"]
    es = essentia_standard()
    embed = es.TensorflowPredictEffnetDiscogs(graphFilename=str(effnet_graph), output="PartitionedCall:1")
    for path in sorted(audio_dir.iterdir()):
        embeddings = embed(es.MonoLoader(filename=str(path), sampleRate=16000, resampleQuality=4)())
        rows = table[table.path == str(path)]
        assert len(rows) == 1 + len(embeddings) and rows.patch.iloc[0] == "mean"
        expected = classifier.predict_proba([embeddings])[0]
        assert relative_error(rows.iloc[0, 2:].to_numpy(float), expected) <= TOLERANCE
        per_patch = classifier.predict_proba(embeddings)
        np.testing.assert_allclose(rows.iloc[1:, 2:].to_numpy(float), per_patch, atol=TOLERANCE)


TINY_RESNET = {"width": 0.0625, "blocks": (1, 1, 1, 1)}


def embedding_model(kind, folder):
    """``(what export_head is given, the .pb it resolves to)`` for one kind of embedding model."""
    if kind == "official":
        graph = require(MUSICNN_GRAPH)
        return str(graph), graph
    if kind == "pretrained":
        if importlib.util.find_spec("musicnn") is None:
            pytest.skip("needs the musicnn wheel (pip install --no-deps musicnn)")
        return "msd-musicnn", resolve_graph("msd-musicnn")  # imported into the test's home
    name = "playlist_co_embeddings-resnet50"
    graph = export.export_random_init(name, folder, register=kind == "registry", **TINY_RESNET)
    return (registry.random_init_name(name) if kind == "registry" else str(graph)), graph


def direct_essentia(graph, audio_path):
    """The embedding model run as an Essentia user would, with the patching of its metadata."""
    meta = Graph(graph)
    wrapper = getattr(essentia_standard(), meta.algorithm)
    audio = load_audio(audio_path)
    return wrapper(
        graphFilename=str(graph), output=meta.node_name(), patchSize=meta.patch_size, patchHopSize=meta.patch_hop_size
    )(audio)


@pytest.mark.parametrize("kind", ["official", "pretrained", "registry", "pb"])
def test_predict_finds_the_embedding_model_the_head_was_fitted_on(kind, tmp_path, audio_dir, capsys):
    given, graph = embedding_model(kind, tmp_path / "models")
    dim = Graph(graph).metadata["schema"]["outputs"][1]["shape"][-1]
    X, y = blobs(30, dim=dim)
    classifier = EmbeddingClassifier(epochs=2, progress=False).fit(X, y)
    head = export_head(classifier, tmp_path / "heads", "toy", given)
    record = json.loads(head.with_suffix(".json").read_text())["inference"]["embedding_model"]
    assert record["graph"] == str(graph.resolve()) and record["sha256"] == sha256(graph)
    csv = tmp_path / "activations.csv"
    assert main(["predict", str(head), str(audio_dir), "-o", str(csv)]) == 0
    table = pd.read_csv(csv).set_index("path")
    assert len(table) == 3
    for path in sorted(audio_dir.iterdir()):
        expected = classifier.predict_proba([direct_essentia(graph, path)])[0]
        assert relative_error(table.loc[str(path)].iloc[1:].to_numpy(float), expected) <= TOLERANCE


def write_excerpts(folder, clip_audio, seconds=4, count=3):
    """``count`` excerpts of each clip as 16 kHz wav, and an id,label table (label: the clip)."""
    folder.mkdir()
    rows = []
    for label, audio in enumerate(clip_audio.values()):
        for index in range(count):
            name = f"clip{label}-{index}"
            excerpt = audio[index * seconds * 16000 : (index + 1) * seconds * 16000]
            write = essentia_standard().MonoWriter(filename=str(folder / f"{name}.wav"), sampleRate=16000, format="wav")
            write(excerpt)
            rows.append(f"{name},c{label}\n")
    return "id,label\n" + "".join(rows)


def test_a_head_fitted_on_an_official_graph_follows_it_and_notices_a_change(tmp_path, clip_audio, capsys):
    """extract (real MusiCNN graph) -> downstream fit, no --embedding-model -> export -> predict;
    then the graph changed, then gone: one-line errors naming it."""
    graph = tmp_path / "models" / MUSICNN_GRAPH.name
    graph.parent.mkdir()
    shutil.copy(require(MUSICNN_GRAPH), graph)
    (tmp_path / "train.csv").write_text(write_excerpts(tmp_path / "audio", clip_audio))
    assert main(["extract", str(graph), str(tmp_path / "audio"), "-o", str(tmp_path / "emb")]) == 0
    assert (
        main(
            [
                "downstream",
                "fit",
                "--embeddings",
                str(tmp_path / "emb"),
                "--train",
                str(tmp_path / "train.csv"),
                "--epochs",
                "2",
                "-o",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "run" / "fit.json").read_text())["embedding_model"] == str(graph)
    assert main(["downstream", "export", str(tmp_path / "run"), "-o", str(tmp_path / "heads")]) == 0
    head = tmp_path / "heads" / "run-genre_dortmund-musicnn-msd.pb"
    audio = tmp_path / "audio" / "clip0-0.wav"
    assert main(["predict", str(head), str(audio)]) == 0
    assert f"{audio}\t" in capsys.readouterr().out

    graph.write_bytes(graph.read_bytes() + b"\0")
    assert main(["predict", str(head), str(audio)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and f"embedding graph {graph} changed" in error
    graph.unlink()
    assert main(["predict", str(head), str(audio)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "embedding model genre_dortmund-musicnn-msd is missing" in error
    assert str(graph) in error
