"""Pretrained MusiCNN/VGG from the musicnn wheel: import, parity with the TF1 checkpoints, tags, CLI, downstream."""

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
from conftest import CLIPS, MUSICNN_GRAPH, relative_error, require
from musiczoo.cli import main
from musiczoo.extractors.audio import load_audio
from musiczoo.extractors.graph import patch_count
from musiczoo.extractors.mel import essentia_melspectrogram
from musiczoo.zoo.frontends import MUSICNN
from musiczoo.runtime import essentia_standard
from musiczoo.zoo import pretrained, registry, wheel
from musiczoo.zoo.resolve import resolve_graph

TOLERANCE = 1e-5
NAMES = list(registry.pretrained())
HAS_MUSICNN = importlib.util.find_spec("musicnn") is not None
needs_musicnn = pytest.mark.skipif(not HAS_MUSICNN, reason=f"needs the musicnn wheel ({wheel.INSTALL})")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """name -> ``.pb`` of the four pretrained models, imported into a temporary folder (not registered)."""
    if not HAS_MUSICNN:
        pytest.skip(f"needs the musicnn wheel ({wheel.INSTALL})")
    return dict(zip(NAMES, pretrained.import_musicnn("all", tmp_path_factory.mktemp("pretrained"), register=False)))


def clip(words):
    """The real clip whose file name contains ``words``."""
    return next(path for path in sorted(require(CLIPS).glob("*.ogg")) if words in path.name)


def write_excerpts(folder, clips, seconds, count=1):
    """``count`` consecutive ``seconds``-long excerpts of each clip as 16 kHz wav files: stem -> paths."""
    es = essentia_standard()
    folder.mkdir(parents=True, exist_ok=True)
    excerpts = {}
    for path in clips:
        audio, size = load_audio(path), int(seconds * 16000)
        excerpts[path.stem] = [folder / f"{path.stem}-{i}.wav" for i in range(count)]
        for i, target in enumerate(excerpts[path.stem]):
            es.MonoWriter(filename=str(target), sampleRate=16000, format="wav")(audio[i * size : (i + 1) * size])
    return excerpts


def test_registry_lists_the_pretrained_models(capsys):
    assert NAMES == ["msd-musicnn", "mtt-musicnn", "msd-vgg", "mtt-vgg"]
    assert all(registry.validate(entry) == [] for entry in registry.pretrained().values())
    assert not set(NAMES) & set(registry.models())  # nothing to build or train
    with pytest.raises(ValueError, match="pretrained model"):
        registry.build("msd-musicnn")
    assert main(["models", "list"]) == 0
    listed = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [line[0] for line in listed if line[-1] == "pretrained"] == NAMES


def test_pretrained_entries_keep_their_authors_date_and_numbers_as_theirs():
    """The authors' release (not the import day) and their own metrics, labelled as theirs; a zoo export's date is
    the day it is exported."""
    import datetime

    from musiczoo.zoo.export import metadata

    for name, entry in registry.pretrained().items():
        assert entry["release_date"] == "2019-09" and "arXiv:1909.06654" in entry["musiczoo"]["release_date_source"]
        assert entry["dataset"]["metrics_source"].startswith("authors: ") and entry["dataset"]["metrics"]
        meta = metadata(entry, {"classes": ["a"]})
        assert meta["release_date"] == "2019-09" and meta["dataset"] == entry["dataset"]
        broken = json.loads(json.dumps(entry))
        broken["release_date"] = ""
        del broken["dataset"]["metrics_source"]
        assert len(registry.validate(broken)) == 2 and "release_date" in registry.validate(broken)[0]
        assert metadata(broken)["release_date"] == ""  # never the import day
    trained = metadata(registry.get("music_era_ce-cnn"))
    assert trained["release_date"] == datetime.date.today().isoformat()


