"""`musiczoo extract` at catalogue scale: incremental re-runs, kills, crashes, shards, concurrent runs, bad input."""

import os
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from conftest import MUSICNN_GRAPH, require, write_wav
from musiczoo.cli import main
from musiczoo.downstream.embeddings import read_summary
from musiczoo.extractors.extract import extract
from musiczoo.extractors.summary import PARTS_FOLDER
from musiczoo.runtime import essentia_standard

SR = 16000
RUN = """
import os, sys
import musiczoo.extractors.ffmpeg as ffmpeg
if os.environ.get("CRASH_OPUS"):  # runs in the workers too (spawn imports this file): decoding Opus kills the process
    ffmpeg.decode = lambda *args: os.abort()
from musiczoo.extractors.extract import extract
if __name__ == "__main__":
    graph, out, workers, shard, *inputs = sys.argv[1:]
    extract(graph, inputs, out, workers=int(workers), shard=None if shard == "-" else shard, progress=False)
"""


@pytest.fixture
def graph():
    return str(require(MUSICNN_GRAPH))


def noise(seconds, seed=0, rate=SR, channels=1):
    return (0.1 * np.random.default_rng(seed).standard_normal((int(seconds * rate), channels))).astype(np.float32)


def clips(folder, names, seconds=3.5):
    """Noise clips (MusiCNN needs 3 s for one patch), one seed each; returns their paths."""
    paths = []
    for seed, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        paths.append(write_wav(folder / name, noise(seconds, seed)[:, 0]))
    return paths


def launch(tmp_path, graph, out, inputs, workers=0, shard="-", **env):
    script = tmp_path / "run_extract.py"
    script.write_text(RUN)
    command = [sys.executable, str(script), graph, str(out), str(workers), shard, *map(str, inputs)]
    return subprocess.Popen(command, env=os.environ | env, start_new_session=True, stderr=subprocess.PIPE, text=True)


def table(out):
    return pd.read_csv(out / "summary.csv").set_index("path")


