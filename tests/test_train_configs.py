"""Every shipped config trains a few steps on the tiny real-audio catalogue of tests/test_train.py and exports."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from musiczoo.cli import main
from test_train import tiny_data, tiny_overrides  # noqa: F401  (tiny_data: the real-audio catalogue fixture)

# AudioArt-MMC takes artist text besides audio (no Essentia graph): tests/test_era.py trains it; the paper front-end's
# config, tests/test_era_frontend.py (these overrides would make it a second era_cnn).
ELSEWHERE = ("era_mmc", "era_cnn_paper")
CONFIGS = sorted(p for p in (Path(__file__).resolve().parents[1] / "configs").glob("*.yaml") if p.stem not in ELSEWHERE)


def config_kind(path):
    """What a full run of a config exercises beyond its pair stream: backbone, head, losses, SWA and mixing."""
    from musiczoo.train.config import load_config
    from musiczoo.zoo import registry

    config = load_config(path)
    spec = registry.get(config["model"])["musiczoo"]
    losses = tuple(objective["loss"] for objective in config["objectives"])
    return spec["backbone"]["name"], spec["head"]["type"], losses, bool(config["swa"]), config["mixing"]


# The first config of each kind trains and exports in full; the others, which differ from it in their pairs (or
# their model's name) only, build their batches and loss.
KINDS = {}
for _path in CONFIGS:
    KINDS.setdefault(config_kind(_path), []).append(_path)
TRAINED = [paths[0] for paths in KINDS.values()]
BUILT = [path for paths in KINDS.values() for path in paths[1:]]


@pytest.mark.parametrize("config", TRAINED, ids=lambda path: path.stem)
def test_shipped_config_trains_and_exports(config, tiny_data, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    overrides = [item for o in tiny_overrides(config) for item in ("--set", o)]
    data = ["--catalogue", str(tiny_data / "catalogue.parquet"), "--store", str(tiny_data / "features")]
    assert main(["train", str(config), "-o", str(run), *data, *overrides, "--no-progress"]) == 0
    log = pd.read_csv(run / "log.csv")
    assert list(log.epoch) == [1, 2] and log.loss.notna().all() and log.val_loss.notna().all()
    assert (run / "curves.png").stat().st_size > 1000 and any((run / "tensorboard").iterdir())
    assert main(["export", str(run), "-o", str(tmp_path / "export")]) == 0
    meta = json.loads(next((tmp_path / "export").glob("*.json")).read_text())
    assert meta["dataset"]["metrics"]["val_loss"] == round(log.val_loss.iloc[-1], 4)
    assert meta["dataset"]["size"].endswith("training tracks")
    training = meta["dataset"]["training"]
    assert training["catalogue"] == str(tiny_data / "catalogue.parquet") and training["steps"] == 4
    assert 0 < training["hours"] <= 48 * 6 / 3600 and training["objectives"][0]["loss"] and training["seed"] == 0


@pytest.mark.parametrize("config", BUILT, ids=lambda path: path.stem)
def test_shipped_config_builds_its_batches_and_loss(config, tiny_data, tmp_path):  # noqa: F811
    """A config of a kind trained above: its pairs give batches on the tiny data, and its loss a finite value."""
    from musiczoo.config import parse_overrides
    from musiczoo.train.config import load_config
    from musiczoo.train.trainer import Trainer

    data = {"catalogue": str(tiny_data / "catalogue.parquet"), "store": str(tiny_data / "features")}
    trainer = Trainer(load_config(config, parse_overrides(tiny_overrides(config)) | data), tmp_path / "run")
    loss, top1 = trainer.objectives(trainer.batches(0, 0), training=False)
    assert np.isfinite(float(loss)) and 0 <= float(top1) <= 1


def test_every_shipped_config_is_trained_or_built():
    assert sorted(TRAINED + BUILT) == CONFIGS and len(TRAINED) < len(CONFIGS)
