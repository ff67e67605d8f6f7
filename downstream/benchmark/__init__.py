"""``musiczoo benchmark``: every model next to the baselines, on tasks from any catalogue.

>>> from musiczoo.downstream.benchmark import benchmark
>>> benchmark(["runs/artist", "mel-stats", "random-init", "msd-musicnn"], "benchmarks/tasks/gamemusic.yaml", "bench")

Names load on first use, so that the CLI's parser does not load TensorFlow.
"""

import importlib

_EXPORTS = {"Benchmark": "run", "benchmark": "run", "Task": "tasks", "TaskError": "tasks", "read_tasks": "tasks"}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
