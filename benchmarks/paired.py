"""Paired differences between a benchmark's rows: A - B within each seed, then mean ± 95% t-interval.

    python benchmarks/paired.py bench/claims3/asap artist-track co-simclr track-mel-stats
    python benchmarks/paired.py bench/claims3/asap artist-track --metric roc_auc

Every seed of ``musiczoo benchmark`` gives all rows the same split, probe initialisation and
triplets, so the split's luck, which moves every row together, cancels in A - B. Reads
``OUT/scores.csv``; prints a Markdown table, one column per task: accuracy for classification,
triplet accuracy for similarity (or ``--metric``). A pair is ``A-B``; a row name that holds a
``-`` itself (``mel-stats``) is matched as a whole.
"""

import argparse
from pathlib import Path

import pandas as pd

from musiczoo.downstream.benchmark.run import interval

MAIN_METRICS = ("accuracy", "triplet")  # the first of these that a task has


def split_pair(pair, rows):
    """``(A, B)`` of ``"A-B"``, where A and B are row names (which may hold ``-``)."""
    for cut in range(1, len(pair)):
        if pair[cut] == "-" and pair[:cut] in rows and pair[cut + 1 :] in rows:
            return pair[:cut], pair[cut + 1 :]
    raise SystemExit(f"{pair}: not A-B of two rows of the benchmark ({', '.join(sorted(rows))})")


def paired(scores, pairs, metric=None):
    """``{pair: {task: (mean, half-width)}}`` of the per-seed differences."""
    rows = set(scores.model)
    table = {}
    for pair in pairs:
        a, b = split_pair(pair, rows)
        cells = {}
        for task, frame in scores.groupby("task", sort=False):
            name = metric or next((m for m in MAIN_METRICS if (frame.metric == m).any()), None)
            values = frame[frame.metric == name].pivot(index="seed", columns="model", values="value")
            if name is not None and {a, b} <= set(values.columns):
                cells[f"{task} {name}"] = interval((values[a] - values[b]).dropna())
        table[pair] = cells
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", type=Path, help="a `musiczoo benchmark` output folder (its scores.csv)")
    parser.add_argument("pairs", nargs="+", metavar="A-B", help="row A minus row B")
    parser.add_argument("--metric", help="one metric for every task (default: accuracy, or triplet accuracy)")
    args = parser.parse_args()
    table = paired(pd.read_csv(args.benchmark / "scores.csv"), args.pairs, args.metric)
    columns = list(dict.fromkeys(column for cells in table.values() for column in cells))
    print("| paired difference | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for pair, cells in table.items():
        shown = [f"{cells[c][0]:+.3f} ± {cells[c][1]:.3f}" if c in cells else "-" for c in columns]
        print(f"| {pair} | " + " | ".join(shown) + " |")


if __name__ == "__main__":
    main()
