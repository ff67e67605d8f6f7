"""Stacks: several models' embeddings of the same tracks concatenated into one input.

``evaluate_stacks`` fits a classifier on every combination of k embedding sets and ranks them
(Table 4 of the Discogs paper).
"""

import itertools
import time

import numpy as np
import pandas as pd
from sklearn.base import clone

from musiczoo.progress import progress_bar

ALIGNMENTS = ("auto", "patches", "mean")


def alignment(sets, align="auto"):
    """``patches`` or ``mean``: what ``align`` means for ``sets`` (``auto``: ``patches`` if it can)."""
    if align not in ALIGNMENTS:
        raise ValueError(f"align must be one of {ALIGNMENTS}, not {align!r}")
    if len({len(s) for s in sets}) > 1:
        raise ValueError(f"embedding sets have different track counts: {[len(s) for s in sets]}")
    counts = np.array([[len(track) for track in s] for s in sets])
    differ = np.flatnonzero((counts != counts[0]).any(axis=0))
    if align == "patches" and len(differ):
        raise ValueError(
            f"track {differ[0]} has {counts[:, differ[0]].tolist()} patches in the sets: "
            "patch-wise stacking needs equal counts (use align='mean')"
        )
    return "mean" if align == "mean" or len(differ) else "patches"


def common_alignment(splits, align="auto"):
    """One alignment for several splits (each a list of embedding sets): ``mean`` if any needs it."""
    if align != "auto":
        return align
    return "mean" if any(alignment(sets) == "mean" for sets in splits) else "patches"


def concatenate(sets, align="auto"):
    """Per-track inputs from ``sets`` (each a list of ``(patches, dim)`` arrays, same track order).

    ``patches``: concatenate patch by patch (every set must cut each track into the same
    patches); ``mean``: average each set's patches per track, then concatenate (one row per
    track); ``auto``: ``patches`` when every track has the same patch count in all sets, else
    ``mean``.
    """
    sets = [list(s) for s in sets]
    if alignment(sets, align) == "mean":
        sets = [[track.mean(axis=0, keepdims=True) for track in s] for s in sets]
    return sets[0] if len(sets) == 1 else [np.concatenate(tracks, axis=1) for tracks in zip(*sets)]


def combinations(names, k):
    """Every combination of ``k`` names (``k``: an int or several)."""
    sizes = [k] if isinstance(k, int) else list(k)
    if any(size < 1 or size > len(names) for size in sizes):
        raise ValueError(f"k must be between 1 and {len(names)} (the number of embedding sets), not {sizes}")
    return [combo for size in sizes for combo in itertools.combinations(names, size)]


def rank(rows, by):
    """Rows sorted best first on ``by`` (higher is better), with a ``rank`` column."""
    table = pd.DataFrame(rows).sort_values(by, ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def evaluate_stacks(
    train, y_train, test, y_test, estimator, k=2, validation=None, align="auto", by=None, progress=True, on_result=None
):
    """Fit ``estimator`` (cloned) on every k-combination of the embedding sets; rank on ``test``.

    ``train``, ``test`` (and the sets of ``validation = (sets, y)``): ``{name: per-track arrays}``.
    ``by``: the ranking metric (default PR-AUC for multi-label, accuracy for multi-class).
    ``on_result(table)`` is called after each combination, so a long run can save as it goes.
    """
    splits = [train, test, *([validation[0]] if validation is not None else [])]
    align = common_alignment([list(split.values()) for split in splits], align)  # every stack alike
    rows = []
    for combo in progress_bar(combinations(list(train), k), desc="stacks", unit="stack", disable=not progress):
        fit_validation = None
        if validation is not None:
            sets, y_val = validation
            fit_validation = (concatenate([sets[name] for name in combo], align), y_val)
        X = concatenate([train[name] for name in combo], align)
        start = time.perf_counter()
        classifier = clone(estimator).fit(X, y_train, validation=fit_validation)
        seconds = time.perf_counter() - start
        evaluation = classifier.evaluate(concatenate([test[name] for name in combo], align), y_test)
        by = by or ("pr_auc" if evaluation.task == "multilabel" else "accuracy")
        rows.append(
            {
                "stack": " + ".join(combo),
                "k": len(combo),
                "dim": X[0].shape[1],
                **evaluation.summary,
                "epochs": len(classifier.history_),
                "fit_s": round(seconds, 2),
            }
        )
        if on_result is not None:
            on_result(rank(rows, by))
    return rank(rows, by)
