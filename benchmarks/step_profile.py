"""Where an EfficientNet-B0 COLA training step's time goes on this machine, and what that leaves reachable.

    python benchmarks/step_profile.py            # batch 64 pairs, width 1: train_speed.py's step
    python benchmarks/step_profile.py --quick    # width 0.25, batch 8 pairs: a smoke run

Profiles ``--steps`` trainer steps (after a warm-up step) with TensorFlow's profiler and sums every op
type's self time over the threads ("framework_op_stats"; ``IDLE``: a thread of the pools waiting),
grouped as convolutions (oneDNN), depthwise convolutions, matmuls and the rest (elementwise ops,
reductions, batch-norm and swish passes). Next to it, the memory bandwidth this machine gives: NumPy
copying an array far larger than the caches, and TensorFlow's own elementwise kernels (``Mul``,
``Sigmoid``) on activation-sized tensors, in bytes read and written per second. Then two limits:
  convolutions free   patches/s if every convolution and matmul took no time and the rest (idle
                      time included) stayed as measured,
  at copy bandwidth   patches/s if, besides, the rest ran at NumPy's copy bandwidth instead of
                      TensorFlow's elementwise one (its time scaled by their ratio).
"""

import argparse
import glob
import json
import tempfile
import time
from collections import Counter

import common
import numpy as np
import tensorflow as tf

GROUPS = {  # first match wins, on the op type in lower case
    "idle (threads waiting)": ("idle",),
    "depthwise convolutions": ("depthwise",),
    "convolutions": ("conv2d",),
    "matmuls": ("matmul",),
}
REST = "elementwise ops, reductions and the rest"
COLUMNS = ["group", "s per step", "share", "top op types"]


def op_times(trace_dir):
    """``{op type: self seconds}`` summed over the threads, from the profile written into ``trace_dir``."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    paths = glob.glob(f"{trace_dir}/**/*.xplane.pb", recursive=True)
    data, ok = plugin.xspace_to_tools_data(paths, "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"the profiler wrote no op statistics into {trace_dir}")
    table = json.loads(data)[0]
    names = [column["id"] for column in table["cols"]]
    times = Counter()
    for row in table["rows"]:
        cells = dict(zip(names, (cell.get("v") for cell in row["c"])))
        times[cells["type"]] += cells["total_self_time"] / 1e6
    return times


def group_of(op_type):
    return next((name for name, keys in GROUPS.items() if any(k in op_type.lower() for k in keys)), REST)


def copy_bandwidth(megabytes=256, repeats=5):
    """GB/s of NumPy copying ``megabytes`` (bytes read + written), best of ``repeats``."""
    source = np.ones(megabytes * 2**20 // 4, np.float32)
    target = np.empty_like(source)
    best = min(_timed(lambda: np.copyto(target, source)) for _ in range(repeats))
    return 2 * source.nbytes / best / 1e9


def tf_elementwise_bandwidth(shape=(128, 64, 48, 96), repeats=5):
    """``{op: GB/s}`` of TensorFlow's Mul and Sigmoid on float32 tensors of ``shape`` (an expanded block's
    activations at batch 64 pairs: 150 MB), bytes read + written, best of ``repeats``."""
    a, b = tf.random.normal(shape), tf.random.normal(shape)
    size = a.numpy().nbytes
    ops = {"Mul": (lambda: tf.multiply(a, b), 3), "Sigmoid": (lambda: tf.sigmoid(a), 2)}
    return {
        name: passes * size / min(_timed(lambda op=op: op().numpy()) for _ in range(repeats)) / 1e9
        for name, (op, passes) in ops.items()
    }


def _timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64, help="pairs per step (default 64)")
    parser.add_argument("--width", type=float, default=1.0, help="backbone width (default 1)")
    parser.add_argument("--steps", type=int, default=2, help="steps profiled (default 2)")
    parser.add_argument("--target", type=float, default=45.0, help="patches/s to compare with (default 45)")
    parser.add_argument("--quick", action="store_true", help="width 0.25, batch 8 pairs, 1 step")
    args = parser.parse_args()
    if args.quick:
        args.batch_size, args.width, args.steps = 8, 0.25, 1
    with tempfile.TemporaryDirectory() as tmp:
        rates = common.effnet_cola_rates(tmp, args.batch_size, args.width, args.steps, {"run": {}})["run"]
        rates.step()  # warm-up: tracing, oneDNN's primitive caches
        print(f"{common.load()} (before)")
        seconds = _timed(rates.step) / args.steps
        tf.profiler.experimental.start(f"{tmp}/trace")
        rates.step()
        tf.profiler.experimental.stop()
        times = op_times(f"{tmp}/trace")
    copy = copy_bandwidth()
    elementwise = tf_elementwise_bandwidth()
    print(f"{common.load()} (after)\n")

    total = sum(times.values())
    groups = Counter()
    for op_type, value in times.items():
        groups[group_of(op_type)] += value
    rows = []
    for name, value in groups.most_common():
        members = Counter({t: v for t, v in times.items() if group_of(t) == name}).most_common(4)
        rows.append(
            {
                "group": name,
                "s per step": value / args.steps,
                "share": value / total,
                "top op types": ", ".join(f"{t} {v / total:.0%}" for t, v in members),
            }
        )
    patches = rates.patches
    print(f"EffNet-B0 COLA, width {args.width:g}, batch {args.batch_size} pairs ({patches} patches a step)")
    print(f"step {seconds:.2f} s unprofiled = {patches / seconds:.1f} patches/s; op time summed over the threads:")
    common.table(rows, COLUMNS)
    convolutions = (groups["convolutions"] + groups["depthwise convolutions"] + groups["matmuls"]) / total
    rest = groups[REST] / total
    tf_rate = min(elementwise.values())
    free_convolutions = patches / (seconds * (1 - convolutions))  # idle time as measured
    at_copy = patches / (seconds * (1 - convolutions - rest * (1 - tf_rate / copy)))
    print(
        f"\nmemory bandwidth: NumPy copy {copy:.1f} GB/s; TensorFlow "
        + ", ".join(f"{name} {value:.1f} GB/s" for name, value in elementwise.items())
    )
    print(f"convolutions free: {free_convolutions:.1f} patches/s; the rest also at copy bandwidth: {at_copy:.1f}")
    print(
        f"target {args.target:g} patches/s: {'within' if free_convolutions >= args.target else 'beyond'} "
        "what faster convolutions alone could give"
    )


if __name__ == "__main__":
    main()
