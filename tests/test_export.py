"""Round trip: Keras model -> frozen graph -> Essentia's official calls, equal to 1e-5."""

import json
import os

import numpy as np
import pytest

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
import keras
from conftest import relative_error
from musiczoo import fileio
from musiczoo.extractors.graph import patch_count
from musiczoo.extractors.mel import essentia_melspectrogram
from musiczoo.zoo.frontends import MUSICNN
from musiczoo.runtime import essentia_standard
from musiczoo.zoo import export, registry
from musiczoo.zoo.run import write_run

TOLERANCE = 1e-5
NOISE_FACTOR = 3
# Reduced widths keep the 96-band models fast; EfficientNet-B0 is exported at full size by
# default, and the full-size VGGish (289 MB graph) and ResNet50 under `-m slow`.
MODELS = [
    pytest.param(("discogs_artist_embeddings-effnet", {}), id="effnet-b0"),
    pytest.param(("playlist_co_embeddings-vggish", {"width": 0.125}), id="vggish-small"),
    pytest.param(("playlist_co_embeddings-resnet50", {"width": 0.125, "blocks": (1, 1, 1, 1)}), id="resnet50-small"),
    pytest.param(("playlist_co_embeddings-vggish", {}), id="vggish-full", marks=pytest.mark.slow),
    pytest.param(("playlist_co_embeddings-resnet50", {}), id="resnet50-full", marks=pytest.mark.slow),
]


@pytest.fixture(scope="module", params=MODELS)
def exported(request, tmp_path_factory, clip_audio):
    """(entry, Keras model, .pb path): a random-init model exported by ``export_model``.

    Batch norm is calibrated on the very patches compared (data-dependent init), so that
    activations are O(1) as in a trained model. With Keras' initial (0, 1) statistics the
    outputs of EfficientNet-B0 are ~1e-5 and any comparison at 1e-5 would be empty.
    """
    name, overrides = request.param
    keras.utils.set_random_seed(1)
    entry = registry.get(name)
    model = registry.build(entry, **overrides)
    hop = entry["inference"]["patch_hop_size"]
    patches = np.concatenate([keras_outputs(model, audio, hop)[1] for audio in clip_audio.values()])
    export.calibrate_batchnorm(model, patches)
    graph = export.export_model(model, entry, tmp_path_factory.mktemp("export"), register=False)
    return entry, model, graph


def keras_outputs(model, audio, hop):
    """Keras predictions and embeddings on the patches Essentia cuts from ``audio``."""
    mel = essentia_melspectrogram(audio, MUSICNN)
    size = model.input.shape[1]
    patches = np.stack([mel[i * hop : i * hop + size] for i in range(patch_count(len(mel), size, hop))])
    predictions, embeddings = (np.asarray(output) for output in model(patches, training=False))
    return mel, patches, predictions, embeddings


def keras_noise(model, patches, outputs):
    """How far Keras disagrees with itself when the same patches are run one by one.

    Float32 sums in another order (batch composition, fused kernels) differ by ~1e-6 after the
    backbone; a LayerNorm head on top amplifies that several times. An exported graph cannot
    agree with Keras better than Keras agrees with itself.
    """
    singles = [model(patches[i : i + 1], training=False) for i in range(len(patches))]
    return [relative_error(np.concatenate([np.asarray(s[k]) for s in singles]), outputs[k]) for k in (0, 1)]


def assert_agrees(essentia, reference, noise):
    assert essentia.shape == reference.shape
    assert relative_error(essentia, reference) <= max(TOLERANCE, NOISE_FACTOR * noise)


def official_call(entry, graph, output):
    """The call an Essentia user makes for this family, with the node names of the official models."""
    es = essentia_standard()
    inference = entry["inference"]
    if inference["algorithm"] == "TensorflowPredictEffnetDiscogs":
        return es.TensorflowPredictEffnetDiscogs(graphFilename=str(graph), output=output)
    return es.TensorflowPredictMusiCNN(
        graphFilename=str(graph),
        output=output,
        patchSize=inference["patch_size"],
        patchHopSize=inference["patch_hop_size"],
    )


def test_official_wrapper_matches_keras(exported, clip_audio):
    entry, model, graph = exported
    hop = entry["inference"]["patch_hop_size"]
    outputs = {o["output_purpose"]: o["name"] for o in entry["schema"]["outputs"]}
    for name, audio in clip_audio.items():
        _, patches, predictions, embeddings = keras_outputs(model, audio, hop)
        assert embeddings.std() > 0.01, "a degenerate model would make this comparison empty"
        noise = keras_noise(model, patches, (predictions, embeddings))
        for purpose, reference, floor in (("predictions", predictions, noise[0]), ("embeddings", embeddings, noise[1])):
            assert_agrees(official_call(entry, graph, outputs[purpose])(audio), reference, floor)


