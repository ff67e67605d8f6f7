"""`musiczoo train`: every shipped config trains a few steps on a tiny real-audio catalogue, exports,
and a killed run resumes to exactly the weights of an uninterrupted one."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import clip_paths
from musiczoo.cli import main
from musiczoo.extractors.audio import load_audio
from musiczoo.runtime import essentia_standard
from musiczoo.train.catalogues.schema import catalogue_frame, write_catalogue
from musiczoo.train.store import build_store
from musiczoo.zoo.run import WEIGHTS_FILE

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
# Small enough for CI: reduced widths, tiny batches, two steps of two epochs.
TINY = {
    "efficientnet_b0": {"width": 0.25, "depth": 0.34},
    "vggish": {"width": 0.0625},
    "resnet50": {"width": 0.0625, "blocks": [1, 1, 1, 1]},
    "era_cnn": {"filters": [8, 16]},
}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """48 six-second excerpts of the real clips with hand-made metadata, and their store.

    Clip i gives 6 tracks; metadata groups them so every association kind has pairs:
    release = clip, artist = clip pair, label = clip quad, playlists mix clips.
    """
    folder = tmp_path_factory.mktemp("tiny")
    write = essentia_standard().MonoWriter
    rows = []
    for clip, path in enumerate(clip_paths()[:8]):
        audio = load_audio(path)
        for part in range(6):
            target = folder / "audio" / f"c{clip}p{part}.wav"
            target.parent.mkdir(exist_ok=True)
            start = part * (len(audio) - 6 * 16000) // 6
            write(filename=str(target), sampleRate=16000, format="wav")(audio[start : start + 6 * 16000])
            rows.append(
                {
                    "track_id": f"c{clip}p{part}",
                    "path": str(target),
                    "duration": 6.0,
                    "artists": [f"artist{clip // 2}"],
                    "releases": [f"release{clip}"],
                    "labels": [f"label{clip // 4}"],
                    "playlists": [f"pl{(clip + part) % 4}", f"pl{4 + part % 3}"],
                    "tags": [f"style---s{clip % 3}", f"genre---g{part % 2}"],
                    "year": 1900 + 10 * clip,
                }
            )
    write_catalogue(catalogue_frame(rows), folder / "catalogue.parquet")
    build_store(pd.read_parquet(folder / "catalogue.parquet"), folder / "features", progress=False)
    return folder


def tiny_backbone(model):
    """The :data:`TINY` backbone settings of registry ``model``."""
    from musiczoo.zoo import registry

    return TINY[registry.get(model)["musiczoo"]["backbone"]["name"]]


def write_tiny_config(path, tiny_data, model, **settings):
    """A config at ``path``: registry ``model`` at its tiny size on ``tiny_data``, plus ``settings``."""
    import yaml

    data = {"catalogue": str(tiny_data / "catalogue.parquet"), "store": str(tiny_data / "features")}
    path.write_text(yaml.safe_dump({"model": model, **data, "backbone": tiny_backbone(model), **settings}))
    return path


def tiny_overrides(config_path):
    import yaml

    model = yaml.safe_load(config_path.read_text())["model"]
    return [
        "batch_size=4",
        "epochs=2",
        "steps_per_epoch=2",
        "validation_steps=1",
        "validation_fraction=0.3",
        f"backbone={json.dumps(tiny_backbone(model))}",
        "schedule={name: plateau, patience: 1}",
    ]


@pytest.mark.parametrize("config", TRAINED, ids=lambda path: path.stem)
def test_shipped_config_trains_and_exports(config, tiny_data, tmp_path):
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


@pytest.mark.parametrize("config", BUILT, ids=lambda path: path.stem)
def test_shipped_config_builds_its_batches_and_loss(config, tiny_data, tmp_path):
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


def test_loss_goes_down_on_a_learnable_task(tiny_data, tmp_path):
    """Track pairs (two random patches of one track) on a small EfficientNet with NT-Xent: the
    loss falls and the top-1 accuracy of the similarity matrix rises, over the first and last
    three epochs (each epoch is only 6 steps, so single epochs are noisy)."""
    from musiczoo.train.trainer import train

    config = {
        "model": "discogs_track_embeddings-effnet",
        "catalogue": str(tiny_data / "catalogue.parquet"),
        "store": str(tiny_data / "features"),
        "objectives": [{"pairs": "track", "loss": "ntxent"}],
        "backbone": {"width": 0.25, "depth": 0.34},
        "batch_size": 8,
        "epochs": 12,
        "validation_fraction": 0,
        "optimizer": {"learning_rate": 1e-3},
        "schedule": {"name": "constant"},
    }
    log = train(config, tmp_path / "run", progress=False)
    print(log[["epoch", "loss", "top1"]].to_string(index=False))
    first, last = log.iloc[:3].mean(), log.iloc[-3:].mean()
    assert last.loss < first.loss - 0.1
    assert last.top1 > first.top1 + 0.05 and last.top1 > 2 / 8  # chance is 1/8


RUN = """
import sys, musiczoo
from musiczoo.train.trainer import train
train(sys.argv[1], sys.argv[2], resume="--resume" in sys.argv, progress=False,
      overrides={"checkpoint_steps": 2})
