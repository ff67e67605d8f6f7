"""How hard is each pair kind on a catalogue? Its pairs and diversity, and in-batch top-1 before any training.

    python benchmarks/pair_difficulty.py data/asap/train.parquet data/asap/features
    python benchmarks/pair_difficulty.py CATALOGUE STORE --kinds track artist co --batches 20

For every pair kind, the Discogs paper's Table 1 (pairs in an epoch, tracks that can be paired, association
groups that yield a pair), then the training batches (``--batch-size`` pairs, patches at random offsets, as
the trainer draws them) scored as the contrastive task scores them: the fraction of anchors whose most
cosine-similar positive in the batch is their own. Two fixed encoders, no training: ``mel-stats`` (per-band
mean and standard deviation of the patch, standardised over the batch) and ``random-init`` (the untrained
EfficientNet-B0 at ``--width``, inference mode, its batch-norm statistics set on the first track batch as the
benchmark's ``random-init`` sets them: uncalibrated, its embeddings are ~0 and their cosines undefined).
Chance is 1 / batch size. A kind that ``mel-stats`` scores at chance carries no signal a patch's timbre
shows: a model must find it in the music itself, which takes far more steps than a kind whose pairs share
their sound.
"""

import argparse

import common
import keras
import numpy as np

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
from musiczoo.train.catalogues.schema import read_catalogue
from musiczoo.train.pipeline import TaskData
from musiczoo.train.store import FeatureStore
from musiczoo.zoo import registry
from musiczoo.zoo.export import calibrate_batchnorm

MODEL = "discogs_track_embeddings-effnet"


def in_batch_top1(anchors, positives):
    """Fraction of rows of ``anchors`` whose most cosine-similar row of ``positives`` is the same row."""
    a = anchors / np.linalg.norm(anchors, axis=1, keepdims=True)
    p = positives / np.linalg.norm(positives, axis=1, keepdims=True)
    return float(np.mean(np.argmax(a @ p.T, axis=1) == np.arange(len(a))))


def mel_stats(patches):
    return np.concatenate([patches.mean(axis=1), patches.std(axis=1)], axis=-1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalogue", help="catalogue.parquet")
    parser.add_argument("store", help="its feature store")
    kinds = ["track", "release", "artist", "label", "artist_co", "co"]
    parser.add_argument("--kinds", nargs="+", default=kinds, help=f"pair kinds (default: {' '.join(kinds)})")
    parser.add_argument("--batch-size", type=int, default=32, help="pairs per batch (default 32)")
    parser.add_argument("--batches", type=int, default=12, help="batches scored per kind (default 12)")
    parser.add_argument("--width", type=float, default=0.5, help="random-init EfficientNet width (default 0.5)")
    args = parser.parse_args()

    store, catalogue = FeatureStore(args.store), read_catalogue(args.catalogue)
    keras.utils.set_random_seed(0)
    entry = registry.get(MODEL)
    model = registry.build(entry, width=args.width, depth=args.width)
    frames = entry["musiczoo"]["backbone"]["frames"]
    track = TaskData({"pairs": "track", "loss": "ntxent"}, catalogue, store, frames, args.batch_size, seed=0)
    first = track.batch(0, 0)
    calibrate_batchnorm(model, np.concatenate([first["anchor"], first["positive"]]))
    rows = []
    for kind in args.kinds:
        task = TaskData({"pairs": kind, "loss": "ntxent"}, catalogue, store, frames, args.batch_size, seed=0)
        scores = {"mel-stats": [], "random-init": []}
        for step in range(min(args.batches, task.steps(0))):
            batch = task.batch(0, step)
            stats = mel_stats(np.concatenate([batch["anchor"], batch["positive"]]))
            stats = (stats - stats.mean(axis=0)) / (stats.std(axis=0) + 1e-6)
            scores["mel-stats"].append(in_batch_top1(*np.split(stats, 2)))
            embeddings = np.asarray(model(np.concatenate([batch["anchor"], batch["positive"]]), training=False)[1])
            scores["random-init"].append(in_batch_top1(*np.split(embeddings, 2)))
        rows.append(
            {"kind": kind}
            | task.counts()
            | {"batches per epoch": task.steps(0), "scored": len(scores["mel-stats"])}
            | {"chance": 1 / args.batch_size}
            | {name: np.mean(values) if values else np.nan for name, values in scores.items()}
        )
    common.table(rows, list(rows[0]))


if __name__ == "__main__":
    main()
