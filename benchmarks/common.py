"""Shared by the benchmarks: a catalogue of the real clips (or of copies of a corpus's tracks), the precision and
compilation variants, a training run's step, loop and input rates, and timings taken interleaved (the machine may be
shared: ratios stay fair under load)."""

import math
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

import musiczoo  # noqa: F401  (Essentia before TensorFlow)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CLIPS = DATA / "clips"
STAT = ["size", "mtime_ns"]  # a store index's record of the file read
EFFNET = "discogs_artist_embeddings-effnet"
BACKBONE_CASES = [  # backbone model, objective, pairs (a step costs the same whatever association made the pairs)
    (EFFNET, "cola", "track"),
    ("discogs_style_tags-effnet", "multilabel", None),
    ("playlist_co_embeddings-vggish", "ntxent", "track"),
    ("playlist_co_embeddings-resnet50", "ntxent", "track"),
]
VARIANTS = {  # precision and compilation: a training config's overrides
    "float32": {},
    "xla": {"jit_compile": True},
    "mixed_float16": {"mixed_precision": True},
    "mixed_float16+xla": {"mixed_precision": True, "jit_compile": True},
}


def clips():
    """The real clips' paths."""
    paths = sorted(CLIPS.glob("*.ogg"))
    if not paths:
        raise SystemExit(f"needs the real clips in {CLIPS}")
    return paths


def clip_catalogue(folder, copies=1):
    """A catalogue of the real clips (each listed ``copies`` times under new ids), and its store.

    Metadata is synthetic but associative: release = clip, artist = pair of clips, label = four
    clips, playlists mix clips; every pair generator has pairs. Each clip is decoded once: its
    copies share its mels.
    """
    from musiczoo.train.catalogues.schema import catalogue_frame, write_catalogue
    from musiczoo.train.store import FeatureStore, build_store

    paths = clips()
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
    catalogue = pd.read_parquet(folder / "catalogue.parquet")
    build_store(catalogue.drop_duplicates("path"), folder / "clips", workers=2, progress=False)
    copies_store(catalogue, FeatureStore(folder / "clips"), folder / "features")
    return folder / "catalogue.parquet", folder / "features"


def copies_store(catalogue, decoded, store, frames=None):
    """Write the feature store ``store``: one shard with, for each row (``track_id``, ``path``) of ``catalogue``,
    the mel that the :class:`~musiczoo.train.store.FeatureStore` ``decoded`` holds of that path (its middle
    ``frames`` frames, if given): copies of a track share a decoded mel, and no audio is decoded again."""
    from musiczoo.train.store import DTYPE, _write_shard, build_store

    build_store(catalogue[:0], store, progress=False)  # an empty store, then one shard of every copy
    source = decoded.index.set_index("path")

    def mel(path):
        whole = decoded.mel(source.track_id[path])
        start = max(0, (len(whole) - frames) // 2) if frames else 0
        return whole[start : start + frames if frames else None].astype(DTYPE)

    _write_shard(
        store,
        0,
        [
            (track, path, source.duration[path], mel(path), "", source.loc[path, STAT])
            for track, path in zip(catalogue.track_id, catalogue.path)
        ],
        decoded.meta["bands"],
    )
    return store


def replicated_catalogue(folder, catalogue, store, copies, frames=None):
    """The tracks of ``catalogue`` (a ``musiczoo data build`` Parquet) that ``store`` holds, each listed ``copies``
    times under new ids (``<id>k<copy>``, metadata kept), in ``folder/catalogue.parquet``, with their mels (the middle
    ``frames``, if given) in ``folder/features``: enough tracks for many full batches from a small corpus."""
    from musiczoo.train.catalogues.schema import read_catalogue, write_catalogue
    from musiczoo.train.store import FeatureStore

    decoded = FeatureStore(store)
    held = read_catalogue(catalogue)
    held = held[held.path.isin(decoded.index.path[decoded.index.frames > 0])]
    rows = pd.concat([held.assign(track_id=held.track_id + f"k{copy}") for copy in range(copies)], ignore_index=True)
    folder = Path(folder)
    write_catalogue(rows, folder / "catalogue.parquet")
    copies_store(rows, decoded, folder / "features", frames)
    return folder / "catalogue.parquet", folder / "features"


def variants(gpu):
    """Precision and compilation variants: float32 and XLA everywhere, mixed precision on a GPU."""
    return {name: extra for name, extra in VARIANTS.items() if gpu or not extra.get("mixed_precision")}


def gpu_name():
    """The first visible GPU's name (TensorFlow's), or None."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else None


def load():
    """The machine's load averages (1, 5, 15 min) next to its cores, for a table's header."""
    return f"load average {' / '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores"


def interleaved(measures, repeats):
    """Median seconds of each ``name -> callable`` (called once to warm up), the calls alternating.

    A callable that returns a number has timed itself (e.g. leaving its set-up out): that number is taken.
    """
    for measure in measures.values():
        measure()
    seconds = {name: [] for name in measures}
    for _ in range(repeats):
        for name, measure in measures.items():
            start = time.perf_counter()
            timed = measure()
            seconds[name].append(time.perf_counter() - start if timed is None else timed)
    return {name: statistics.median(values) for name, values in seconds.items()}


class TrainingRates:
    """Callables that run ``steps`` training steps of a built :class:`~musiczoo.train.trainer.Trainer`:
    the step alone on batches already in memory, the trainer's loop (its input pipeline feeding the
    step), the input pipeline alone, and the pipeline feeding a paced stand-in step. The loop and the
    pipelines are timed after an epoch's first batch: its set-up, paid once an epoch, is :meth:`first_batch`.
    ``patches``: patches one step consumes."""

    def __init__(self, trainer, steps):
        from musiczoo.train.distribute import distributed_batches

        if trainer.steps(0) < steps:
            raise ValueError(f"the catalogue gives {trainer.steps(0)} steps an epoch, fewer than {steps}")
        self.trainer, self.train_step, self.steps = trainer, trainer.step_function(), steps
        self.batches = lambda: distributed_batches(trainer.strategy, trainer.train_data, 0, 0, steps + 1)
        self.held = list(distributed_batches(trainer.strategy, trainer.train_data, 0, 0, steps))
        first = trainer.batches(0, 0)
        self.patches = sum(len(b["anchor"]) + len(b.get("positive", [])) for b in first)

    def step(self):
        for batches in self.held:
            self._train(batches)

    def loop(self):
        return self._after_first_batch(self._train)

    def pipeline(self):
        return self._after_first_batch(lambda batches: None)

    def paced(self, patches_per_second):
        """The pipeline feeding a stand-in step that takes as long as a device consuming ``patches_per_second``
        (a sleep: like a device step, it holds neither the GIL nor a core)."""
        return self._after_first_batch(lambda batches: time.sleep(self.patches / patches_per_second))

    def first_batch(self):
        next(iter(self.batches()))

    def _after_first_batch(self, consume):
        """Seconds ``consume`` takes over the ``steps`` batches that follow an epoch's first."""
        if self.trainer.steps(0) <= self.steps:
            epoch = self.trainer.steps(0)
            raise ValueError(f"the catalogue gives {epoch} steps an epoch: these measures need {self.steps + 1}")
        batches = iter(self.batches())
        consume(next(batches))
        start = time.perf_counter()
        for step in batches:
            consume(step)
        return time.perf_counter() - start

    def _train(self, batches):
        loss, top1 = self.train_step(batches)
        float(loss), float(top1)  # as the trainer's loop: the host waits for every step


