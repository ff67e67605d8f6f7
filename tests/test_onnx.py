"""ONNX: every family's export equals its frozen graph as Essentia runs it (1e-5, batch 1 and 7), and
`--backend onnx` equals Essentia.

Parity is measured on mel patches of the real clips (random rows for a classifier head), for each
output of the metadata's schema, at batch 1, 7 and all patches: 1e-5 relative, or three times the
frozen graph's own float32 noise (the same patches run one by one) where that is more, as in
test_export (EfficientNet's LayerNorm + tanh projection: TensorFlow 1.1e-5 off itself, ONNX 2e-5).
The ``onnx`` back-end (TensorFlow mel + onnxruntime) is compared with the ``essentia`` back-end on
the real clips end to end; a model without its ``.onnx``, or with ONNX only, gets a message naming
the export command.
"""

import importlib.util
import json
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
import keras
from conftest import CLIPS, MUSICNN_GRAPH, clip_paths, relative_error, require, write_wav
from musiczoo.cli import main
from musiczoo.extractors.extract import extract
from musiczoo.extractors.graph import Graph, patch_count, predictor
from musiczoo.extractors.mel import essentia_melspectrogram
from musiczoo.zoo.frontends import MUSICNN
from musiczoo.runtime import essentia_standard
from musiczoo.zoo import export, onnx, registry
from musiczoo.zoo.convert import export_graph
from test_essentia_calls import era_entry
from test_initialisation import TINY

HAS_ONNX = all(importlib.util.find_spec(module) for module in ("tf2onnx", "onnxruntime"))
needs_onnx = pytest.mark.skipif(not HAS_ONNX, reason=f"needs tf2onnx and onnxruntime: {onnx.INSTALL}")
TOLERANCE = 1e-5  # ONNX vs the frozen graph, relative to the output's scale
NOISE_FACTOR = 3
BACKEND_TOLERANCE = 1e-3  # `--backend onnx` (TensorFlow mel) vs `essentia`: the mels agree to ~1e-4
BATCHES = (1, 7)
EFFNET = "discogs_track_embeddings-effnet"
# The widths of tests/test_export.py (EfficientNet-B0 at full size); the era CNN at its tiny filters.
ZOO = {
    "effnet": (lambda: registry.get(EFFNET), {}),
    "vggish": (lambda: registry.get("playlist_co_embeddings-vggish"), {"width": 0.125}),
    "resnet50": (lambda: registry.get("playlist_co_embeddings-resnet50"), {"width": 0.125, "blocks": (1, 1, 1, 1)}),
    "era_cnn": (era_entry, TINY["era_cnn"]),
}
PRETRAINED = ("msd-musicnn", "msd-vgg")
CASES = [*ZOO, "head", *PRETRAINED]


def cut(audio, size, hop):
    mel = essentia_melspectrogram(audio, MUSICNN)
    return np.stack([mel[i * hop : i * hop + size] for i in range(patch_count(len(mel), size, hop))])


def zoo_export(family, out_dir, clip_audio):
    """A random-init zoo model, batch norm calibrated on real patches, exported as .pb and .onnx."""
    make_entry, overrides = ZOO[family]
    entry = make_entry()
    keras.utils.set_random_seed(4)
    model = registry.build(entry, **overrides)
    frames, hop = entry["inference"]["patch_size"], entry["inference"]["patch_hop_size"]
    export.calibrate_batchnorm(model, np.concatenate([cut(audio, frames, hop) for audio in clip_audio.values()]))
    return export.export_model(model, entry, out_dir, register=False, format="both")


def head_export(out_dir):
    from musiczoo.downstream import EmbeddingClassifier, export_head
    from test_downstream import blobs

    X, y = blobs(40, dim=1280)
    classifier = EmbeddingClassifier(epochs=2, progress=False).fit(X, y)
    return export_head(classifier, out_dir, "toy-head", EFFNET, format="both")


def pretrained_export(name, out_dir):
    """A pretrained import converted the way `musiczoo export NAME --format onnx` does."""
    if importlib.util.find_spec("musicnn") is None:
        pytest.skip("needs the musicnn wheel (pip install --no-deps musicnn)")
    from musiczoo.zoo.pretrained import import_model

    return export_graph(import_model(name, out_dir, register=False))


