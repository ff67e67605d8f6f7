"""The output folder of ``musiczoo extract``: its summary table, the parts runs write, the model it holds.

``OUT/summary.csv`` has one row per source path ever given (the newest). A run never rewrites it
while it works: it appends each row it decides to its own part, ``OUT/parts/*.jsonl`` (one JSON
object a line, flushed at once), and holds a lock on that part while it lasts. :func:`merge` folds
the summary and every part into ``summary.csv`` (atomically) and deletes the parts whose lock is
free (their run has ended, or was killed). So shards, machines sharing the folder and a re-run
after a SIGKILL all write into one folder, and nothing written is lost or counted twice.
``OUT/extract.json`` names the model, graph (by SHA-256), node and patching that made the
embeddings; a run of another model into the folder is refused.
"""

import contextlib
import datetime
import fcntl
import functools
import io
import json
import os
import secrets
import socket
from pathlib import Path

import pandas as pd

from musiczoo.fileio import atomic_write, folder_lock

SUMMARY_FILE = "summary.csv"
PROVENANCE_FILE = "extract.json"
PARTS_FOLDER = "parts"
SUMMARY_COLUMNS = ["path", "status", "duration_s", "patches", "dim", "embeddings", "error"]  # every summary's
COLUMNS = [*SUMMARY_COLUMNS, "warning", "size", "mtime_ns", "updated"]  # + the source's size and mtime, row time
INTEGER_COLUMNS = ("patches", "dim", "size", "mtime_ns")
IDENTITY = ("graph_sha256", "node", "backend", "patch_size", "patch_hop_size")  # what a folder's rows share
ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}  # file names that are not UTF-8 survive


def _typed(frame):
    """``frame`` with every column, in order; integer columns stay integers where rows lack them."""
    return frame.reindex(columns=COLUMNS).astype(
        {column: "Int64" for column in INTEGER_COLUMNS} | {"duration_s": float}
    )


def summary_frame(rows):
    """A summary table of ``rows`` (dicts of columns; the missing ones are empty)."""
    return _typed(pd.DataFrame(list(rows), columns=COLUMNS, dtype=object))  # object first: no int64 through float


def is_extraction(out_dir):
    return (Path(out_dir) / PROVENANCE_FILE).is_file()


# one run at a time claims, reads or merges a folder; its other runs wait their turn
_locked = functools.partial(folder_lock, what="embeddings", wait=True)


def claim(out_dir, provenance):
    """Record ``provenance`` in ``out_dir/extract.json``, or check that it is what made the folder's rows.

    Raises ValueError naming what differs (graph, node, back-end, patching).
    """
    path = Path(out_dir) / PROVENANCE_FILE
    with _locked(out_dir):
        if path.is_file():
            recorded = json.loads(path.read_text())
            keys = IDENTITY if "graph_sha256" in recorded else ("graph", *IDENTITY[1:])  # older folders: by path
            differ = [key for key in keys if key in recorded and recorded[key] != provenance[key]]
            if differ:
                named = ["model"] if recorded.get("model") != provenance["model"] else []
                told = "; ".join(f"{key} {recorded.get(key)} there, {provenance[key]} now" for key in named + differ)
                raise ValueError(
                    f"{out_dir} holds embeddings made otherwise ({told}): extract into another folder, "
                    f"or delete {out_dir} to start it over"
                )
        atomic_write(path, json.dumps(provenance, indent=2).encode())


class Part:
    """One run's rows, appended as they are decided to its own file, which it locks while it lasts."""

    def __init__(self, out_dir, label=""):
        folder = Path(out_dir) / PARTS_FOLDER
        with _locked(out_dir):  # a merge never sees a part between its creation and its lock
            folder.mkdir(exist_ok=True)
            self.path = folder / f"{label}{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}.jsonl"
            self.file = open(self.path, "a", **ENCODING)
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def add(self, row):
        updated = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")
        self.file.write(json.dumps(row | {"updated": updated}) + "\n")
        self.file.flush()

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _part_rows(path):
    """The rows of a part; a line cut short by a kill is left out."""
    rows = []
    with open(path, **ENCODING) as file:
        for line in file:
            with contextlib.suppress(json.JSONDecodeError):
                rows.append(json.loads(line))
    return rows


def _read_csv(path):
    if not path.is_file():
        return summary_frame([])
    integers = {column: "Int64" for column in INTEGER_COLUMNS}
    frame = pd.read_csv(path, dtype=integers, keep_default_na=False, na_values=[""], encoding_errors="surrogateescape")
    return _typed(frame)  # a summary of an older version: the columns it lacks empty


def _table(out_dir):
    """The summary and every part, the newest row of each path, by path."""
    parts = sorted((Path(out_dir) / PARTS_FOLDER).glob("*.jsonl"))
    rows = summary_frame(row for part in parts for row in _part_rows(part))
    frames = [frame for frame in (_read_csv(Path(out_dir) / SUMMARY_FILE), rows) if len(frame)]
    if not frames:
        return summary_frame([])
    table = pd.concat(frames).sort_values("updated", kind="stable", na_position="first")
    return table.drop_duplicates("path", keep="last").sort_values("path").reset_index(drop=True)


def read_table(out_dir):
    """``out_dir``'s rows as they stand, parts of running runs included."""
    with _locked(out_dir):
        return _table(out_dir)


def _ended_parts(out_dir):
    """The parts whose run has ended, each with its lock now held (open files)."""
    ended = []
    for path in sorted((Path(out_dir) / PARTS_FOLDER).glob("*.jsonl")):
        file = open(path, "a")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            ended.append(file)
        except BlockingIOError:
            file.close()
    return ended


def merge(out_dir):
    """Fold the parts of ``out_dir`` into its ``summary.csv``; returns the table.

    Parts of runs still going are read and kept (their run merges again when it ends).
    """
    out_dir = Path(out_dir)
    if not is_extraction(out_dir):
        raise FileNotFoundError(f"{out_dir} holds no extraction (no {PROVENANCE_FILE})")
    with _locked(out_dir):
        ended = _ended_parts(out_dir)
        table = _table(out_dir)
        buffer = io.StringIO()
        table.to_csv(buffer, index=False)
        atomic_write(out_dir / SUMMARY_FILE, buffer.getvalue().encode(**ENCODING))
        for file in ended:
            os.unlink(file.name)
            file.close()
    return table
