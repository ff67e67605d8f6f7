"""Feature-store speed: extraction throughput with 1 and 2 workers, random-patch reads, the input
pipeline, and the rate at which a training step consumes patches, measured side by side in one run.

    python benchmarks/data_speed.py              # the real clips, each listed 3 times (about 3 minutes)

Extraction: MusiCNN mels of every catalogue track into a fresh store (decoding included),
in x real time and tracks/s. Reads: random 128-frame patches of random tracks from the
memory-mapped store. Input pipeline: patches/s the trainer's ``distributed_batches`` delivers
(store reads, pairs, tf.data's parallel map and prefetch) at ``--batch-size`` pairs, over ``--steps``
steps timed after an epoch's first batch (the set-up, paid once an epoch: its own row), alone and
feeding a stand-in step paced at ``--device-rate`` patches/s (a GPU's: the issue's target). With the
batches read ahead in the background the paced loop runs near the lower of the two rates; read in
series it would run at 1 / (1 / delivered + 1 / device rate). Consumption: patches per second that one
EfficientNet-B0 COLA training step takes here (the trainer's own step, batch 16 pairs = 32 patches),
the rate the store must beat. Pipeline and paced loop are timed interleaved; the load averages head
the table.
"""

import argparse
import math
import tempfile
import time
from pathlib import Path

import common
import pandas as pd

COLUMNS = ["measure", "value", "unit", "ratio_to_training"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=3, help="times each clip is listed (default 3)")
    parser.add_argument("--reads", type=int, default=20000, help="random patches read (default 20000)")
    parser.add_argument("--batch-size", type=int, default=64, help="input pipeline pairs per step (default 64)")
    parser.add_argument("--device-rate", type=float, default=6000, help="paced step, patches/s (default 6000)")
    parser.add_argument("--steps", type=int, default=40, help="input pipeline steps a measure (default 40)")
    args = parser.parse_args()
    from musiczoo.train.store import FeatureStore, build_store

    with tempfile.TemporaryDirectory() as tmp:
        catalogue, store_path = common.clip_catalogue(tmp, copies=args.copies)
        tracks = pd.read_parquet(catalogue)
        extraction = {}
        for workers in (1, 2):
            start = time.perf_counter()
            build_store(tracks, Path(tmp) / f"store{workers}", workers=workers, progress=False)
            extraction[workers] = time.perf_counter() - start
        store = FeatureStore(store_path)
        audio_seconds = store.info()["hours"] * 3600
        reads = common.random_patch_rate(store, 128, args.reads)
        config = {
            "model": "discogs_artist_embeddings-effnet",
            "catalogue": str(catalogue),
            "store": str(store_path),
            "objectives": [{"pairs": "track", "loss": "cola"}],
            "batch_size": 16,
            "validation_fraction": 0,
        }
        _, consumption, _ = common.train_step_rate(config, Path(tmp) / "run", steps=3)
        delivered, paced, setup = pipeline_rates(tmp, args.batch_size, args.device_rate, args.steps)
    rows = [
        {"measure": f"extraction, {w} worker{'s' * (w > 1)}", "value": audio_seconds / seconds, "unit": "x real time"}
        for w, seconds in extraction.items()
    ]
    rows += [
        {"measure": f"extraction, {w} worker{'s' * (w > 1)}", "value": len(tracks) / seconds, "unit": "tracks/s"}
        for w, seconds in extraction.items()
    ]
    rows.append({"measure": "2 workers / 1 worker", "value": extraction[1] / extraction[2], "unit": "speed-up"})
    rows.append(
        {
            "measure": "random 128-frame patch reads",
            "value": reads,
            "unit": "patches/s",
            "ratio_to_training": reads / consumption,
        }
    )
    rows.append(
        {
            "measure": f"input pipeline, batch {args.batch_size} pairs",
            "value": delivered,
            "unit": "patches/s",
            "ratio_to_training": delivered / consumption,
        }
    )
    rows.append({"measure": "input pipeline set-up (an epoch's first batch)", "value": setup, "unit": "s"})
    rows.append(
        {
            "measure": f"input pipeline feeding a step paced at {args.device_rate:,.0f} patches/s",
            "value": paced,
            "unit": "patches/s",
            "ratio_to_training": paced / consumption,
        }
    )
    rows.append(
        {"measure": "EffNet-B0 COLA training step", "value": consumption, "unit": "patches/s", "ratio_to_training": 1.0}
    )
    print(f"{len(tracks)} tracks, {audio_seconds / 60:.1f} min of audio; {common.load()}\n")
    common.table(rows, COLUMNS)


def pipeline_rates(tmp, batch_size, device_rate, steps, repeats=3):
    """Patches/s the trainer's input pipeline delivers over ``steps`` steps alone, and to a step paced at
    ``device_rate`` (both from the epoch's start, set-up included), and the seconds to an epoch's first batch."""
    copies = math.ceil(batch_size * (steps + 1) / len(common.clips()))  # track pairs: one a track and epoch
    catalogue, store = common.clip_catalogue(Path(tmp) / "pipeline", copies)
    config = {
        "model": "discogs_artist_embeddings-effnet",
        "catalogue": str(catalogue),
        "store": str(store),
        "backbone": {"width": 0.25, "depth": 0.25},  # no step runs: the model only has to exist
        "objectives": [{"pairs": "track", "loss": "cola"}],
        "batch_size": batch_size,
        "validation_fraction": 0,
    }
    rates = common.TrainingRates(common.built_trainer(config, Path(tmp) / "pipeline-run"), steps)
    measures = {"alone": rates.pipeline, "paced": lambda: rates.paced(device_rate), "setup": rates.first_batch}
    seconds = common.interleaved(measures, repeats)
    return steps * rates.patches / seconds["alone"], steps * rates.patches / seconds["paced"], seconds["setup"]


if __name__ == "__main__":
    main()
