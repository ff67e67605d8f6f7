"""The benchmark's embedding cache: a cold run, then the same run warm, side by side.

    python benchmarks/benchmark_cache.py                                # 500 ASAP tracks x 5 models
    python benchmarks/benchmark_cache.py --tracks 20 --models mel-stats msd-musicnn   # quick check

Runs :func:`musiczoo.downstream.benchmark.benchmark` twice on the first ``--tracks`` tracks of
``--catalogue`` (one similarity task on the first artist, one seed) with a fresh cache folder:
the first run embeds every track with every model, the second must embed none. The table gives
the embeddings computed and the wall time of each stage. Needs ``musiczoo data build asap``
(or any catalogue with ``path`` and ``artists``).
"""

import argparse
import tempfile
from pathlib import Path

import common
import pandas as pd

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
from musiczoo.downstream.benchmark import benchmark

MODELS = ["mel-stats", "random-init", "msd-musicnn", "msd-vgg", "mtt-musicnn"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalogue", default="data/asap/catalogue.parquet", help="catalogue.parquet with audio")
    parser.add_argument("--tracks", type=int, default=500, help="tracks to embed (default 500)")
    parser.add_argument("--models", nargs="+", default=MODELS, help=f"models (default {' '.join(MODELS)})")
    parser.add_argument("--seconds", type=float, default=30.0, help="audio per track (default 30 s)")
    args = parser.parse_args()

    catalogue = pd.read_parquet(args.catalogue).head(args.tracks)
    root = Path(args.catalogue).resolve().parent
    catalogue["path"] = [str((root / path).resolve()) for path in catalogue.path]
    tasks = {
        "seconds": args.seconds,
        "tasks": {"artist-similarity": {"kind": "similarity", "label": "artists[0]"}},
    }
    rows = []
    with tempfile.TemporaryDirectory() as work:
        tasks["catalogue"] = str(Path(work) / "catalogue.parquet")  # the paths in it are absolute
        catalogue.to_parquet(tasks["catalogue"])
        for run in ("cold", "warm"):
            result = benchmark(args.models, tasks, Path(work) / run, seeds=1, k=(), cache=Path(work) / "cache")
            seconds = result.seconds
            rows.append(
                {
                    "run": run,
                    "tracks": len(catalogue),
                    "models": len(args.models),
                    "embeddings computed": seconds["embedded"],
                    "embed s": seconds["embed"],
                    "evaluate s": seconds["evaluate"],
                    "total s": seconds["total"],
                }
            )
    common.table(rows, list(rows[0]))


if __name__ == "__main__":
    main()