def test_generic_algorithms_match_keras(exported, clip_audio):
    """TensorflowPredict2D on the mel, and TensorflowPredict on a pool of patches."""
    entry, model, graph = exported
    es = essentia_standard()
    import essentia

    inference = entry["inference"]
    input_name = entry["schema"]["inputs"][0]["name"]
    embeddings_node = next(o["name"] for o in entry["schema"]["outputs"] if o["output_purpose"] == "embeddings")
    mel, patches, predictions, embeddings = keras_outputs(
        model, next(iter(clip_audio.values())), inference["patch_hop_size"]
    )
    noise = keras_noise(model, patches, (predictions, embeddings))[1]
    predict_2d = es.TensorflowPredict2D(
        graphFilename=str(graph),
        input=input_name,
        output=embeddings_node,
        patchSize=inference["patch_size"],
        patchHopSize=inference["patch_hop_size"],
        dimensions=96,
    )
    assert_agrees(predict_2d(mel), embeddings, noise)
    pool = essentia.Pool()
    pool.set(input_name, patches[:, None].astype(np.float32))  # Essentia's (batch, 1, frames, bands)
    result = es.TensorflowPredict(graphFilename=str(graph), inputs=[input_name], outputs=[embeddings_node])(pool)
    assert_agrees(result[embeddings_node].reshape(embeddings.shape), embeddings, noise)


def test_single_patch_and_partial_batch(tmp_path, clip_audio):
    """Dynamic batch: one patch, and a last batch smaller than batchSize, both work."""
    graph = export.export_random_init("discogs_track_embeddings-effnet", tmp_path, register=False)
    es = essentia_standard()
    audio = next(iter(clip_audio.values()))
    one_patch = audio[: 127 * 256 + 1]  # 128 frames: exactly one patch
    assert es.TensorflowPredictEffnetDiscogs(graphFilename=str(graph), output="PartitionedCall:1")(one_patch).shape == (
        1,
        1280,
    )
    batched = es.TensorflowPredictEffnetDiscogs(graphFilename=str(graph), output="PartitionedCall:1", batchSize=4)(
        audio
    )
    whole = es.TensorflowPredictEffnetDiscogs(
        graphFilename=str(graph), output="PartitionedCall:1", batchSize=-1, lastBatchMode="discard"
    )(audio)
    assert batched.shape[0] % 4 != 0 and relative_error(batched, whole) <= TOLERANCE


def test_metadata_and_node_names(tmp_path):
    graph = export.export_random_init("playlist_simclr_embeddings-vggish", tmp_path, width=0.125)
    meta = json.loads(graph.with_suffix(".json").read_text())
    assert set(registry.METADATA_FIELDS) <= set(meta)
    assert meta["inference"]["patch_size"] == 256 and meta["inference"]["patch_hop_size"] == 128
    assert meta["schema"]["outputs"][1]["shape"] == [1, 128] and meta["framework_version"]
    assert registry.exports()["playlist_simclr_embeddings-vggish-random-init"] == str(graph.resolve())
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef.FromString(graph.read_bytes())
    names = {node.name: node for node in graph_def.node}
    assert names["model/Placeholder"].op == "Placeholder"
    assert names["model/Placeholder"].attr["shape"].shape.dim[0].size == -1  # dynamic batch
    assert {"model/Identity", "model/dense/BiasAdd"} <= set(names)


def test_export_run_directory(tmp_path, clip_audio):
    """`musiczoo export RUN_DIR`: weights and run metadata land in the graph and its JSON."""
    from musiczoo.cli import main

    name, overrides = "playlist_tco_embeddings-resnet50", {"width": 0.125, "blocks": [1, 1, 1, 1]}
    keras.utils.set_random_seed(3)
    model = registry.build(name, **overrides)
    (tmp_path / "run").mkdir()
    write_run(
        tmp_path / "run",
        model,
        name,
        backbone=overrides,
        metadata={"dataset": {"name": "unit-test catalogue", "size": "3 tracks"}, "version": "2"},
    )
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "out")]) == 0
    graph = tmp_path / "out" / f"{name}.pb"
    meta = json.loads(graph.with_suffix(".json").read_text())
    assert meta["dataset"]["name"] == "unit-test catalogue" and meta["dataset"]["citation"] and meta["version"] == "2"
    audio = next(iter(clip_audio.values()))
    _, _, _, embeddings = keras_outputs(model, audio, 128)
    essentia = official_call(registry.get(name), graph, "model/dense/BiasAdd")(audio)
    assert relative_error(essentia, embeddings) <= TOLERANCE


def test_export_run_needs_a_run_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a training run: no run.json or model.weights.h5"):
        export.export_run(tmp_path)


def test_atomic_write_keeps_old_file_on_crash(tmp_path, monkeypatch):
    target = tmp_path / "model.pb"
    target.write_bytes(b"old graph")

    def crash(_):
        raise OSError("disk died mid-write")

    with monkeypatch.context() as patched, pytest.raises(OSError):
        patched.setattr(os, "fsync", crash)
        fileio.atomic_write(target, b"new graph, half written")
    assert target.read_bytes() == b"old graph"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pb"]
    fileio.atomic_write(target, b"new graph")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_bytes() == b"new graph" and target.stat().st_mode & 0o777 == 0o666 & ~umask
