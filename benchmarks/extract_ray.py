"""Extraction on Ray vs the local engine, and the per-file costs a cluster estimate is made from.

Run from anywhere (``../shared/data`` must sit beside the repository; ``pip install "musiczoo[ray]"``)::

    python benchmarks/extract_ray.py                       # the real clips, EfficientNet-B0
    python benchmarks/extract_ray.py --clips 3 --model ../shared/data/essentia-models/genre_dortmund_musicnn_msd.pb

The real clips of ``../shared/data/clips`` (Ogg Vorbis, 44.1 kHz: decoding and resampling are real)
are embedded end to end into a fresh folder by each engine: ``extract(..., workers=K)`` for the local
engine and ``extract_on_ray`` on a one-node Ray started here (one decoding task and one actor at a
time on 2 cores), worker and actor start-up included, Ray's own start-up timed apart. The model
defaults to a random-init EfficientNet-B0 (``discogs_track_embeddings-effnet``, exported on the fly:
the weights do not change the cost). Then, in this process pinned to one CPU (single-core costs),
each clip is timed stage by stage: decode (``decode``: the loader, resampling, checks), mel (the
TensorFlow mel front-end), model (the graph alone on as many patches, 64 at a time), essentia
(Essentia's wrapper: mel + model in one call, what the default back-end runs) and I/O (the ``.npy``
and the summary row the driver writes, one file after another). The estimate for ``--tracks``
tracks of ``--track-seconds`` on ``--nodes`` nodes scales those costs linearly, the stages pipelined
(the slowest bounds the run), with its assumptions printed beside it. The script exits 0 whatever
the result.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
from musiczoo.extractors import summary as outputs
from musiczoo.extractors.audio import SAMPLE_RATE
from musiczoo.extractors.extract import decode, extract, load_graph, save_embeddings
from musiczoo.extractors.graph import graph_function, predictor

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"
EFFNET = "discogs_track_embeddings-effnet"


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - start, value


def engines(model, clips, scratch, workers):
    """``(name, seconds)`` of each engine, end to end, and Ray's start-up."""
    from musiczoo.extractors.ray_engine import connect, extract_on_ray

    import ray

    rows = []
    for count in workers:
        seconds, summary = timed(extract, model, clips, scratch / f"local-{count}", workers=count, progress=False)
        assert (summary.status == "ok").all(), summary.error.dropna().tolist()
        rows.append((f"local, {count} worker{'s' * (count > 1)}", seconds))
    start_up, _ = timed(connect)
    try:
        seconds, summary = timed(extract_on_ray, model, clips, scratch / "ray", progress=False)  # Ray's defaults
        assert (summary.status == "ok").all(), summary.error.dropna().tolist()
        rows.append((f"ray, one node ({int(ray.cluster_resources()['CPU'])} CPUs)", seconds))
    finally:
        ray.shutdown()
    return rows, start_up


def stage_costs(model, clips, scratch):
    """Per clip ``(seconds of audio, {stage: seconds})``, in this process on one CPU; the graph; its dim."""
    import tensorflow as tf

    from musiczoo.extractors.mel import tf_melspectrogram

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    graph = load_graph(model)
    essentia, tensorflow = predictor(graph, backend="essentia"), predictor(graph, backend="tensorflow")
    graph_alone = graph_function(graph)
    bands = graph.metadata["schema"]["inputs"][0]["shape"][-1]
    mel = tf.function(lambda audio: tf_melspectrogram(audio, graph.mel), input_signature=[tf.TensorSpec([None])])
    part = outputs.Part(scratch / "io")
    costs = []
    for round_ in ("warm-up", "timed"):
        for clip in clips:
            decoding, (audio, _) = timed(decode, clip)
            shape = (graph.patches_for(audio.size), graph.patch_size, bands)
            patches = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            mel_alone, _ = timed(lambda: mel(audio).numpy())
            model_alone, _ = timed(lambda: [graph_alone(patches[i : i + 64]) for i in range(0, len(patches), 64)])
            embeddings = tensorflow(audio)
            wrapper, _ = timed(essentia, audio)
            target = scratch / "io" / f"{clip.stem}.npy"
            io, fields = timed(save_embeddings, target, audio.size / SAMPLE_RATE, embeddings)
            io += timed(part.add, {"path": str(clip), **fields})[0]
            if round_ == "timed":
                stages = {"decode": decoding, "mel": mel_alone, "model": model_alone, "I/O": io}
                costs.append((audio.size / SAMPLE_RATE, stages | {"essentia": wrapper}))
    part.close()
    return costs, graph, embeddings.shape[1]