@pytest.fixture(scope="module", params=CASES)
def exported(request, tmp_path_factory, clip_audio):
    """(family, .pb path with its .onnx and .json beside it)."""
    out_dir = tmp_path_factory.mktemp(request.param)
    with pytest.MonkeyPatch.context() as patch:  # set up before the per-test home: never the user's registry
        patch.setenv("MUSICZOO_HOME", str(out_dir / "home"))
        if request.param in ZOO:
            return request.param, zoo_export(request.param, out_dir, clip_audio)
        if request.param == "head":
            return "head", head_export(out_dir)
        return request.param, pretrained_export(request.param, out_dir)


def inputs(family, metadata, clip_audio, frames=None):
    """Real mel patches of the graph's patch length (or ``frames``), or embedding rows for a head."""
    if family == "head":
        return np.random.default_rng(0).normal(size=(9, 1280)).astype(np.float32) * 3
    frames = frames or metadata["inference"].get("patch_size") or metadata["schema"]["inputs"][0]["shape"][0]
    return np.concatenate([cut(audio, frames, 62) for audio in clip_audio.values()])


def essentia_graph(path, input_name, tensor):
    """The frozen graph as Essentia runs it (TensorflowPredict, its own TensorFlow): mel patches -> ``tensor``.

    The reference of the audio graphs: this process's TensorFlow runs oneDNN kernels (musiczoo.runtime),
    whose float32 rounding is not the one Essentia users get."""
    import essentia

    source, node = input_name.removesuffix(":0"), tensor.removesuffix(":0")  # Essentia's names: "node" or "node:1"
    predict = essentia_standard().TensorflowPredict(graphFilename=str(path), inputs=[source], outputs=[node])

    def run(patches):
        pool = essentia.Pool()
        pool.set(source, patches[:, None].astype(np.float32))  # Essentia's (batch, 1, frames, bands)
        return predict(pool)[node].reshape(len(patches), -1)

    return run


def frozen_graph(path, input_name, tensor):
    """The frozen graph itself, in TensorFlow: rows -> ``tensor`` (a head's embedding rows)."""
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef.FromString(path.read_bytes())
    imported = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
    pruned = imported.prune(imported.graph.get_tensor_by_name(input_name), imported.graph.get_tensor_by_name(tensor))
    return lambda rows: pruned(tf.constant(rows))


@needs_onnx
def test_onnx_matches_the_frozen_graph(exported, clip_audio):
    family, path = exported
    metadata = json.loads(path.with_suffix(".json").read_text())
    session = onnx.session(path.with_suffix(".onnx"))
    feed = session.get_inputs()[0].name
    assert feed == metadata["onnx"]["schema"]["inputs"][0]["name"] == f"{metadata['schema']['inputs'][0]['name']}:0"
    assert "onnx" in metadata["model_types"] and metadata["onnx"]["opset"] == onnx.OPSET
    rows = inputs(family, metadata, clip_audio)
    lengths = [rows] + ([inputs(family, metadata, clip_audio, 187)] if registry.takes_any_length(metadata) else [])
    for tf_output, onnx_output in zip(metadata["schema"]["outputs"], metadata["onnx"]["schema"]["outputs"]):
        assert onnx_output["name"] == onnx.tensor_name(tf_output["name"])
        assert onnx_output["output_purpose"] == tf_output["output_purpose"]
        assert onnx_output["shape"][0] == "batch_size"
        reference = (frozen_graph if family == "head" else essentia_graph)(path, feed, onnx_output["name"])
        for patches in lengths:  # the trained length, and another one where the graph takes any
            whole = np.asarray(reference(patches))
            singles = np.concatenate([np.asarray(reference(patches[i : i + 1])) for i in range(len(patches))])
            bound = max(TOLERANCE, NOISE_FACTOR * relative_error(singles, whole))
            for batch in (*BATCHES, len(patches)):
                got = session.run([onnx_output["name"]], {feed: patches[:batch]})[0]
                assert got.shape == whole[:batch].shape and whole.std() > 1e-3
                assert relative_error(got, whole[:batch]) <= bound, (onnx_output["name"], batch)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    """The first 10 s of every real clip, as 16 kHz wav."""
    from musiczoo.extractors.audio import load_audio

    folder = tmp_path_factory.mktemp("clips")
    for path in clip_paths():
        write_wav(folder / f"{path.stem[:24]}.wav", load_audio(path)[: 10 * 16000])
    return folder