"""


def test_killed_run_resumes_to_the_same_weights(tiny_data, tmp_path):
    """Kill mid-epoch, resume, finish: the weights equal those of a run never killed."""
    config = write_tiny_config(
        tmp_path / "config.yaml",
        tiny_data,
        "playlist_tco_embeddings-vggish",
        batch_size=4,
        epochs=3,
        steps_per_epoch=4,
        validation_fraction=0.2,
        schedule={"name": "plateau", "patience": 1},
    )
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run([sys.executable, "-c", RUN, str(config), str(whole)], check=True, timeout=600)
    process = subprocess.Popen([sys.executable, "-c", RUN, str(config), str(killed)])
    deadline = time.time() + 300
    while not list((killed / "checkpoints").glob("ckpt-0001-000002")) and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "checkpoints" / "ckpt-0003-000000").exists(), "the kill should land mid-run"
    subprocess.run([sys.executable, "-c", RUN, str(config), str(killed), "--resume"], check=True, timeout=600)
    import h5py

    def weights(run):
        with h5py.File(run / WEIGHTS_FILE) as file:
            arrays = []
            file.visititems(lambda name, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None)
            return arrays

    for a, b in zip(weights(whole), weights(killed), strict=True):
        np.testing.assert_array_equal(a, b)
    assert (
        pd.read_csv(whole / "log.csv")
        .drop(columns="seconds")
        .equals(pd.read_csv(killed / "log.csv").drop(columns="seconds"))
    )


MIRRORED = """
import sys, musiczoo
from musiczoo.train.trainer import train
train(sys.argv[1], sys.argv[2], progress=False, overrides={"distribute": "mirrored", "cpu_devices": 2})
"""


def test_mirrored_strategy_on_two_logical_cpus(tiny_data, tmp_path):
    """tf.distribute: the same loop runs replicated over 2 logical CPU devices and exports."""
    config = write_tiny_config(
        tmp_path / "config.yaml",
        tiny_data,
        "discogs_artist_embeddings-effnet",
        batch_size=8,
        epochs=2,
        steps_per_epoch=2,
        validation_fraction=0.3,
    )
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(config), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["replicas"] == 2
    log = pd.read_csv(tmp_path / "run" / "log.csv")
    assert len(log) == 2 and log.loss.notna().all() and log.val_loss.notna().all()
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "export")]) == 0


@pytest.mark.parametrize("mixing", [False, True])
def test_each_replicas_part_of_a_batch_is_that_part_of_the_whole(tiny_data, mixing):
    """A replica reads its part of the global batch alone (with mixing, the whole batch gives the partners):
    the parts, in order, are the batch itself, even where there are more parts than pairs."""
    from musiczoo.train.catalogues.schema import read_catalogue
    from musiczoo.train.pipeline import TaskData
    from musiczoo.train.store import FeatureStore

    objective = {"pairs": "artist", "loss": "cola"}
    catalogue, store = read_catalogue(tiny_data / "catalogue.parquet"), FeatureStore(tiny_data / "features")
    task = TaskData(objective, catalogue, store, 64, 10, seed=3, mixing=mixing)
    whole = task.batch(1, 0)
    assert whole["anchor"].shape == whole["positive"].shape == (10, 64, 96)
    for count in (2, 3, 12):
        parts = [task.batch(1, 0, part=(index, count)) for index in range(count)]
        for name, values in whole.items():
            np.testing.assert_array_equal(np.concatenate([part[name] for part in parts]), values)


def test_warmup_cosine_spans_the_steps_the_run_takes(tiny_data, tmp_path):
    """``steps_per_epoch`` above what the pairs give caps nothing: the schedule ends where the run ends (rate 0)."""
    from musiczoo.train.trainer import train

    config = {
        "model": "discogs_track_embeddings-effnet",
        "catalogue": str(tiny_data / "catalogue.parquet"),
        "store": str(tiny_data / "features"),
        "objectives": [{"pairs": "track", "loss": "ntxent"}],
        "backbone": TINY["efficientnet_b0"],
        "batch_size": 16,  # 48 tracks: 3 steps an epoch
        "epochs": 2,
        "steps_per_epoch": 100,
        "validation_fraction": 0,
        "schedule": {"name": "warmup_cosine", "warmup_steps": 2},
    }
    log = train(config, tmp_path / "run", progress=False)
    assert len(log) == 2 and log.learning_rate.iloc[-1] < 1e-3 * log.learning_rate.max()
