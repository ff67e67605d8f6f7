"""Training throughput: EfficientNet-B0 COLA's step, loop and input pipeline; each backbone next to the FLOP bound.

    python benchmarks/train_speed.py                 # EffNet-B0 COLA, batch 64 pairs (128 patches a step)
    python benchmarks/train_speed.py --quick         # the same at width 0.25, batch 16 pairs: about a minute
    python benchmarks/train_speed.py --backbones     # also every backbone's step next to the FLOP bound
    python benchmarks/train_speed.py --threads 2,1   # intra-op, inter-op thread pools (tf.config.threading)
    python benchmarks/train_speed.py --variants float32 --steps 10   # the loop over longer measures

EffNet-B0 COLA, for each variant (float32, XLA ``jit_compile``; on a GPU also mixed precision, with
and without XLA): patches per second of
  step      the trainer's step on batches already in memory (data excluded),
  loop      the trainer's loop: ``distributed_batches`` (feature store, pairs, tf.data's parallel map and
            prefetch) feeding the step, timed after an epoch's first batch (its set-up is paid once an epoch),
  pipeline  ``distributed_batches`` alone, timed the same way: what the input pipeline delivers,
timed interleaved (every measure in turn, ``--repeats`` times, the median) so that ratios stay fair on
a shared machine; the load averages head the table. ``bound``: the FLOP bound, measured matmul
GFLOP/s / (3 x forward GFLOP per patch: forward + backward ~ 3 forward passes); ``efficiency`` =
step / bound.

``--backbones``: for each (backbone, objective), seconds per training step and patches/s of the
step alone at ``--backbone-batch`` pairs, next to its FLOP bound.
"""

import argparse
import tempfile

import common
import tensorflow as tf

COLUMNS = ["model", "loss", "precision", "step_s", "patches_s", "gflop_patch", "bound_patches_s", "efficiency"]


LOOP_COLUMNS = ["variant", "step_s", "step_patches_s", "loop_patches_s", "loop/step", "pipeline/step", "efficiency"]


def effnet_rows(args, tmp, gpu, peak):
    """EffNet-B0 COLA: step, loop and pipeline of every variant, interleaved."""
    available = common.variants(gpu)
    chosen = {name: extra for name, extra in available.items() if name in (args.variants or available)}
    rates = common.effnet_cola_rates(tmp, args.batch_size, args.width, args.steps, chosen)
    measures = {"pipeline": next(iter(rates.values())).pipeline}
    for name, rate in rates.items():
        measures |= {f"{name} step": rate.step, f"{name} loop": rate.loop}
    print(f"EffNet-B0 COLA, batch {args.batch_size} pairs, {args.steps} steps a measure, median of {args.repeats}")
    print(f"{common.load()} (before timing)")
    seconds = common.interleaved(measures, args.repeats)
    print(f"{common.load()} (after)\n")
    any_rate = next(iter(rates.values()))
    bound = peak / (3 * common.flops_per_patch(any_rate.trainer.model) / 1e9)
    per_second = {name: args.steps * any_rate.patches / value for name, value in seconds.items()}
    rows = [
        {
            "variant": name,
            "step_s": seconds[f"{name} step"] / args.steps,
            "step_patches_s": per_second[f"{name} step"],
            "loop_patches_s": per_second[f"{name} loop"],
            "loop/step": per_second[f"{name} loop"] / per_second[f"{name} step"],
            "pipeline/step": per_second["pipeline"] / per_second[f"{name} step"],
            "efficiency": per_second[f"{name} step"] / bound,
        }
        for name in rates
    ]
    common.table(rows, LOOP_COLUMNS)
    print(f"\ninput pipeline alone: {per_second['pipeline']:,.0f} patches/s; FLOP bound {bound:,.1f} patches/s")


def backbone_rows(args, tmp, gpu, peak):
    """Each (backbone, objective): the step alone next to its FLOP bound."""
    batch = args.backbone_batch
    catalogue, store = common.clip_catalogue(f"{tmp}/backbones", copies=max(4, 2 * batch // 8))
    rows = []
    for model, loss, pairs in common.BACKBONE_CASES:
        for precision, extra in common.variants(gpu).items():
            config = common.training_config(model, loss, pairs, catalogue, store, batch, args.width, **extra)
            seconds, rate, keras_model = common.train_step_rate(config, f"{tmp}/{model}-{precision}", args.steps)
            gflop = common.flops_per_patch(keras_model) / 1e9
            bound = peak / (3 * gflop)
            rows.append(dict(zip(COLUMNS, (model, loss, precision, seconds, rate, gflop, bound, rate / bound))))
    print(f"\nper backbone, batch {batch} pairs; {common.load()}")
    common.table(rows, COLUMNS)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64, help="EffNet-B0 COLA pairs per step (default 64)")
    parser.add_argument("--steps", type=int, default=2, help="training steps a measure (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repetitions, median (default 3)")
    parser.add_argument("--width", type=float, default=1.0, help="backbone width (default 1, the papers')")
    parser.add_argument("--quick", action="store_true", help="width 0.25, batch 16 pairs, 2 repeats")
    parser.add_argument("--variants", nargs="+", help="only these EffNet-B0 variants (float32, xla, ...; default all)")
    parser.add_argument("--threads", help="INTRA,INTER: TensorFlow's thread pools (default: TensorFlow's choice)")
    parser.add_argument("--backbones", action="store_true", help="also the per-backbone table")
    parser.add_argument("--backbone-batch", type=int, default=16, help="pairs per step there (default 16)")
    args = parser.parse_args()
    if args.quick:
        args.width, args.batch_size, args.repeats = 0.25, 16, 2
    if args.threads:
        intra, inter = map(int, args.threads.split(","))
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    gpu = common.gpu_name()
    unknown = sorted(set(args.variants or ()) - set(common.variants(gpu)))
    if unknown:
        parser.error(f"no variant {unknown} here: choose from {list(common.variants(gpu))}")
    peak = common.matmul_peak()
    threading = tf.config.threading
    threads = threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()
    print(f"device: {gpu or 'CPU'}; float32 matmul peak {peak:.1f} GFLOP/s; threads intra, inter {threads} (0: auto)\n")
    with tempfile.TemporaryDirectory() as tmp:
        effnet_rows(args, tmp, gpu, peak)
        if args.backbones:
            backbone_rows(args, tmp, gpu, peak)
    if not gpu:
        print("\nno GPU here: the mixed-precision rows are measured only where one is visible")


if __name__ == "__main__":
    main()
