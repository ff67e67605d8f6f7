"""Every family as an Essentia user runs it, from the metadata alone, and as `musiczoo models show` prints it.

The call: the wrapper of ``inference.algorithm``, ``graphFilename`` and the node of the output
whose purpose is ``embeddings`` or ``predictions``, nothing else (VGGish's fixed 256-frame input
adds ``patchSize=256``, said in its description). Its outputs equal the reference (Keras in
float64; the TF1 checkpoint for a pretrained import) on the patches the wrapper cuts at its
defaults, to 1e-5. Full-size models (``-m slow``): float32's own rounding through 50 layers
exceeds 1e-5 there (Keras in float32 is 2-3e-5 off for ResNet50), so the bound is twice Keras'.
"""

import copy
import importlib.util
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
import keras
from conftest import MUSICNN_GRAPH, relative_error, require
from musiczoo.cli import main
from musiczoo.extractors.audio import load_audio
from musiczoo.extractors.graph import patch_count
from musiczoo.extractors.mel import essentia_melspectrogram
from musiczoo.zoo.frontends import MUSICNN
from musiczoo.fileio import sha256
from musiczoo.runtime import essentia_standard
from musiczoo.zoo import export, registry
from musiczoo.zoo.families import AUDIO_WRAPPERS
from test_downstream import blobs
from test_initialisation import TINY

TOLERANCE = 1e-5
PURPOSES = ("predictions", "embeddings")
HAS_MUSICNN = importlib.util.find_spec("musicnn") is not None


def era_entry():
    """The music-era paper's Audio-CNN as a zoo model (no registry entry yet): era CNN, softmax over decades."""
    entry = copy.deepcopy(registry.get("playlist_co_embeddings-resnet50"))
    entry.update(
        name="era_decades-cnn",
        type="multi-class classifier",
        description="Audio-CNN of the music-era paper: decade classifier",
    )
    entry["musiczoo"].update(
        backbone={"name": "era_cnn", "frames": 256, "bands": 96},
        objective="multiclass",
        head={"type": "classifier", "classes": 8, "activation": "softmax"},
        pairs=[],
    )
    entry["schema"]["outputs"][0].update(name="model/Softmax", op="Softmax", shape=[1, 8])
    entry["schema"]["outputs"][1]["shape"] = [1, 64]
    return entry


# family -> (its registry entry, the one extra argument its call needs)
ZOO = {
    "effnet": (lambda: registry.get("discogs_track_embeddings-effnet"), {}),
    "vggish": (lambda: registry.get("playlist_co_embeddings-vggish"), {"patchSize": 256}),
    "resnet50": (lambda: registry.get("playlist_co_embeddings-resnet50"), {}),
    "era_cnn": (era_entry, {}),
}
PRETRAINED = ("msd-musicnn", "msd-vgg")  # both architectures of the musicnn wheel
CASES = (
    [pytest.param(("zoo", family, "tiny"), id=f"{family}-tiny") for family in ZOO]
    + [pytest.param(("zoo", family, "full"), id=f"{family}-full", marks=pytest.mark.slow) for family in ZOO]
    + [pytest.param(("pretrained", name, None), id=name) for name in PRETRAINED]
)


def cut(audio, size, hop):
    """The ``size``-frame mel patches, ``hop`` apart, that Essentia's wrappers cut from ``audio``."""
    mel = essentia_melspectrogram(audio, MUSICNN)
    return np.stack([mel[i * hop : i * hop + size] for i in range(patch_count(len(mel), size, hop))])


