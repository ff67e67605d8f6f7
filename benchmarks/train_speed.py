"""Training throughput per backbone and objective, next to the FLOP bound of this machine.

    python benchmarks/train_speed.py                   # full-size backbones, batch 16 pairs
    python benchmarks/train_speed.py --width 0.25      # quick check

For each (backbone, objective): seconds per training step (the trainer's own distributed step,
data excluded), patches consumed per second, forward GFLOP per patch (TensorFlow's profiler on
the frozen graph), and the FLOP bound: measured matmul GFLOP/s / (3 x forward GFLOP per patch),
forward + backward being ~3 forward passes. ``efficiency`` = measured / bound. On a GPU the same
is measured again with mixed precision and with XLA; this machine's CPU runs float32 only.
"""

import argparse
import tempfile

import common
import tensorflow as tf

CASES = [  # backbone model, objective, pairs (a step costs the same whatever association made the pairs)
    ("discogs_artist_embeddings-effnet", "cola", "track"),
    ("discogs_style_tags-effnet", "multilabel", None),
    ("playlist_co_embeddings-vggish", "ntxent", "track"),
    ("playlist_co_embeddings-resnet50", "ntxent", "track"),
]
COLUMNS = ["model", "loss", "precision", "step_s", "patches_s", "gflop_patch", "bound_patches_s", "efficiency"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=16, help="pairs per step (default 16)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps (default 5)")
    parser.add_argument("--width", type=float, default=1.0, help="backbone width (default 1, the papers')")
    args = parser.parse_args()
    gpu = bool(tf.config.list_physical_devices("GPU"))
    peak = common.matmul_peak()
    print(f"device: {'GPU' if gpu else 'CPU'}; measured float32 matmul peak {peak:.1f} GFLOP/s\n")
    variants = [("float32", {})] + (
        [("mixed_float16", {"mixed_precision": True}), ("xla", {"jit_compile": True})] if gpu else []
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        catalogue, store = common.clip_catalogue(tmp, copies=max(4, 2 * args.batch_size // 8))
        for model, loss, pairs in CASES:
            backbone = (
                {}
                if args.width == 1
                else ({"width": args.width, "depth": args.width} if "effnet" in model else {"width": args.width})
            )
            for precision, extra in variants:
                config = {
                    "model": model,
                    "catalogue": str(catalogue),
                    "store": str(store),
                    "backbone": backbone,
                    "objectives": [{"loss": loss, **({"pairs": pairs} if pairs else {})}],
                    "batch_size": args.batch_size,
                    "validation_fraction": 0,
                    "epochs": 1,
                    **extra,
                }
                seconds, rate, keras_model = common.train_step_rate(config, f"{tmp}/{model}-{precision}", args.steps)
                gflop = common.flops_per_patch(keras_model) / 1e9
                bound = peak / (3 * gflop)
                rows.append(dict(zip(COLUMNS, (model, loss, precision, seconds, rate, gflop, bound, rate / bound))))
    common.table(rows, COLUMNS)
    if not gpu:
        print("\nno GPU here: mixed precision and XLA rows are measured only where one is visible")


if __name__ == "__main__":
    main()