def built_trainer(config, run_dir):
    """A :class:`~musiczoo.train.trainer.Trainer` of a config mapping, its variables built."""
    from musiczoo.train.config import resolve
    from musiczoo.train.trainer import Trainer

    trainer = Trainer(resolve(config), run_dir)
    trainer.build()
    return trainer


def backbone_overrides(model, width):
    """The backbone keys that shrink ``model`` to ``width`` (EfficientNet: depth too)."""
    if width == 1:
        return {}
    return {"width": width, "depth": width} if "effnet" in model else {"width": width}


def training_config(model, loss, pairs, catalogue, store, batch_size, width, **extra):
    """A one-epoch training config mapping of ``model`` at ``width`` with one objective, no validation."""
    return {
        "model": model,
        "catalogue": str(catalogue),
        "store": str(store),
        "backbone": backbone_overrides(model, width),
        "objectives": [{"loss": loss, **({"pairs": pairs} if pairs else {})}],
        "batch_size": batch_size,
        "validation_fraction": 0,
        "epochs": 1,
        **extra,
    }


def effnet_cola_rates(folder, batch_size, width, steps, variants):
    """EffNet-B0 COLA (track pairs) on the real clips: ``{name: TrainingRates}`` of ``steps`` steps, one built
    trainer (run folder ``folder/name``) per ``name -> config overrides`` of ``variants``, all on one catalogue."""
    copies = math.ceil(batch_size * (steps + 1) / len(clips()))  # a first batch, then the measure
    catalogue, store = clip_catalogue(folder, copies=copies)
    return {
        name: TrainingRates(
            built_trainer(
                training_config(EFFNET, "cola", "track", catalogue, store, batch_size, width, **extra),
                f"{folder}/{name}",
            ),
            steps,
        )
        for name, extra in variants.items()
    }


def train_step_rate(config, run_dir, steps=5):
    """Seconds per training step and patches consumed per second (data excluded), after one warm-up."""
    trainer = built_trainer(config, run_dir)
    rates = TrainingRates(trainer, min(steps, trainer.steps(0)))
    seconds = interleaved({"step": rates.step}, 1)["step"] / rates.steps
    return seconds, rates.patches / seconds, trainer.model


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
