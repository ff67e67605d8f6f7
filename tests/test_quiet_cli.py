"""No `musiczoo` command prints TensorFlow's native log lines (either library's) unless `-v`; tiny inputs."""

import os
import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from test_benchmark import tagged_tracks  # noqa: F401  (a fixture: 16 tone/noise tracks, catalogue, tasks.yaml)
from test_downstream_cli import write_labels
from test_runtime import NATIVE_LINE

# absl/glog lines of Python's TensorFlow, Essentia's TensorFlow 2.5 ("2026-01-01 00:00:00.000000: E tensorflow/..."),
# and their markers wherever they stand in a line
NATIVE = re.compile(
    NATIVE_LINE.pattern
    + r"|^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |\w+\.cc:\d+\]|oneDNN custom operations|cuInit"
)
MODEL = "music_era_ce-cnn"  # the era CNN: the smallest registry graph
# the demo's downstream step: Keras fits arrays in a process whose training enabled op determinism
AFTER_TRAINING = (
    "import sys; from musiczoo.cli import main; from musiczoo.runtime import quiet_tensorflow_start;"
    "'-v' in sys.argv or quiet_tensorflow_start(); import tensorflow as tf;"
    "tf.config.experimental.enable_op_determinism(); sys.exit(main(sys.argv[1:]))"
)


def musiczoo(*args, cwd, entry=("-m", "musiczoo.cli")):
    """Run a command in a fresh process, as from a terminal (home: ``cwd/home``); its output lines, once it succeeded.

    Without ``TF_CPP_MIN_LOG_LEVEL``, which an earlier test's in-process ``main`` may have set here.
    """
    command = [sys.executable, *entry, *map(str, args)]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"} | {"MUSICZOO_HOME": str(cwd / "home")}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return (result.stdout + result.stderr).splitlines()


def native(lines):
    return [line for line in lines if NATIVE.search(line)]


@pytest.fixture(scope="module")
def zoo(tagged_tracks):  # noqa: F811
    """The tracks' folder with a random-init export, its embeddings, labels and a one-task benchmark; the output of
    ``export`` and ``extract``."""
    folder = tagged_tracks
    catalogue = pd.read_csv(folder / "catalogue.csv")
    output = {"export": musiczoo("export", "--random-init", MODEL, "-o", "models", cwd=folder)}
    output["extract"] = musiczoo("extract", f"models/{MODEL}-random-init.pb", *catalogue.path, "-o", "emb", cwd=folder)
    write_labels(folder / "labels.csv", [p[:-4] for p in catalogue.path], [[a] for a in catalogue.artist])
    task = {"kind": "classification", "label": "artist", "test_size": 0.5}
    (folder / "artist.yaml").write_text(yaml.safe_dump({"catalogue": "catalogue.csv", "tasks": {"artist": task}}))
    return folder, output


@pytest.mark.parametrize("command", ["export", "extract"])
def test_export_and_extract_are_quiet(zoo, command):
    assert native(zoo[1][command]) == []


def test_downstream_predict_and_benchmark_are_quiet(zoo):
    folder, _ = zoo
    fit = ["downstream", "fit", "--embeddings", "emb/summary.csv", "--train", "labels.csv", "--epochs", "2"]
    lines = musiczoo(*fit, "-o", "run", cwd=folder, entry=("-c", AFTER_TRAINING))
    lines += musiczoo("downstream", "export", "run", "-o", "heads", cwd=folder)
    head = f"heads/run-{MODEL}-random-init.pb"
    lines += musiczoo("predict", head, "low-0.wav", "noise-0.wav", cwd=folder)
    benchmark = ["benchmark", f"era=models/{MODEL}-random-init.pb", "--tasks", "artist.yaml", "-o", "bench"]
    lines += musiczoo(*benchmark, "--seeds", "1", "--epochs", "2", "--no-progress", cwd=folder)
    assert native(lines) == []


def test_verbose_shows_them(zoo):
    """`-v` keeps every line, the demo's tf.data error too (which shows that this test sees such lines)."""
    folder, _ = zoo
    fit = ["-v", "downstream", "fit", "--embeddings", "emb/summary.csv", "--train", "labels.csv", "--epochs", "2"]
    lines = native(musiczoo(*fit, "-o", "run-verbose", cwd=folder, entry=("-c", AFTER_TRAINING)))
    assert any("oneDNN custom operations" in line for line in lines), lines
    assert any("use_unbounded_threadpool" in line for line in lines), lines
