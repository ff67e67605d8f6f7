"""Held-out results in a model's metadata: what ``musiczoo benchmark`` found, written where the model lives.

A benchmark records, for every model it scored, one block per task set (the tasks file's stem; a newer
benchmark on the same set replaces it)::

    "benchmark": {"gamemusic": {"tasks": ..., "command": ..., "date": ..., "row": ..., "seeds": 3,
                                "training_seeds": 1, "tracks": 75, "report": ".../report.html",
                                "results": [{"task": "artist", "metric": "accuracy", "mean": 0.667,
                                             "ci95": 0.292, "baselines": {"mel-stats": [0.538, 0.191]}}]}}

and, for a zoo-trained model, Essentia's ``dataset.metrics`` (``"gamemusic: artist accuracy": 0.667``).
A pretrained import's ``dataset.metrics`` are its authors' numbers and stay as they are.

Where: the ``.json`` beside a zoo export or pretrained import (never another's model), or
``heldout.json`` in a training-run folder, which :func:`musiczoo.zoo.export.export_run` carries into
the export's metadata.
"""

import json
import math
from pathlib import Path

from musiczoo.fileio import atomic_write
from musiczoo.zoo import registry

RUN_FILE = "heldout.json"  # in a training-run folder: {task set: block}
MEL_STATS, RANDOM_INIT = "mel-stats", "random-init"  # the baseline rows of every benchmark
BASELINES = (MEL_STATS, RANDOM_INIT)


def _number(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 4)


def block(results, **facts):
    """A task set's block: ``facts`` (tasks, command, date, row, seeds, ...) and ``results``, numbers rounded.

    ``results``: dicts of task, metric, mean, ci95 and ``baselines`` ``{row: (mean, ci95)}``.
    """
    rows = [
        {
            "task": r["task"],
            "metric": r["metric"],
            "mean": _number(r["mean"]),
            "ci95": _number(r["ci95"]),
            "baselines": {row: [_number(m), _number(c)] for row, (m, c) in r.get("baselines", {}).items()},
        }
        for r in results
    ]
    return {**facts, "results": rows}


def is_zoo_model(meta):
    """Whether metadata is a zoo export's or a pretrained import's (a registry name): the models whose
    metadata a benchmark may write. Another's model (Essentia's official ``.pb``) is left as it is."""
    return meta.get("name") in registry.entries()


def is_pretrained_import(meta):
    """Whether metadata is a pretrained import's (its ``dataset.metrics`` are the authors')."""
    return is_zoo_model(meta) and registry.is_pretrained(registry.get(meta["name"]))


def with_block(meta, task_set, found):
    """``meta`` with ``found`` recorded as the held-out results on ``task_set``."""
    meta = {**meta, "benchmark": {**meta.get("benchmark", {}), task_set: found}}
    if not is_pretrained_import(meta):
        prefix = f"{task_set}: "
        dataset = dict(meta.get("dataset", {}))
        metrics = {k: v for k, v in dataset.get("metrics", {}).items() if not k.startswith(prefix)}
        metrics |= {f"{prefix}{r['task']} {r['metric']}": r["mean"] for r in found["results"] if r["mean"] is not None}
        meta["dataset"] = {**dataset, "metrics": metrics}
    return meta


def record(target, task_set, found):
    """Write ``found`` into ``target``: a graph's metadata (its ``.json``) or a training-run folder."""
    target = Path(target)
    if target.is_dir():
        path = target / RUN_FILE
        blocks = json.loads(path.read_text()) if path.is_file() else {}
        atomic_write(path, json.dumps({**blocks, task_set: found}, indent=2).encode())
        return path
    path = target.with_suffix(".json")
    meta = with_block(json.loads(path.read_text()), task_set, found)
    atomic_write(path, json.dumps(meta, indent=2).encode())
    return path


def run_blocks(run_dir):
    """The held-out blocks a benchmark recorded in a training-run folder (``{}`` when none)."""
    path = Path(run_dir) / RUN_FILE
    return json.loads(path.read_text()) if path.is_file() else {}
