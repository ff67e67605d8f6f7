"""`musiczoo train` on a tiny real-audio catalogue: learning, resuming, tf.distribute, schedules, warm starts
(tests/test_train_configs.py: every shipped config)."""

import json
import signal
import subprocess
import sys
import time

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


# Small enough for CI: reduced widths, tiny batches, two steps of two epochs.
TINY = {
    "efficientnet_b0": {"width": 0.25, "depth": 0.34},
    "vggish": {"width": 0.0625},
    "resnet50": {"width": 0.0625, "blocks": [1, 1, 1, 1]},
    "era_cnn": {"filters": [8, 16]},
    "musicnn": {},  # its size is the checkpoint's
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
        "precise_bn=16",
        f"backbone={json.dumps(tiny_backbone(model))}",
        "schedule={name: plateau, patience: 1}",
    ]


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


@pytest.fixture(scope="module")
def cosine_run(tiny_data, tmp_path_factory):
    """A tiny track-pair run on a warm-up cosine schedule, 2 epochs of 3 steps: ``(run folder, log)``."""
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
    run = tmp_path_factory.mktemp("cosine") / "run"
    return run, train(config, run, progress=False)


def test_warmup_cosine_spans_the_steps_the_run_takes(cosine_run):
    """``steps_per_epoch`` above what the pairs give caps nothing: the schedule ends where the run ends (rate 0)."""
    _, log = cosine_run
    assert len(log) == 2 and log.learning_rate.iloc[-1] < 1e-3 * log.learning_rate.max()


def test_init_starts_the_encoder_from_another_runs_weights(cosine_run, tiny_data, tmp_path):
    """``init: RUN``: a multi-task model starts with the track run's encoder, its heads fresh; another backbone
    size is refused, naming the layer."""
    from musiczoo.train.config import resolve
    from musiczoo.train.trainer import Trainer
    from musiczoo.zoo.heads import is_head
    from musiczoo.zoo.run import load_run

    run, _ = cosine_run
    trained = {layer.name: layer.get_weights() for layer in load_run(run).model.layers}
    data = {"catalogue": str(tiny_data / "catalogue.parquet"), "store": str(tiny_data / "features"), "batch_size": 4}
    config = {"model": "discogs_multi_embeddings-effnet", **data, "backbone": TINY["efficientnet_b0"]}
    warm, cold = (Trainer(resolve(config | init), tmp_path / "multi").model for init in ({"init": str(run)}, {}))
    encoder = [layer for layer in warm.layers if layer.weights and not is_head(layer)]
    assert (
        len(encoder) > 50 and len([layer for layer in warm.layers if is_head(layer)]) == 5
    )  # 4 heads and their concatenation
    for layer in encoder:
        for weight, reference in zip(layer.get_weights(), trained[layer.name], strict=True):
            np.testing.assert_array_equal(weight, reference)
    assert not np.array_equal(cold.get_layer("stem_conv").get_weights()[0], trained["stem_conv"][0])
    wider = config | {"backbone": {**TINY["efficientnet_b0"], "width": 0.5}, "init": str(run)}
    with pytest.raises(ValueError, match=r"no layer stem_conv of shapes \[\(3, 3, 1, 16\)\]"):
        Trainer(resolve(wider), tmp_path / "wider")


def test_distill_regresses_the_teachers_output_on_the_same_patch(tiny_data, tmp_path):
    """The ``distill`` objective: the teacher (Essentia's MusiCNN graph) runs once per grid point of each track,
    cached beside the store; a batch's target is the teacher's output on the patch centred where the student's
    patch is; a second run computes nothing; the loss trains."""
    from conftest import MUSICNN_GRAPH, require
    from musiczoo.extractors.graph import Graph, graph_function
    from musiczoo.train.catalogues.schema import read_catalogue
    from musiczoo.train.pipeline import TaskData
    from musiczoo.train.store import FeatureStore
    from musiczoo.train.trainer import train

    teacher = str(require(MUSICNN_GRAPH))
    store = FeatureStore(tiny_data / "features")
    objective = {"loss": "distill", "teacher": teacher, "output": "embeddings", "hop": 64, "pairs": None}
    config = {"store": str(tiny_data / "features")}
    task = TaskData(objective, read_catalogue(tiny_data / "catalogue.parquet"), store, 128, 8, 0, config=config)
    cache = next((tiny_data / "features" / "teachers").iterdir())
    assert len(list(cache.glob("*.npy"))) == len(store)
    batch = task.batch(0, 0)
    assert batch["anchor"].shape == (8, 128, 96) and batch["teacher"].shape == (8, 200)
    # the target of the first anchor: the teacher on the 187-frame patch around the patch's centre, standardised
    track, mel = task._pairs(0)[0, 0], store.mel(task._pairs(0)[0, 0])
    offset = next(o for o in range(len(mel) - 127) if np.array_equal(mel[o : o + 128], batch["anchor"][0]))
    centre = 64 * round((offset + 64) / 64)
    start = min(max(centre - 93, 0), store.frames(track) - 187)
    direct = np.asarray(graph_function(Graph(teacher), "embeddings")(store.mel(track)[None, start : start + 187]))[0]
    grids = np.concatenate([np.load(path) for path in sorted(cache.glob("*.npy"))]).astype(np.float32)
    standardised = (direct - grids.mean(axis=0)) / (grids.std(axis=0) + 1e-6)
    np.testing.assert_allclose(batch["teacher"][0], standardised, atol=0.02 * np.abs(standardised).max())

    before = {path: path.stat().st_mtime_ns for path in cache.glob("*.npy")}
    log = train(
        {
            "model": "discogs_track_embeddings-effnet",
            **config,
            "catalogue": str(tiny_data / "catalogue.parquet"),
            "objectives": [objective | {"pairs": None}],
            "backbone": TINY["efficientnet_b0"],
            "batch_size": 8,
            "epochs": 1,
            "steps_per_epoch": 3,
            "validation_fraction": 0.2,
        },
        tmp_path / "run",
        progress=False,
    )
    assert log.loss.notna().all() and log.val_loss.notna().all()
    assert {path: path.stat().st_mtime_ns for path in cache.glob("*.npy")} == before
