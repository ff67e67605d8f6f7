"""models.json: every entry is sound, builds, and matches the shapes it declares."""
import json
import subprocess
import sys

import numpy as np
import pytest

import musiczoo  # noqa: F401
import keras
from musiczoo.cli import main
from musiczoo.zoo import registry
from musiczoo.zoo.backbones import BACKBONES


def test_every_entry_validates():
    entries = json.loads(registry.registry_path().read_text())
    assert len({e["name"] for e in entries}) == len(entries) >= 16
    for entry in entries:
        assert registry.validate(entry) == [], entry["name"]


def test_validation_catches_broken_entries():
    entry = json.loads(json.dumps(registry.get("discogs_artist_embeddings-effnet")))
    entry["inference"]["algorithm"] = "TensorflowPredictMusiCNN"
    entry["schema"]["outputs"][1]["name"] = "embeddings"
    del entry["citation"]
    problems = registry.validate(entry)
    assert len(problems) == 3 and any("citation" in p for p in problems)


def _kinds():
    """One registry entry per distinct (backbone, head, task count)."""
    kinds = {}
    for name, entry in registry.models().items():
        spec = entry["musiczoo"]
        kinds.setdefault((spec["backbone"]["name"], spec["head"]["type"], len(registry.tasks(entry))), name)
    return sorted(kinds.values())


@pytest.mark.parametrize("name", _kinds())
def test_declared_shapes_match_the_built_model(name):
    """Full-size models: input (patch, 96), embedding and prediction sizes as declared."""
    entry = registry.get(name)
    model = registry.build(entry)
    declared = {o["output_purpose"]: o["shape"][-1] for o in entry["schema"]["outputs"]}
    assert tuple(model.input.shape[1:]) == tuple(entry["schema"]["inputs"][0]["shape"])
    assert [o.shape[-1] for o in model.outputs] == [declared["predictions"], declared["embeddings"]]


@pytest.mark.parametrize("name", list(BACKBONES))
def test_backbones_take_raw_log_mels(name):
    """Rank-3 input, no Rescaling/Normalization layer anywhere, output scales with the input."""
    kwargs = {"efficientnet_b0": {}, "vggish": {"width": 0.125}, "resnet50": {"width": 0.125, "blocks": (1, 1, 1, 1)},
              "era_cnn": {"filters": (8, 16)}}[name]
    model = BACKBONES[name](**kwargs)
    assert len(model.input.shape) == 3
    hidden = [l for l in model._flatten_layers() if isinstance(l, (keras.layers.Rescaling, keras.layers.Normalization))]
    assert hidden == []
    x = np.random.default_rng(0).gamma(2.0, 0.5, size=(2, *model.input.shape[1:])).astype("float32")
    assert not np.allclose(model(x), model(x * 2.0), rtol=1e-3, atol=0)


def test_models_cli(capsys):
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == len(registry.entries()) and "efficientnet_b0" in listing[0]
    assert main(["models", "show", "playlist_w2v_embeddings-resnet50"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["musiczoo"]["backbone"]["name"] == "resnet50" and shown["exported"] is None
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