def estimate(per_second, patches_per_second, dim, args):
    """Lines of the paper estimate from single-core costs per second of audio (stages pipelined: the slowest
    bounds the run)."""
    audio = args.tracks * args.track_seconds
    cores = args.nodes * args.cores
    hours = lambda seconds: f"{seconds / 3600:.2f} h"  # noqa: E731
    driver = audio * per_second["I/O"] / args.drivers  # each driver writes its .npy and rows one after another
    cpu = {  # decode, mel and model share the cores
        "decode + mel + model (tensorflow back-end)": audio * sum(per_second[s] for s in ("decode", "mel", "model")),
        "decode + Essentia's wrapper (essentia back-end)": audio * (per_second["decode"] + per_second["essentia"]),
    }
    gpu = {"decode (CPUs)": audio * per_second["decode"] / cores}
    gpu["mel + model (GPUs)"] = audio * patches_per_second / (args.nodes * args.gpu_patches)
    lines = [
        f"{args.tracks:g} tracks of {args.track_seconds:g} s on {args.nodes} nodes of {args.cores} cores, "
        f"{args.drivers} driver(s) (--shard); the single-core costs above, spread over every core:"
    ]
    for name, core_seconds in cpu.items():
        parts = {name: core_seconds / cores, "driver I/O": driver}
        bound = max(parts, key=parts.get)
        lines.append(
            f"  no GPU, {name}: {hours(parts[name])}; driver I/O {hours(driver)}: {hours(parts[bound])}, "
            f"bound by {bound}"
        )
    parts = gpu | {"driver I/O": driver}
    bound = max(parts, key=parts.get)
    lines.append(
        f"  a GPU a node at {args.gpu_patches:g} patches/s (assumed): "
        + ", ".join(f"{name} {hours(t)}" for name, t in parts.items())
        + f": {hours(parts[bound])}, bound by {bound}"
    )
    lines.append(f"  (embeddings: {audio * patches_per_second * dim * 4 / 1e12:.2f} TB of float32 into OUT)")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help=f"registry name or .pb (default: a random-init {EFFNET} export)")
    parser.add_argument("--clips", type=int, default=8, help="real clips to embed (default 8: all)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="local engine K (default 1 2)")
    parser.add_argument("--tracks", type=float, default=1e6, help="estimate: tracks (default 1e6)")
    parser.add_argument("--track-seconds", type=float, default=240.0, help="estimate: seconds a track (240)")
    parser.add_argument("--nodes", type=int, default=100, help="estimate: nodes (default 100)")
    parser.add_argument("--cores", type=int, default=16, help="estimate: cores a node (default 16)")
    parser.add_argument("--gpu-patches", type=float, default=5000.0, help="estimate: patches/s a GPU (5000)")
    parser.add_argument("--drivers", type=int, default=1, help="estimate: drivers, one a --shard (default 1)")
    args = parser.parse_args(argv)
    clips = sorted(CLIPS.glob("*.ogg"))[: args.clips]
    if not clips:
        raise SystemExit(f"needs the real clips in {CLIPS}")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model = args.model
        if model is None:
            from musiczoo.zoo import export

            model = export.export_random_init(EFFNET, scratch / "model", register=False)
        rows, start_up = engines(model, clips, scratch, args.workers)
        costs, graph, dim = stage_costs(model, clips, scratch)
    audio = sum(seconds for seconds, _ in costs)
    print(f"\n{len(clips)} real clips, {audio:.0f} s of audio, {graph.name}, {os.cpu_count()} CPUs (shared)")
    print(f"{'engine':>28} {'seconds':>8} {'files/s':>8} {'x real time':>12} {'vs local, 1':>12}")
    for name, seconds in rows:
        ratio = rows[0][1] / seconds
        print(f"{name:>28} {seconds:8.1f} {len(clips) / seconds:8.2f} {audio / seconds:12.1f} {ratio:12.2f}")
    print(f"{'(ray start-up, once)':>28} {start_up:8.1f}")
    stages = list(costs[0][1])
    print(f"\nper file, one CPU: seconds ({', '.join(stages)})")
    for clip, (seconds, cost) in zip(clips, costs):
        print(f"  {clip.name[:36]:36s} {seconds:6.1f} s audio  " + "  ".join(f"{cost[s]:7.3f}" for s in stages))
    per_second = {stage: sum(cost[stage] for _, cost in costs) / audio for stage in stages}
    print("per second of audio: " + ", ".join(f"{stage} {1e3 * t:.2f} ms" for stage, t in per_second.items()))
    patches = sum(graph.patches_for(int(seconds * SAMPLE_RATE)) for seconds, _ in costs) / audio
    print()
    for line in estimate(per_second, patches, dim, args):
        print(line)
    return 0


if __name__ == "__main__":
    main()
