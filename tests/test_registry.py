"""models.json: every entry is sound, builds, and matches the shapes it declares."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import registry_kinds

import musiczoo  # noqa: F401
import keras
from musiczoo.cli import main
from musiczoo.zoo import registry
from musiczoo.zoo.backbones import BACKBONES, any_length


def test_every_entry_validates():
    entries = json.loads(registry.registry_path().read_text())
    assert len({e["name"] for e in entries}) == len(entries) >= 16
    for entry in entries:
        assert registry.validate(entry) == [], entry["name"]


def test_validation_catches_broken_entries():
    entry = json.loads(json.dumps(registry.get("discogs_artist_embeddings-effnet")))
    entry["inference"]["algorithm"] = "TensorflowPredictMusiCNN"
    entry["schema"]["outputs"][1]["name"] = "embeddings"
    entry["schema"]["inputs"][0]["shape"] = [187, 96]  # neither any length nor the trained 128 frames
    del entry["citation"]
    problems = registry.validate(entry)
    assert len(problems) == 4 and any("citation" in p for p in problems) and any("input shape" in p for p in problems)


@pytest.mark.parametrize("name", registry_kinds())
def test_declared_shapes_match_the_built_model(name):
    """Full-size models: input (patch or any length, 96), embedding and prediction sizes as declared.

    An input declared ``[null, 96]`` really takes any length (global pooling); VGGish's flatten does not.
    """
    entry = registry.get(name)
    model = registry.build(entry)
    declared = {o["output_purpose"]: o["shape"][-1] for o in entry["schema"]["outputs"]}
    patch = np.zeros((1, 187, 96), "float32")  # TensorflowPredictMusiCNN's default patch
    if registry.takes_any_length(entry):
        model = any_length(model)
        assert [tuple(o.shape[1:]) for o in model(patch)] == [tuple(o.shape[1:]) for o in model.outputs]
    elif entry["musiczoo"]["backbone"]["name"] == "vggish":  # the flatten fixes the length
        with pytest.raises(ValueError, match="fc1_1"):
            any_length(model)(patch)
    assert tuple(model.input.shape[1:]) == tuple(entry["schema"]["inputs"][0]["shape"])
    assert [o.shape[-1] for o in model.outputs] == [declared["predictions"], declared["embeddings"]]


@pytest.mark.parametrize("name", list(BACKBONES))
def test_backbones_take_raw_log_mels(name):
    """Rank-3 input, no Rescaling/Normalization layer anywhere, output scales with the input."""
    kwargs = {
        "efficientnet_b0": {},
        "vggish": {"width": 0.125},
        "resnet50": {"width": 0.125, "blocks": (1, 1, 1, 1)},
        "era_cnn": {"filters": (8, 16)},
        "musicnn": {},
    }[name]
    model = BACKBONES[name](**kwargs)
    assert len(model.input.shape) == 3
    hidden = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization))
    ]
    assert hidden == []
    x = np.random.default_rng(0).gamma(2.0, 0.5, size=(2, *model.input.shape[1:])).astype("float32")
    assert not np.allclose(model(x), model(x * 2.0), rtol=1e-3, atol=0)


def test_models_cli(capsys):
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == len(registry.entries()) and "efficientnet_b0" in listing[0]
    assert main(["models", "show", "playlist_w2v_embeddings-resnet50"]) == 0
    entry, usage = capsys.readouterr().out.split("\n\n", 1)
    shown = json.loads(entry)
    assert shown["musiczoo"]["backbone"]["name"] == "resnet50" and shown["exported"] is None
    assert "musiczoo export --random-init playlist_w2v_embeddings-resnet50" in usage
    assert (
        'TensorflowPredictMusiCNN(graphFilename="playlist_w2v_embeddings-resnet50.pb", '
        'output="model/dense/BiasAdd")' in usage
    )
    assert main(["models", "show", "nope"]) == 2


IMPORT_ORDERS = [
    "import tensorflow, keras; import musiczoo.extractors.extract, musiczoo.zoo.export",
    "import musiczoo.zoo.export; import essentia.standard as es; es.MonoLoader",
    "import keras; from musiczoo.runtime import essentia_standard; essentia_standard().TensorflowPredict2D()",
]


@pytest.mark.parametrize("code", IMPORT_ORDERS)
def test_import_order_never_aborts(code):
    """TensorFlow before Essentia aborts the process unless musiczoo.runtime loads Essentia."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