def test_a_rerun_does_only_what_changed(graph, tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    a, b, c = clips(folder, ["a.wav", "b.wav", "sub/c.wav"])
    first = extract(graph, [folder], out, workers=0, progress=False)
    assert list(first.status) == ["ok"] * 3 and first.attrs["current"] == 0
    written = {name: (out / name).stat().st_mtime_ns for name in first.embeddings}

    again = extract(graph, [folder], out, workers=0, progress=False)
    assert again.attrs["current"] == 3 and {n: (out / n).stat().st_mtime_ns for n in again.embeddings} == written

    write_wav(b, noise(7.0, 9)[:, 0])  # changed: recomputed
    c.write_bytes(b"RIFF garbage")  # turned bad: its .npy goes
    a.unlink()  # vanished: its .npy goes
    third = extract(graph, [folder], out, workers=0, progress=False).set_index("path")
    assert third.attrs["current"] == 0
    assert (
        third.loc[str(b), "status"] == "ok" and third.loc[str(b), "patches"] == np.load(out / "b.wav.npy").shape[0] > 1
    )
    assert third.loc[str(c), "status"] == "error" and not (out / "sub" / "c.wav.npy").exists()
    assert third.loc[str(a), "status"] == "missing" and not (out / "a.wav.npy").exists()

    summary = table(out)
    assert sorted(summary.index) == sorted(map(str, (a, b, c))) and not list((out / PARTS_FOLDER).glob("*.jsonl"))
    assert summary.status.to_dict() == {str(a): "missing", str(b): "ok", str(c): "error"}
    assert "200," in (out / "summary.csv").read_text() and "200.0" not in (out / "summary.csv").read_text()
    assert list(read_summary(out).path) == [str(b)]  # downstream reads the ok rows

    with pytest.raises(
        ValueError, match="holds embeddings made otherwise .*node model/dense/BiasAdd there, model/Sigmoid"
    ):
        extract(graph, [folder], out, node="model/Sigmoid", workers=0, progress=False)


def test_a_decoder_crash_costs_one_file(graph, tmp_path):
    """The decoder aborts the process on one file (as MonoLoader does on Opus in some builds): its row says so."""
    from test_extract_decode import encode

    folder, out = tmp_path / "in", tmp_path / "out"
    clips(folder, ["a.wav", "c.wav"])
    encode(folder / "b.opus", "ogg", "libopus", 48000, seconds=4.0)
    run = launch(tmp_path, graph, out, [folder], workers=1, CRASH_OPUS="1")
    assert run.wait(timeout=600) == 0, run.stderr.read()
    summary = table(out)
    assert list(summary.status) == ["ok", "error", "ok"]
    assert "worker process died" in summary.loc[str(folder / "b.opus"), "error"]


def test_killed_at_any_moment_a_rerun_completes(graph, tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    paths = clips(folder, [f"{i:02d}.wav" for i in range(8)])
    run = launch(tmp_path, graph, out, [folder], workers=1)
    deadline = time.monotonic() + 300
    while sum(len(p.read_text().splitlines()) for p in (out / PARTS_FOLDER).glob("*.jsonl")) < 2:
        assert run.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)  # the run and its worker, mid-batch
    run.wait()
    assert len(list((out / PARTS_FOLDER).glob("*.jsonl"))) == 1 and not (out / "summary.csv").exists()

    rerun = extract(graph, [folder], out, workers=0, progress=False)
    assert 2 <= rerun.attrs["current"] < 8 and (rerun.status == "ok").all()
    summary = table(out)
    assert sorted(summary.index) == sorted(map(str, paths)) and (summary.status == "ok").all()
    assert not list((out / PARTS_FOLDER).glob("*.jsonl"))
    for name in summary.embeddings:
        assert np.load(out / name).shape == (1, 200)


def test_two_runs_at_once_into_one_folder(graph, tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    paths = clips(folder, [f"{i:02d}.wav" for i in range(6)])
    runs = [launch(tmp_path, graph, out, [folder]) for _ in range(2)]
    for run in runs:
        assert run.wait(timeout=600) == 0, run.stderr.read()
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary.path) == sorted(map(str, paths)) and (summary.status == "ok").all()
    assert not list((out / PARTS_FOLDER).glob("*.jsonl"))


def test_shards_split_the_inputs_and_merge(graph, tmp_path, capsys):
    folder, out = tmp_path / "in", tmp_path / "out"
    paths = clips(folder, [f"{i:02d}.wav" for i in range(6)])
    halves = [extract(graph, [folder], out, shard=f"{i}/2", workers=0, progress=False) for i in (1, 2)]
    assert sorted(halves[0].path.tolist() + halves[1].path.tolist()) == sorted(map(str, paths))
    assert len(halves[0]) and len(halves[1])
    assert main(["extract", "--merge", str(out)]) == 0
    assert "6 files (6 ok)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["extract", graph, str(folder), "-o", str(out), "--shard", "3/2"])
    assert "--shard: shard 3/2: I must be 1 to N" in capsys.readouterr().err


def float_wav(path, samples, rate=SR):
    """A 32-bit float WAV as is (NaN and Inf kept)."""
    data = np.asarray(samples, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt)
    with open(path, "ab") as file:
        file.write(b"data" + struct.pack("<I", len(data)) + data)
    return path


def test_every_bad_input_is_a_row(graph, tmp_path, capsys):
    """Each kind of bad input of the issue, in one folder: a row each, the right status and reason."""
    folder, out = tmp_path / "in", tmp_path / "out"
    es = essentia_standard()
    clips(folder, ["good.wav", "Café del Mar – ñ 01.wav"])
    (folder / "zero.wav").write_bytes(b"")
    head = bytearray((folder / "good.wav").read_bytes())
    (folder / "header.wav").write_bytes(np.random.default_rng(0).bytes(64) + bytes(head[64:]))
    write_wav(folder / "silence.wav", np.zeros(4 * SR))
    write_wav(folder / "half.wav", noise(0.5)[:, 0])
    es.MonoWriter(filename=str(folder / "8k.wav"), sampleRate=8000, format="wav")(noise(4, 1, 8000)[:, 0])
    es.AudioWriter(filename=str(folder / "96k.flac"), sampleRate=96000, format="flac")(noise(4, 2, 96000, 2))
    float_wav(folder / "nan.wav", np.where(np.arange(4 * SR) % 100 == 0, np.nan, noise(4)[:, 0]))
    es.MonoWriter(filename=str(folder / "cut.ogg"), sampleRate=SR, format="ogg")(noise(12, 3)[:, 0])
    data = (folder / "cut.ogg").read_bytes()
    (folder / "cut.ogg").write_bytes(data[: len(data) * 4 // 10] + data[-len(data) // 10 :])  # its middle gone
    (folder / "x.wav").mkdir()
    (folder / "notes.txt").write_text("not audio")
    (folder / "gone.mp3").symlink_to(tmp_path / "nowhere.mp3")
    os.mkfifo(folder / "pipe.wav")

    assert main(["extract", graph, str(folder), "-o", str(out)]) == 1
    printed = capsys.readouterr()
    rows = pd.read_csv(out / "summary.csv")
    rows.index = rows.path.map(lambda p: p.rsplit("/", 1)[-1])
    assert rows.status.to_dict() == {
        "8k.wav": "ok",
        "96k.flac": "ok",
        "Café del Mar – ñ 01.wav": "ok",
        "cut.ogg": "ok",
        "gone.mp3": "skipped",
        "good.wav": "ok",
        "half.wav": "error",
        "header.wav": "error",
        "nan.wav": "error",
        "notes.txt": "skipped",
        "pipe.wav": "skipped",
        "silence.wav": "error",
        "x.wav": "skipped",
        "zero.wav": "error",
    }
    reasons = rows.error.dropna().to_dict()
    assert reasons["zero.wav"] == "empty: zero bytes" and reasons["half.wav"].startswith("too short")
    assert reasons["nan.wav"].startswith("corrupt") and reasons["silence.wav"].startswith("silent")
    assert reasons["header.wav"].startswith("cannot decode") and reasons["pipe.wav"].endswith("a FIFO")
    assert rows.warning.dropna().index.tolist() == ["cut.ogg"] and rows.loc["cut.ogg", "warning"].startswith(
        "truncated"
    )
    assert (rows[rows.status == "ok"].dim == 200).all() and ",200," in (out / "summary.csv").read_text()
    assert "5 of 10 files embedded" in printed.out
    assert f"warning: {folder / 'cut.ogg'}: truncated" in printed.err and "skipped: " in printed.err
    assert "np.str_" not in printed.err