def backends_agree(graph, clip_dir, out, node=None):
    runs = {
        backend: extract(graph, [clip_dir], out / backend, node=node, backend=backend, progress=False)
        for backend in ("essentia", "onnx")
    }
    assert (runs["onnx"].status == "ok").all() and len(runs["onnx"]) == len(clip_paths())
    errors = []
    for row in runs["essentia"].itertuples():
        reference, candidate = (np.load(out / backend / row.embeddings) for backend in runs)
        assert candidate.shape == reference.shape
        errors.append(relative_error(candidate, reference))
    assert max(errors) <= BACKEND_TOLERANCE, errors
    return runs


@needs_onnx
def test_onnx_backend_gives_the_essentia_embeddings_on_the_real_clips(clip_dir, tmp_path):
    """The official MusiCNN (converted by `musiczoo export MODEL.pb -o OUT --format both`) and a zoo EffNet (its
    full-size graph: test_onnx_matches_the_frozen_graph)."""
    require(CLIPS)
    official = tmp_path / "official"
    assert main(["export", str(require(MUSICNN_GRAPH)), "-o", str(official), "--format", "both"]) == 0
    graph = official / MUSICNN_GRAPH.name
    assert json.loads(graph.with_suffix(".json").read_text())["onnx"]["schema"]["outputs"][1]["shape"] == [
        "batch_size",
        200,
    ]
    backends_agree(graph, clip_dir, tmp_path / "musicnn", "predictions")
    effnet = export.export_random_init(EFFNET, tmp_path / "effnet", format="both", **TINY["efficientnet_b0"])
    runs = backends_agree(effnet, clip_dir, tmp_path / "effnet-run")
    dim = json.loads(effnet.with_suffix(".json").read_text())["schema"]["outputs"][1]["shape"][-1]
    assert (runs["onnx"].dim == dim).all()
    provenance = json.loads((tmp_path / "effnet-run" / "onnx" / "extract.json").read_text())
    assert provenance["backend"] == "onnx"


@needs_onnx
def test_a_model_without_its_onnx_names_the_export_command(tmp_path, capsys, clip_dir):
    graph = tmp_path / MUSICNN_GRAPH.name
    shutil.copy(require(MUSICNN_GRAPH), graph)
    with pytest.raises(FileNotFoundError, match=f"convert it with `musiczoo export {graph} --format onnx`"):
        predictor(Graph(graph), backend="onnx")
    assert main(["extract", str(graph), str(clip_dir), "-o", str(tmp_path / "out"), "--backend", "onnx"]) == 2
    assert f"musiczoo export {graph} --format onnx" in capsys.readouterr().err
    assert main(["export", str(graph)]) == 2  # --format pb: it is a frozen graph already
    assert "--format onnx (or both) converts it" in capsys.readouterr().err
    export_graph(graph)  # in place: the .onnx beside the .pb, and a JSON naming both
    assert json.loads(graph.with_suffix(".json").read_text())["model_types"] == ["frozen_model", "onnx"]
    with pytest.raises(ValueError, match="model/dense/Relu:0 is not an output of its ONNX graph"):
        predictor(Graph(graph), "model/dense/Relu", backend="onnx")


