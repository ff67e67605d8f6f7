"""Shared by the benchmarks: a catalogue of the real clips, and a training step's patch rate."""

import time
from pathlib import Path

import numpy as np
import pandas as pd

import musiczoo  # noqa: F401  (Essentia before TensorFlow)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CLIPS = DATA / "clips"


def clip_catalogue(folder, copies=1):
    """A catalogue of the real clips (each listed ``copies`` times under new ids), and its store.

    Metadata is synthetic but associative: release = clip, artist = pair of clips, label = four
    clips, playlists mix clips; every pair generator has pairs.
    """
    from musiczoo.train.catalogues.schema import catalogue_frame, write_catalogue
    from musiczoo.train.store import build_store

    paths = sorted(CLIPS.glob("*.ogg"))
    if not paths:
        raise SystemExit(f"needs the real clips in {CLIPS}")
    rows = [
        {
            "track_id": f"c{clip}k{copy}",
            "path": str(path),
            "artists": [f"a{clip // 2}"],
            "releases": [f"r{clip}"],
            "labels": [f"l{clip // 4}"],
            "playlists": [f"p{(clip + copy) % 5}"],
            "tags": [f"style---s{clip % 3}"],
        }
        for clip, path in enumerate(paths)
        for copy in range(copies)
    ]
    folder = Path(folder)
    write_catalogue(catalogue_frame(rows), folder / "catalogue.parquet")
    build_store(pd.read_parquet(folder / "catalogue.parquet"), folder / "features", workers=2, progress=False)
    return folder / "catalogue.parquet", folder / "features"


def train_step_rate(config, run_dir, steps=5):
    """Seconds per training step and patches consumed per second (data excluded), after one warm-up."""
    from musiczoo.train.config import resolve
    from musiczoo.train.trainer import Trainer

    trainer = Trainer(resolve(config), run_dir)
    trainer.build()
    step = trainer.step_function()
    batches = [trainer.batches(0, s % trainer.steps(0)) for s in range(steps + 1)]
    step(batches[0])  # tracing
    start = time.perf_counter()
    for batch in batches[1:]:
        float(step(batch)[0])
    seconds = (time.perf_counter() - start) / steps
    patches = sum(len(b["anchor"]) + len(b.get("positive", [])) for b in batches[1])
    return seconds, patches / seconds, trainer.model


def table(rows, columns):
    """Print rows (dicts) as an aligned text table."""
    frame = pd.DataFrame(rows, columns=columns)
    print(frame.to_string(index=False, float_format=lambda value: f"{value:,.3g}"))
    return frame


def flops_per_patch(model):
    """Forward FLOPs of one patch, counted by TensorFlow's profiler on the frozen graph."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    from tensorflow.python.profiler import model_analyzer, option_builder

    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, *model.input.shape[1:]], tf.float32)
    )
    graph = convert_variables_to_constants_v2(function).graph
    options = option_builder.ProfileOptionBuilder(option_builder.ProfileOptionBuilder.float_operation())
    options = options.with_empty_output().build()
    return model_analyzer.profile(graph, options=options).total_float_ops


def matmul_peak(size=2048, repeats=10):
    """Measured float32 matmul GFLOP/s on this machine (the FLOP bound's denominator)."""
    import tensorflow as tf

    a = tf.random.normal([size, size])
    tf.matmul(a, a).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        result = tf.matmul(a, a)
    result.numpy()
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def random_patch_rate(store, size, count=5000, seed=0):
    """Random patches read per second from a feature store."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(store.index.track_id.to_numpy(), count)
    start = time.perf_counter()
    for track in ids:
        store.patch(track, size, rng=rng)
    return count / (time.perf_counter() - start)