@dataclass
class Case:
    """An exported model, its metadata, the extra call argument, and its reference on patches."""

    name: str
    graph: Path
    extra: dict
    reference: object  # patches -> {"predictions": ..., "embeddings": ...}
    float32: object = None  # full size: the same in Keras' float32, whose error sets the bound
    metadata: dict = field(init=False)

    def __post_init__(self):
        self.metadata = json.loads(self.graph.with_suffix(".json").read_text())

    def call(self, purpose):
        """The call the metadata names, for one output purpose."""
        node = next(o["name"] for o in self.metadata["schema"]["outputs"] if o["output_purpose"] == purpose)
        wrapper = getattr(essentia_standard(), self.metadata["inference"]["algorithm"])
        return wrapper(graphFilename=str(self.graph), output=node, **self.extra)

    def tolerance(self, patches, reference):
        """1e-5, or (full size) twice the error of Keras' own float32 if that is more: purpose -> bound."""
        if self.float32 is None:
            return dict.fromkeys(PURPOSES, TOLERANCE)
        keras32 = self.float32(patches)
        return {
            purpose: max(TOLERANCE, 2 * relative_error(keras32[purpose], reference[purpose])) for purpose in PURPOSES
        }

    def patches(self, audio):
        """The mel patches the wrapper cuts from ``audio`` with its defaults (and ``extra``)."""
        family = AUDIO_WRAPPERS[self.metadata["inference"]["algorithm"]]
        return cut(audio, self.extra.get("patchSize", family.patch_size), family.patch_hop_size)


def keras_reference(model, entry, overrides, dtype="float64"):
    """Keras (float64: the exact computation) on patches of any length: the same weights, built at that length."""
    twins = {}

    def twin(frames):
        if frames not in twins:
            policy = keras.config.dtype_policy()
            keras.config.set_dtype_policy(dtype)
            try:
                twins[frames] = registry.build(entry, frames=frames, **overrides)
            finally:
                keras.config.set_dtype_policy(policy)
            twins[frames].set_weights([weights.astype(dtype) for weights in model.get_weights()])
        return twins[frames]

    def reference(patches):
        outputs = twin(patches.shape[1])(patches.astype(dtype), training=False)
        return dict(zip(PURPOSES, (np.asarray(output) for output in outputs)))

    return reference


def zoo_case(family, size, out_dir, clip_audio):
    """A random-init zoo model, batch norm calibrated on real patches of its trained length, exported."""
    make_entry, extra = ZOO[family]
    entry = make_entry()
    overrides = TINY[entry["musiczoo"]["backbone"]["name"]] if size == "tiny" else {}
    keras.utils.set_random_seed(2)
    model = registry.build(entry, **overrides)
    frames, hop = entry["inference"]["patch_size"], entry["inference"]["patch_hop_size"]
    export.calibrate_batchnorm(model, np.concatenate([cut(audio, frames, hop) for audio in clip_audio.values()]))
    graph = export.export_model(model, entry, out_dir, register=False)
    float32 = keras_reference(model, entry, overrides, "float32") if size == "full" else None
    return Case(entry["name"], graph, extra, keras_reference(model, entry, overrides), float32)


def pretrained_case(name, out_dir):
    """A pretrained import; its reference: the restored TF1 checkpoint."""
    if not HAS_MUSICNN:
        pytest.skip("needs the musicnn wheel (pip install --no-deps musicnn)")
    from musiczoo.zoo import pretrained

    graph = pretrained.import_model(name, out_dir, register=False)
    nodes = [
        next(o["name"] for o in registry.get(name)["schema"]["outputs"] if o["output_purpose"] == purpose)
        for purpose in PURPOSES
    ]

    def reference(patches):
        with pretrained.restore(name) as session:
            outputs = session.run(
                [f"{node}:0" for node in nodes], {"model/Placeholder:0": patches, "model/Placeholder_2:0": False}
            )
        return dict(zip(PURPOSES, outputs))

    return Case(name, graph, {}, reference)


@pytest.fixture(scope="module", params=CASES)
def case(request, tmp_path_factory, clip_audio):
    kind, name, size = request.param
    out_dir = tmp_path_factory.mktemp("models")
    return zoo_case(name, size, out_dir, clip_audio) if kind == "zoo" else pretrained_case(name, out_dir)


def test_the_metadata_call_matches_the_reference(case, clip_audio):
    extra = ", ".join(f"{key}={value}" for key, value in case.extra.items())
    assert ("patchSize" in case.metadata["description"]) == bool(extra) and extra in case.metadata["description"]
    calls = {purpose: case.call(purpose) for purpose in PURPOSES}
    for audio in clip_audio.values():
        patches = case.patches(audio)
        reference = case.reference(patches)
        tolerance = case.tolerance(patches, reference)
        for purpose, call in calls.items():
            result = call(audio)
            assert result.shape == reference[purpose].shape and reference[purpose].std() > 0.01
            assert relative_error(result, reference[purpose]) <= tolerance[purpose], purpose