@needs_onnx
def test_an_onnx_only_export_is_registered_and_runs_on_onnx_only(tmp_path, capsys, clip_dir):
    out, untrained = tmp_path / "models", registry.random_init_name(EFFNET)
    assert main(["export", "--random-init", EFFNET, "-o", str(out), "--format", "onnx"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{untrained}.json", f"{untrained}.onnx"]
    assert registry.exports()[untrained] == str((out / f"{untrained}.onnx").resolve())
    assert json.loads((out / f"{untrained}.json").read_text())["model_types"] == ["onnx"]
    summary = extract(untrained, [clip_dir], tmp_path / "onnx", progress=False)  # its .onnx: on onnxruntime
    assert (summary.status == "ok").all() and (summary.dim == 1280).all()
    assert main(["extract", untrained, str(clip_dir), "-o", str(tmp_path / "essentia"), "--backend", "essentia"]) == 2
    assert "(an ONNX-only export): export it again with --format both" in capsys.readouterr().err
    assert main(["export", untrained, "--format", "onnx"]) == 2
    assert f"{untrained} is an ONNX-only export: there is no frozen graph" in capsys.readouterr().err
    assert main(["models", "show", untrained]) == 0
    assert f"# none: {untrained} is an ONNX-only export" in capsys.readouterr().out


@needs_onnx
def test_an_onnx_file_is_a_model_for_every_command(tmp_path, capsys, clip_dir):
    """extract, predict, benchmark, models show and export take a .onnx path and run it on onnxruntime;
    a .onnx without its JSON is one line naming the export command."""
    from musiczoo.downstream import EmbeddingClassifier, export_head
    from musiczoo.downstream.benchmark.models import resolve_model
    from test_downstream import blobs

    graph = export.export_random_init(EFFNET, tmp_path / "model", format="both", **TINY["efficientnet_b0"])
    model = str(graph.with_suffix(".onnx"))
    assert main(["extract", model, str(clip_dir), "-o", str(tmp_path / "x")]) == 0
    assert json.loads((tmp_path / "x" / "extract.json").read_text())["backend"] == "onnx"
    assert main(["models", "show", model]) == 0
    shown = capsys.readouterr().out
    assert f'graphFilename="{graph}"' in shown and f"musiczoo extract {model} audio.wav" in shown
    assert resolve_model(model, [model], 1, tmp_path / "work").embedders[0].backend == "onnx"
    assert main(["export", model, "-o", str(tmp_path / "again"), "--format", "onnx"]) == 0
    assert (tmp_path / "again" / f"{registry.random_init_name(EFFNET)}.onnx").is_file()

    dim = json.loads(graph.with_suffix(".json").read_text())["schema"]["outputs"][1]["shape"][-1]
    X, y = blobs(40, dim=dim)
    classifier = EmbeddingClassifier(epochs=2, progress=False).fit(X, y)
    head = export_head(classifier, tmp_path / "head", "toy-head", registry.random_init_name(EFFNET), format="both")
    for suffix in (".pb", ".onnx"):
        csv = tmp_path / f"predict{suffix}.csv"
        assert main(["predict", str(head.with_suffix(suffix)), str(clip_dir), "-o", str(csv)]) == 0
    on_essentia, on_onnx = (pd.read_csv(tmp_path / f"predict{suffix}.csv") for suffix in (".pb", ".onnx"))
    numbers = on_essentia.select_dtypes("number").columns
    assert len(on_onnx) == len(clip_paths()) and np.allclose(on_onnx[numbers], on_essentia[numbers], atol=1e-5)

    lonely = tmp_path / "lonely.onnx"
    shutil.copy(model, lonely)
    capsys.readouterr()
    assert main(["extract", str(lonely), str(clip_dir), "-o", str(tmp_path / "y")]) == 2
    assert capsys.readouterr().err.strip() == (
        "musiczoo extract: lonely.onnx needs its metadata lonely.json beside it: "
        "`musiczoo export RUN_DIR|MODEL.pb --format onnx` writes both"
    )


def test_missing_onnxruntime_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r'pip install "musiczoo\[onnx\]"'):
        onnx.session("model.onnx")


@needs_onnx
def test_the_benchmark_embeds_on_onnx_under_its_own_cache_key(tmp_path, clip_dir):
    from musiczoo.downstream.benchmark.models import GraphEmbedder
    from musiczoo.extractors.audio import load_audio

    graph = export.export_random_init(EFFNET, tmp_path, format="both", register=False, **TINY["efficientnet_b0"])
    audio = load_audio(next(clip_dir.iterdir()))
    essentia, on_onnx = GraphEmbedder(graph), GraphEmbedder(graph, "onnx")
    assert relative_error(on_onnx(audio), essentia(audio)) <= BACKEND_TOLERANCE
    assert on_onnx.key == f"{essentia.key}-onnx"
