"""benchmarks/gpu_check.py: its CPU smoke mode runs every stage; CPU rows are measured, GPU-only variants are not."""

import csv
import importlib.util
import math
from pathlib import Path

from conftest import CLIPS, require

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
RATES = {"s", "patches/s", "GFLOP/s"}  # timings and rates: finite and positive
SCORES = {"accuracy", "roc_auc", "triplet", "top-1"}  # in [0, 1]


def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_smoke(tmp_path):
    require(CLIPS)
    out = tmp_path / "gpu_check.csv"
    returned = gpu_check().main(["--smoke", "--out", str(out), "--work", str(tmp_path / "work")])
    with open(out, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["stage"] for row in rows] == [row["stage"] for row in returned]
    assert {row["stage"] for row in rows} == {"features", "device", "speed", "train", "benchmark", "total"}
    assert not [row for row in rows if row["note"].startswith("failed")]
    on_gpu = not next(row for row in rows if row["stage"] == "device")["variant"].startswith("CPU")
    for row in rows:
        if row["note"].startswith("not measured"):
            assert row["value"] == "" and not on_gpu, row
            assert row["stage"] == "speed" and ("mixed" in row["variant"] or "xla" in row["variant"]), row
            assert "no GPU" in row["note"], row
            continue
        value = float(row["value"])
        assert math.isfinite(value), row
        assert value > 0 if row["unit"] in RATES else 0 <= value <= 1 and row["unit"] in SCORES, row
    speed = {row["variant"]: row for row in rows if row["stage"] == "speed"}
    for backbone in ("effnet-b0", "vggish", "resnet50"):
        assert speed[f"{backbone} float32"]["unit"] == "patches/s"
        for variant in ("mixed_float16", "xla", "mixed_float16+xla"):
            assert speed[f"{backbone} {variant}"]["note"].startswith("not measured") != on_gpu
    assert {"catalogue", "store"} <= {row["variant"] for row in rows if row["stage"] == "features"}
    assert any(row["variant"].startswith("recipe_asap") and row["unit"] == "top-1" for row in rows)
    models = {row["variant"].split()[0] for row in rows if row["stage"] == "benchmark" and row["variant"] != "wall"}
    assert models == {"scratch", "mel-stats"}


def test_tiny_tasks_and_unavailable(tmp_path):
    """Where gamemusic is absent the smoke scores on its own corpus; no GPU leaves mixed precision and XLA out."""
    require(CLIPS)
    module = gpu_check()
    assert module.unavailable("float32", None) is None
    assert module.unavailable("mixed_float16+xla", "H100") is None
    assert "mixed float16" in module.unavailable("mixed_float16+xla", None)
    assert "XLA" in module.unavailable("xla", None)
    from musiczoo.downstream.benchmark.tasks import read_tasks
    from musiczoo.train.catalogues.folder import build_folder

    audio, metadata = module.smoke_audio(tmp_path / "clips")
    build_folder(audio, tmp_path / "corpus", metadata=metadata)
    taskset = read_tasks(str(module.tiny_tasks(tmp_path / "corpus" / "catalogue.parquet", tmp_path / "tasks")))
    assert len(taskset.catalogue) == len(list(CLIPS.glob("*.ogg")))
    for task in taskset.tasks:
        task.check(task.labels(taskset.catalogue))
