"""Two `musiczoo train --workers` processes on loopback train as one process of two replicas: the chief
alone writes the run, and a cluster that loses a worker resumes from the chief's checkpoints."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pandas as pd
import pytest

from conftest import relative_error
from musiczoo.train.distribute import cluster_config
from musiczoo.zoo.run import RUN_FILE, WEIGHTS_FILE
from test_train import tiny_data, write_tiny_config  # noqa: F401  (tiny_data: the session's real-audio catalogue)

EPOCHS = 2
MUSICZOO = "import sys; from musiczoo.cli import main; sys.exit(main(sys.argv[1:]))"
TIMEOUT = 600  # seconds a process may take on a loaded 2-core machine: a hung collective fails, never blocks


def test_cluster_config_names_the_workers_and_this_one():
    assert json.loads(cluster_config(["a:1", "b:2"], 1)) == {
        "cluster": {"worker": ["a:1", "b:2"]},
        "task": {"type": "worker", "index": 1},
    }
    with pytest.raises(ValueError, match="index 2"):
        cluster_config(["a:1", "b:2"], 2)


@pytest.fixture(scope="module")
def config(tiny_data, tmp_path_factory):  # noqa: F811
    """A tiny VGGish COLA run: a global batch of 4 pairs (2 per worker), checkpoints every step."""
    return write_tiny_config(
        tmp_path_factory.mktemp("multi_worker") / "config.yaml",
        tiny_data,
        "playlist_tco_embeddings-vggish",
        batch_size=4,
        epochs=EPOCHS,
        steps_per_epoch=3,
        validation_steps=1,
        validation_fraction=0.2,
        checkpoint_steps=1,
        schedule={"name": "plateau", "patience": 1},
    )


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def environment():
    env = os.environ | {"CUDA_VISIBLE_DEVICES": "", "MUSICZOO_DEBUG": "1"}
    env.pop("TF_CONFIG", None)
    return env


def musiczoo_train(config, run, *options, log):
    """A `musiczoo train` process (its own process group) writing its output to ``log``."""
    command = [sys.executable, "-c", MUSICZOO, "train", str(config), "-o", str(run), "--no-progress", *options]
    with open(log, "w") as output:
        return subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=environment(), start_new_session=True
        )


def start_cluster(config, runs, logs, *options):
    """Two workers on loopback: worker ``i`` trains into ``runs[i]``."""
    workers = ",".join(f"127.0.0.1:{port}" for port in free_ports(2))
    return [
        musiczoo_train(config, run, "--workers", workers, "--index", str(index), *options, log=log)
        for index, (run, log) in enumerate(zip(runs, logs))
    ]


def kill(processes):
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)


def finish(processes, logs):
    """Wait for every process (all killed if one fails or the time runs out); each must exit 0."""
    deadline = time.time() + TIMEOUT
    try:
        while any(p.poll() is None for p in processes) and time.time() < deadline:
            if any(p.poll() not in (None, 0) for p in processes):
                break  # a failed worker leaves its peers waiting in a collective op
            time.sleep(0.5)
    finally:
        kill(processes)
    failed = [
        f"{log} (exit {p.returncode}):\n{log.read_text()[-3000:]}" for p, log in zip(processes, logs) if p.returncode
    ]
    assert not failed, "\n".join(failed)


def weights(run):
    with h5py.File(run / WEIGHTS_FILE) as file:
        arrays = []
        file.visititems(lambda name, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None)
        return arrays


@pytest.fixture(scope="module")
def cluster_run(config):
    """The uninterrupted two-worker run: the chief's folder and the other worker's."""
    folder = config.parent
    runs, logs = [folder / "chief", folder / "worker1"], [folder / "chief.log", folder / "worker1.log"]
    finish(start_cluster(config, runs, logs), logs)
    return runs


@pytest.mark.slow
def test_only_the_chief_writes_the_run(cluster_run):
    chief, worker = cluster_run
    assert sorted(p.name for p in chief.iterdir()) == sorted(
        ["checkpoints", "config.yaml", "curves.png", "log.csv", "tensorboard", RUN_FILE, WEIGHTS_FILE]
    )
    assert not worker.exists()
    record = json.loads((chief / RUN_FILE).read_text())
    assert record["epochs"] == EPOCHS and record["replicas"] == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "strategy, tolerance",
    [
        # Measured 5.0e-5 at most (most arrays ~1e-6): the sums run in another order, and Adam divides
        # near-zero gradients by their own size. (VGGish has no batch norm, the negatives are global.)
        (["distribute=none"], 1e-4),
        # Measured 0: the same replicas on the same parts of every step's batch.
        (["distribute=mirrored", "cpu_devices=2"], 0),
    ],
    ids=["one device", "two replicas"],
)
def test_two_workers_train_as_one_process_on_the_global_batch(config, cluster_run, tmp_path, strategy, tolerance):
    """The weights and log equal those of one process on the same global batches: on one device, or on
    two replicas (MirroredStrategy on two logical CPUs) fed the same parts of each batch as the two workers."""
    reference, logs = tmp_path / "reference", [tmp_path / "reference.log"]
    finish([musiczoo_train(config, reference, *(f"--set={o}" for o in strategy), log=logs[0])], logs)
    errors = [relative_error(a, b) for a, b in zip(weights(cluster_run[0]), weights(reference), strict=True)]
    print(f"relative weight differences, largest first: {sorted(errors, reverse=True)[:5]}")
    assert max(errors) <= tolerance
    columns = ["epoch", "loss", "top1", "val_loss", "val_top1", "learning_rate"]
    np.testing.assert_allclose(
        pd.read_csv(cluster_run[0] / "log.csv")[columns], pd.read_csv(reference / "log.csv")[columns], rtol=1e-4
    )


@pytest.mark.slow
def test_a_cluster_that_lost_a_worker_resumes_from_the_chiefs_checkpoint(config, cluster_run, tmp_path):
    """SIGKILL worker 1 after the chief's first checkpoint (the chief then waits in a collective op: killed too);
    `--resume` on both, sharing the run folder, finishes the run to the weights of the uninterrupted one."""
    run = tmp_path / "run"
    logs = [tmp_path / "chief.log", tmp_path / "worker1.log"]
    processes = start_cluster(config, [run, run], logs)
    try:
        deadline = time.time() + TIMEOUT
        while not list((run / "checkpoints").glob("ckpt-*")) and time.time() < deadline:
            assert all(p.poll() is None for p in processes), logs[0].read_text()[-4000:]
            time.sleep(0.02)
        os.killpg(processes[1].pid, signal.SIGKILL)
    finally:
        kill(processes)
    checkpoints = sorted(p.name for p in (run / "checkpoints").glob("ckpt-*"))
    assert checkpoints and checkpoints[-1] < f"ckpt-{EPOCHS:04d}", f"the kill should land mid-run: {checkpoints}"
    finish(start_cluster(config, [run, run], logs, "--resume"), logs)
    assert json.loads((run / RUN_FILE).read_text())["epochs"] == EPOCHS
    assert list(pd.read_csv(run / "log.csv").epoch) == list(range(1, EPOCHS + 1))
    for a, b in zip(weights(run), weights(cluster_run[0]), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_workers_resuming_from_different_checkpoints_stop_with_an_error(config, cluster_run, tmp_path):
    """A worker that cannot read the chief's checkpoints (no shared run folder) stops the cluster, not hangs it."""
    logs = [tmp_path / "chief.log", tmp_path / "worker1.log"]
    processes = start_cluster(config, [cluster_run[0], tmp_path / "elsewhere"], logs, "--resume")
    with pytest.raises(AssertionError, match="exit 2"):
        finish(processes, logs)
    assert any("resume from different checkpoints" in log.read_text() for log in logs)