def printed(args, capsys):
    """``musiczoo models show``'s Essentia snippet and musiczoo commands, as printed."""
    assert main(["models", "show", *args]) == 0
    text = capsys.readouterr().out
    python = text.split("# Essentia\n", 1)[1].split("\n\n# musiczoo\n", 1)[0]
    return python, text.split("# musiczoo\n", 1)[1].strip().splitlines()


def write_audio_wav(folder, audio):
    """``audio.wav`` (the file the snippets read) in ``folder``; returns it as loaded back."""
    essentia_standard().MonoWriter(filename=str(folder / "audio.wav"), sampleRate=16000, format="wav")(audio)
    return load_audio(folder / "audio.wav")


def test_the_printed_snippet_runs_as_printed(case, clip_audio, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    audio = write_audio_wav(tmp_path, next(iter(clip_audio.values())))
    registry.register_export(case.name, case.graph)
    python, commands = printed([case.name], capsys)
    assert f'graphFilename="{case.graph.resolve()}"' in python
    namespace = {}
    exec(python, namespace)
    np.testing.assert_array_equal(namespace["embeddings"], case.call("embeddings")(audio))
    for command in commands:
        assert main(shlex.split(command)[1:]) == 0, command
    assert np.load(tmp_path / "embeddings" / "audio.wav.npy").shape[1] == namespace["embeddings"].shape[1]


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A head fitted on 200-d embeddings, exported on the real Essentia MusiCNN graph; and its classifier."""
    from musiczoo.downstream import EmbeddingClassifier, export_head

    X, y = blobs(30, dim=200)
    classifier = EmbeddingClassifier(epochs=2, progress=False).fit(X, y)
    path = export_head(
        classifier, tmp_path_factory.mktemp("heads"), "toy-genre_dortmund-musicnn-msd", str(require(MUSICNN_GRAPH))
    )
    return path, classifier


def test_a_head_is_called_as_written_after_its_embedding_model(head, clip_audio, tmp_path, monkeypatch, capsys):
    """Its JSON records the embedding graph (path, SHA-256); the call and the printed snippet match Keras."""
    path, classifier = head
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["inference"]["embedding_model"] == {
        "algorithm": "TensorflowPredictMusiCNN",
        "model_name": "genre_dortmund-musicnn-msd",
        "link": "https://essentia.upf.edu/models/classifiers/genre_dortmund/genre_dortmund-musicnn-msd-2.pb",
        "graph": str(MUSICNN_GRAPH.resolve()),
        "sha256": sha256(MUSICNN_GRAPH),
    }
    es = essentia_standard()
    embed = es.TensorflowPredictMusiCNN(graphFilename=str(MUSICNN_GRAPH), output="model/dense/BiasAdd")
    call = es.TensorflowPredict2D(graphFilename=str(path), output="model/Softmax")
    for audio in clip_audio.values():
        embeddings = embed(audio)
        reference = np.asarray(classifier.head_model()(embeddings)[0])
        predictions = call(embeddings)
        assert predictions.shape == reference.shape == (len(embeddings), 3)
        assert relative_error(predictions, reference) <= TOLERANCE

    monkeypatch.chdir(tmp_path)
    audio = write_audio_wav(tmp_path, next(iter(clip_audio.values())))
    python, commands = printed([str(path)], capsys)
    assert python.index(str(MUSICNN_GRAPH.resolve())) < python.index(str(path))  # the embedding model first
    namespace = {}
    exec(python, namespace)
    np.testing.assert_array_equal(namespace["predictions"], call(embed(audio)))
    assert commands == [f"musiczoo predict {path} audio.wav"]
    assert main(shlex.split(commands[0])[1:]) == 0
    assert "audio.wav\t" in capsys.readouterr().out
