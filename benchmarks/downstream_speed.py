"""Downstream fit speed: the Discogs-protocol MLP on 50k x 1280 embeddings, 50 classes.

    python benchmarks/downstream_speed.py                      # 50,000 patches, 30 epochs
    python benchmarks/downstream_speed.py --rows 5000 --epochs 3  # quick check

Synthetic data shaped like EfficientNet-B0 embeddings of ``--rows / --patches`` tracks
(``--patches`` patches each): multi-label targets from a random linear teacher on the track
means, so that there is something to learn. ``EmbeddingClassifier`` is fitted with its defaults
(hidden 512, Adam 1e-3, weight decay 1e-5, 10% of the tracks held out for track-level
validation) once per ``--batch-sizes`` value. The table gives the fit time (all epochs, with
the validation passes), epochs, seconds per epoch, training patches per second and the final
validation ROC-AUC. The first fit of the process also pays TensorFlow's one-off start-up, so an
untimed one-epoch warm-up runs first.
"""

import argparse
import time

import numpy as np
import pandas as pd

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
from musiczoo.downstream import EmbeddingClassifier
from musiczoo.downstream.report import markdown_table


def synthetic(rows, dim, classes, patches, seed=0):
    """``(X, y)``: per-track arrays ``(patches, dim)`` and label sets from a random linear teacher."""
    rng = np.random.default_rng(seed)
    tracks = max(2, rows // patches)
    centres = rng.normal(size=(tracks, 1, dim)).astype(np.float32)
    X = centres + 0.5 * rng.normal(size=(tracks, patches, dim)).astype(np.float32)
    logits = centres[:, 0] @ rng.normal(size=(dim, classes)).astype(np.float32) / np.sqrt(dim)
    positive = logits > np.quantile(logits, 0.9, axis=0)  # ~10% positives per class
    positive[np.arange(tracks), logits.argmax(axis=1)] = True  # every track has a label
    return list(X), [list(np.flatnonzero(row)) for row in positive]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="patches in all (default 50000)")
    parser.add_argument("--dim", type=int, default=1280, help="embedding size (default 1280)")
    parser.add_argument("--classes", type=int, default=50, help="default 50")
    parser.add_argument("--patches", type=int, default=10, help="patches per track (default 10)")
    parser.add_argument("--epochs", type=int, default=30, help="default 30 (the protocol)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 512], help="default 128 512")
    args = parser.parse_args()

    X, y = synthetic(args.rows, args.dim, args.classes, args.patches)
    print(
        f"{len(X)} tracks x {args.patches} patches = {len(X) * args.patches} rows of {args.dim}-d, "
        f"{args.classes} classes; {args.epochs} epochs per fit"
    )
    EmbeddingClassifier(epochs=1, progress=False).fit(X[:200], y[:200])  # warm-up, untimed
    results = []
    for batch_size in args.batch_sizes:
        classifier = EmbeddingClassifier(epochs=args.epochs, batch_size=batch_size)
        start = time.perf_counter()
        classifier.fit(X, y)
        seconds = time.perf_counter() - start
        epochs = len(classifier.history_)
        training_rows = round(len(X) * (1 - classifier.validation_size)) * args.patches
        results.append(
            {
                "batch": batch_size,
                "rows": len(X) * args.patches,
                "fit s": seconds,
                "epochs": epochs,
                "s/epoch": seconds / epochs,
                "samples/s": round(training_rows * epochs / seconds),
                "val ROC-AUC": classifier.history_.val_roc_auc.iloc[-1],
            }
        )
    print(markdown_table(pd.DataFrame(results), {"fit s": ".1f", "s/epoch": ".2f"}), end="")


if __name__ == "__main__":
    main()
