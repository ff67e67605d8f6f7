"""`musiczoo extract --engine ray` on a real two-node Ray cluster on this machine: same folder, same numbers."""

import importlib.util
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

from conftest import MUSICNN_GRAPH, require
from musiczoo.cli import main
from musiczoo.extractors.extract import extract
from musiczoo.extractors.summary import PARTS_FOLDER
from test_extract_runs import clips

if importlib.util.find_spec("ray") is None:
    pytest.skip('needs Ray Data: pip install "musiczoo[ray]"', allow_module_level=True)

from musiczoo.extractors.ray_engine import extract_on_ray  # noqa: E402

TEXT = dict(capture_output=True, text=True, timeout=120)
NODE = dict(num_cpus=1, object_store_memory=80 * 2**20)  # two shared cores here: a small footprint
SMALL = dict(actors=2, decode_cpus=0.25, actor_cpus=0.25)  # on 1-CPU nodes, room to decode beside both actors
CRASHING_DECODER = """
import os
from musiczoo.extractors import extract
load_audio = extract.load_audio
extract.load_audio = lambda path, *rate: os.abort() if "crash" in str(path) else load_audio(path, *rate)
"""  # run by every worker of the cluster as it starts: decoding a file named crash* kills the process


@pytest.fixture(scope="module")
def cluster():
    """A head and one worker node of 1 CPU each; the tests' process is the driver."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args=NODE | {"include_dashboard": False})
    cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    ray.init(
        address=cluster.address,
        runtime_env={"worker_process_setup_hook": lambda: exec(CRASHING_DECODER, {})},  # pickled by value
        log_to_driver=False,
    )
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture
def graph():
    return str(require(MUSICNN_GRAPH))


def files_of(summary):
    """The ``.npy`` of each ``ok`` row, by path; every path once."""
    assert summary.path.is_unique
    return dict(zip(summary.path, summary.embeddings))


def test_every_file_once_and_the_local_engines_numbers(cluster, graph, tmp_path):
    folder = tmp_path / "in"
    *paths, crash = clips(folder, ["a.wav", "b.wav", "sub/c.wav", "sub/d.wav", "crash.wav"])
    (folder / "bad.wav").write_bytes(b"RIFF garbage")
    (folder / "notes.txt").write_text("not audio")

    ray_run = extract_on_ray(graph, [folder], tmp_path / "ray", progress=False, **SMALL).set_index("path")
    local = extract(graph, [folder], tmp_path / "local", workers=0, progress=False).set_index("path")
    assert ray_run.index.is_unique and sorted(ray_run.index) == sorted(local.index)
    assert (ray_run.loc[list(map(str, paths)), "status"] == "ok").all()
    assert ray_run.loc[str(folder / "notes.txt"), "status"] == "skipped"
    assert ray_run.loc[str(folder / "bad.wav"), "error"] == local.loc[str(folder / "bad.wav"), "error"]
    crashed = ray_run.loc[str(crash)]  # its decoder crashed on each try; the local engine here decodes it
    assert crashed.status == "error" and "its Ray task failed 3 times (a crash or hang" in crashed.error
    same = ["embeddings", "duration_s", "patches", "dim", "size", "mtime_ns"]
    for path in map(str, paths):
        assert ray_run.loc[path, same].tolist() == local.loc[path, same].tolist()
        ours, theirs = (np.load(tmp_path / engine / local.loc[path, "embeddings"]) for engine in ("ray", "local"))
        assert ours.shape == theirs.shape == (1, 200) and np.abs(ours - theirs).max() <= 1e-5
    summary = pd.read_csv(tmp_path / "ray" / "summary.csv")
    assert summary.path.is_unique and len(summary) == len(ray_run)
    assert not list((tmp_path / "ray" / PARTS_FOLDER).glob("*.jsonl"))
    assert sorted(p.name for p in (tmp_path / "ray").rglob("*.npy")) == sorted(
        p.rsplit("/", 1)[-1] for p in ray_run.embeddings.dropna()
    )


def test_a_rerun_skips_what_either_engine_did(cluster, graph, tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    first = clips(folder, ["a.wav", "b.wav"])
    extract(graph, [folder], out, workers=0, progress=False)
    written = {path: (out / f"{path.name}.npy").stat().st_mtime_ns for path in first}
    clips(folder, ["c.wav"])  # a new file beside them
    second = extract_on_ray(graph, [folder], out, progress=False, **SMALL)
    assert second.attrs["current"] == 2 and (second.status == "ok").all() and len(second) == 3
    assert {path: (out / f"{path.name}.npy").stat().st_mtime_ns for path in first} == written
    third = extract_on_ray(graph, [folder], out, progress=False, **SMALL)
    assert third.attrs["current"] == 3


def test_cli_engine_ray_and_bad_addresses(cluster, graph, tmp_path, capsys):
    folder = tmp_path / "in"
    clips(folder, ["a.wav", "b.wav"])
    assert main(["extract", graph, str(folder), "-o", str(tmp_path / "out"), "--engine", "ray"]) == 0
    assert "2 of 2 files embedded" in capsys.readouterr().out

    command = ["extract", graph, str(folder), "-o", str(tmp_path / "x"), "--engine", "ray", "--address", "127.0.0.1:9"]
    start = time.monotonic()  # a new driver: this one is connected already
    run = subprocess.run([sys.executable, "-c", f"from musiczoo.cli import main; exit(main({command!r}))"], **TEXT)
    assert run.returncode == 2 and time.monotonic() - start < 60
    assert run.stderr.strip().splitlines() == [
        "musiczoo extract: no Ray cluster at 127.0.0.1:9 (Connection refused within 10 s): start its head with "
        "`ray start --head --port 9` there, or give the address that `ray start --head` printed"
    ]
    assert main(["extract", graph, str(folder), "-o", str(tmp_path / "x"), "--address", "127.0.0.1:9"]) == 2
    assert "--address and --actors are for --engine ray" in capsys.readouterr().err


def test_without_ray_the_message_is_the_install_command(graph, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray: ImportError, as where it is not installed
    clips(tmp_path / "in", ["a.wav"])
    assert main(["extract", graph, str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--engine", "ray"]) == 2
    error = capsys.readouterr().err
    assert error == 'musiczoo extract: --engine ray needs Ray Data: pip install "musiczoo[ray]"\n'


@pytest.mark.slow
def test_a_node_killed_mid_run_leaves_a_complete_summary(cluster, graph, tmp_path):
    """The worker node dies after the first rows: the run ends (or fails) and its rerun completes the folder."""
    folder, out = tmp_path / "in", tmp_path / "out"
    paths = clips(folder, [f"{i:02d}.wav" for i in range(12)])
    worker = next(node for node in cluster.worker_nodes)

    def kill_after_the_first_rows():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if sum(len(p.read_text().splitlines()) for p in (out / PARTS_FOLDER).glob("*.jsonl")) >= 2:
                cluster.remove_node(worker, allow_graceful=False)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_after_the_first_rows)
    killer.start()
    try:
        extract_on_ray(graph, [folder], out, progress=False, **SMALL)
    except Exception as error:  # the run may end on the loss; its rows stay
        print(f"the run ended on: {error}")
    killer.join()
    rerun = extract_on_ray(graph, [folder], out, progress=False, **SMALL)
    summary = pd.read_csv(out / "summary.csv").set_index("path")
    assert sorted(summary.index) == sorted(map(str, paths)) and (summary.status == "ok").all()
    assert rerun.attrs["current"] >= 2 and not list((out / PARTS_FOLDER).glob("*.jsonl"))
    for name in summary.embeddings:
        assert np.load(out / name).shape == (1, 200)
    cluster.add_node(**NODE)  # the cluster as it was, for any test after this one
    cluster.wait_for_nodes()