def test_absent_package_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(registry.get("msd-musicnn")["musiczoo"], "package", "musicnn_not_installed")
    with pytest.raises(FileNotFoundError, match="pip install --no-deps musicnn"):
        pretrained.import_musicnn("MSD_musicnn", tmp_path)
    assert main(["extract", "msd-musicnn", str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    assert "pip install --no-deps musicnn" in capsys.readouterr().err
    with pytest.raises(KeyError, match="no musicnn checkpoint named MSD_big"):
        pretrained.import_musicnn(["MSD_big"], tmp_path)


def test_frozen_graphs_are_for_inference(imported):
    """One rank-3 dynamic-batch input, no training switch, labels, dropout or control flow; full metadata."""
    import tensorflow as tf

    for name, graph in imported.items():
        nodes = tf.compat.v1.GraphDef.FromString(graph.read_bytes()).node
        placeholders = [node for node in nodes if node.op == "Placeholder"]
        assert [node.name for node in placeholders] == ["model/Placeholder"]
        assert [d.size for d in placeholders[0].attr["shape"].shape.dim] == [-1, 187, 96]
        assert not {node.op for node in nodes} & {"Switch", "Merge", "RandomUniform"}
        meta = json.loads(graph.with_suffix(".json").read_text())
        assert set(registry.METADATA_FIELDS) <= set(meta) and meta["classes"] == pretrained.labels(name)
        assert len(meta["classes"]) == 50 and meta["inference"]["algorithm"] == "TensorflowPredictMusiCNN"
        assert meta["license"]["name"] == "ISC" and "Permission to use" in meta["license"]["text"]
        assert meta["release_date"] == "2019-09" and meta["dataset"]["metrics_source"].startswith("authors: ")
        assert "Pons" in meta["citation"] and {o["name"] for o in meta["schema"]["outputs"]} <= {n.name for n in nodes}


@pytest.mark.parametrize("name", NAMES)
def test_essentia_matches_the_tf1_checkpoint(name, imported, clip_audio):
    """TensorflowPredictMusiCNN on the frozen graph == the restored checkpoint on Essentia's mel patches."""
    es = essentia_standard()
    outputs = [output["name"] for output in registry.get(name)["schema"]["outputs"]]
    calls = [es.TensorflowPredictMusiCNN(graphFilename=str(imported[name]), output=output) for output in outputs]
    with pretrained.restore(name) as session:
        for audio in clip_audio.values():
            mel = essentia_melspectrogram(audio, MUSICNN)
            patches = np.stack([mel[i * 93 : i * 93 + 187] for i in range(patch_count(len(mel), 187, 93))])
            references = session.run(
                [f"{output}:0" for output in outputs], {"model/Placeholder:0": patches, "model/Placeholder_2:0": False}
            )
            for call, reference in zip(calls, references):
                essentia = call(audio)
                assert essentia.shape == reference.shape and reference.std() > 0.01
                assert relative_error(essentia, reference) <= TOLERANCE


def test_msd_musicnn_is_not_the_genre_dortmund_backbone(imported, clip_audio):
    """Same architecture and 200-d embedding node, but other weights: the embeddings differ."""
    es = essentia_standard()
    ours, official = (
        es.TensorflowPredictMusiCNN(graphFilename=str(graph), output="model/dense/BiasAdd")
        for graph in (imported["msd-musicnn"], require(MUSICNN_GRAPH))
    )
    for audio in clip_audio.values():
        a, b = ours(audio), official(audio)
        assert a.shape == b.shape == (a.shape[0], 200)
        assert relative_error(a, b) > 0.5


def test_the_musicnn_backbone_starts_as_the_imported_tagger(imported, clip_audio, tmp_path):
    """The trainable MusiCNN backbone, loaded from MSD_musicnn, gives msd-musicnn's embeddings at step 0 (Keras and
    its export, called as Essentia's MusiCNN models are); a checkpoint of another architecture is refused."""
    from musiczoo.zoo import export
    from musiczoo.zoo.backbones import musicnn

    name = "musicnn_artist_embeddings-musicnn"
    model = registry.build(name)
    graph = export.export_model(model, registry.get(name), tmp_path, register=False)
    es = essentia_standard()
    ours, tagger = (
        es.TensorflowPredictMusiCNN(graphFilename=str(path), output="model/dense/BiasAdd")
        for path in (graph, imported["msd-musicnn"])
    )
    for audio in clip_audio.values():
        mel = essentia_melspectrogram(audio, MUSICNN)
        patches = np.stack([mel[i * 93 : i * 93 + 187] for i in range(patch_count(len(mel), 187, 93))])
        reference = tagger(audio)
        assert relative_error(np.asarray(model(patches, training=False)[1]), reference) <= TOLERANCE
        assert relative_error(ours(audio), reference) <= TOLERANCE
    with pytest.raises(ValueError, match=r"MSD_vgg: musicnn's conv2d/kernel \(7, 38, 1, 204\) is not in it"):
        musicnn(weights="MSD_vgg")


@needs_musicnn
def test_tags_of_real_music(tmp_path, capsys):
    """`musiczoo tag` (mtt-musicnn, imported on first use) on 30 s excerpts; a broken file fails alone."""
    names = ("Hungarian_Dance", "ragtime", "Let's_Go_Fishin", "Tchaikovsky")
    excerpts = write_excerpts(tmp_path / "audio", [clip(words) for words in names], 30)
    (tmp_path / "audio" / "broken.ogg").write_bytes(b"not audio")
    assert main(["tag", str(tmp_path / "audio"), "-o", str(tmp_path / "tags.csv")]) == 1
    out, err = capsys.readouterr()
    assert "4 of 5 files tagged with mtt-musicnn" in out and "failed:" in err and "broken.ogg" in err
    assert "mtt-musicnn" in registry.exports()
    table = pd.read_csv(tmp_path / "tags.csv").set_index("path")
    top = {
        stem: table.loc[str(paths[0]), [f"tag_{rank}" for rank in range(1, 6)]].tolist()
        for stem, paths in excerpts.items()
    }
    hungarian, ragtime, fishin, tchaikovsky = top.values()
    assert set(hungarian[:3]) == {"classical", "violin", "strings"}
    assert ragtime[0] == "piano" and tchaikovsky[0] == "classical"
    assert {"female", "vocal"} <= set(fishin)


@needs_musicnn
def test_import_cli_registers(tmp_path, capsys):
    assert main(["import", "musicnn", "MTT_vgg", "-o", str(tmp_path)]) == 0
    assert f"imported {tmp_path / 'mtt-vgg.pb'}" in capsys.readouterr().out
    assert resolve_graph("mtt-vgg") == tmp_path / "mtt-vgg.pb"
    assert main(["models", "list"]) == 0
    assert any(
        line.split()[0] == "mtt-vgg" and line.endswith("pretrained exported")
        for line in capsys.readouterr().out.splitlines()
    )


@needs_musicnn
def test_downstream_fit_on_pretrained_embeddings(tmp_path, capsys):
    """`musiczoo extract msd-musicnn` by name (imported on first use), then `downstream fit` on the embeddings."""
    names = ("Hungarian_Dance", "ragtime", "Let's_Go_Fishin", "Vibe_Ace")
    excerpts = write_excerpts(tmp_path / "audio", [clip(words) for words in names], 5, count=6)
    assert main(["extract", "msd-musicnn", str(tmp_path / "audio"), "-o", str(tmp_path / "emb")]) == 0
    assert np.load(tmp_path / "emb" / f"{excerpts[clip('ragtime').stem][0].name}.npy").shape == (2, 200)
    for split, parts in (("train", slice(0, 4)), ("test", slice(4, 6))):
        rows = [f"{path.stem},{label}\n" for label, paths in enumerate(excerpts.values()) for path in paths[parts]]
        (tmp_path / f"{split}.csv").write_text("id,label\n" + "".join(rows))
    assert (
        main(
            [
                "downstream",
                "fit",
                "--embeddings",
                str(tmp_path / "emb" / "summary.csv"),
                "--train",
                str(tmp_path / "train.csv"),
                "--test",
                str(tmp_path / "test.csv"),
                "--embedding-model",
                "msd-musicnn",
                "--epochs",
                "20",
                "--hidden",
                "64",
                "-o",
                str(tmp_path / "fit"),
            ]
        )
        == 0
    )
    fit = json.loads((tmp_path / "fit" / "fit.json").read_text())
    assert fit["embedding_model"] == "msd-musicnn" and fit["test"]["labels"]["tracks"] == 8
    assert fit["test"]["labels"]["accuracy"] >= 0.75  # excerpts of four recordings: which one is each from
    assert "accuracy" in capsys.readouterr().out
