"""The GPU check of issue 24 (item 6): one script that measures and trains at GPU scale on a GPU, meant to take
under 8 minutes there (not yet timed on one: no lent machine here has TensorFlow).

    # a GPU machine with TensorFlow (GPU build) and essentia-tensorflow, the gamemusic-large corpus built as
    # benchmarks/README.md, "Real recordings" says (data/gamemusic-large/audio and its metadata.csv)
    python benchmarks/gpu_check.py --out bench/gpu_check.csv
    python benchmarks/gpu_check.py --tracks 60 --seconds 90 --out bench/gpu_check.csv    # a subset, middle 90 s
    # anywhere, on a CPU, in about a minute: tiny widths, 1-2 steps, a few seconds of the test clips
    python benchmarks/gpu_check.py --smoke --out /tmp/gpu_check.csv

One table (stage, variant, value, unit, note), printed and written to --out as CSV; stages in the order they run:

  features   (b) a catalogue of --audio with its --metadata table (``build_folder``, the call behind
             ``musiczoo data build folder``) and its feature store (``build_store``, behind ``musiczoo data
             features``): seconds each. ``--tracks N``: N tracks taken in turn from each game (the metadata's
             ``labels``); ``--seconds S``: the middle S seconds of each, written as WAV first.
  device     the device TensorFlow computes on, and its float32 matmul GFLOP/s.
  speed      (a) patches/s of the training step on batches already in memory (the data excluded; after a
             warm-up, so tracing and XLA compilation are left out) of EfficientNet-B0 COLA, VGGish and ResNet50
             NT-Xent, track pairs, in float32, mixed_float16, XLA (``jit_compile``) and mixed_float16+XLA, on
             copies of the corpus's tracks (``common.replicated_catalogue``).
  train      (c) ``configs/recipe_asap.yaml`` (scratch EfficientNet-B0 w0.5, NT-Xent on track pairs) with its
             catalogue and store set to the corpus, batch and epochs scaled by --batch-size, --epochs (``train``,
             the call behind ``musiczoo train``): seconds, patches/s of its training steps, final top-1.
  benchmark  (d) ``musiczoo benchmark``'s call (``benchmark``) of the trained run beside ``mel-stats`` on
             benchmarks/tasks/gamemusic.yaml (held out: other games, other artists): each task's main metric.

A variant this device cannot run (mixed precision or XLA without a GPU: mixed float16 on a CPU is emulated, and XLA
is ~9x slower for EfficientNet-B0 on a CPU; ``train_speed.py`` measures that) is "not measured", with the reason,
never a number. A stage that fails says "failed" and why, and the script exits 1. Without TensorFlow or Essentia,
every row is "not measured" (the lent GPU machines of this workplace have neither: benchmarks/README.md).
"""

import argparse
import csv
import gc
import math
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "benchmarks") not in sys.path:  # common.py, when this file is imported as a module (the tests)
    sys.path.insert(0, str(ROOT / "benchmarks"))
AUDIO = ROOT / "data" / "gamemusic-large" / "audio"
RECIPE = ROOT / "configs" / "recipe_asap.yaml"
TASKS = ROOT / "benchmarks" / "tasks" / "gamemusic.yaml"
STAGES = ("features", "device", "speed", "train", "benchmark")
COLUMNS = ("stage", "variant", "value", "unit", "note")
NOT_MEASURED = "not measured"
VARIANT_NAMES = ("float32", "mixed_float16", "xla", "mixed_float16+xla")  # common.VARIANTS
NO_GPU = {  # a variant's part -> its name and why it is measured on a GPU only
    "mixed_float16": ("mixed float16", "a CPU emulates float16"),
    "xla": ("XLA", "~9x slower for EfficientNet-B0 on a CPU: train_speed.py measures it there"),
}
SHORT = {"discogs_artist_embeddings-effnet": "effnet-b0", "playlist_co_embeddings-vggish": "vggish"}
SHORT["playlist_co_embeddings-resnet50"] = "resnet50"
# option: (GPU scale, --smoke); None: the recipe's or the tasks file's own
SCALES = {
    "tracks": (0, 8),
    "seconds": (None, 6.0),
    "workers": (os.cpu_count(), 1),
    "width": (1.0, 0.125),
    "speed_batch": (64, 2),
    "speed_steps": (10, 1),
    "speed_frames": (1024, None),
    "batch_size": (64, 2),
    "epochs": (100, 1),
    "steps_per_epoch": (None, 2),
    "train_width": (None, 0.125),
    "precise_bn": (None, 4),
    "bench_tracks": (0, 12),
    "bench_seconds": (None, 5.0),
    "seeds": (3, 1),
    "probe_epochs": (30, 2),
}


class Table:
    """The check's rows: a number with its unit, or "not measured" / "failed" with the reason."""

    def __init__(self):
        self.rows = []

    def add(self, stage, variant, value, unit, note=""):
        self.rows.append(dict(zip(COLUMNS, (stage, variant, float(value), unit, note))))
        print(f"  {stage:<10} {variant:<32} {value:>12,.4g} {unit:<12} {note}", flush=True)

    def not_measured(self, stage, variant, reason):
        self.rows.append(dict(zip(COLUMNS, (stage, variant, math.nan, "", f"{NOT_MEASURED}: {reason}"))))
        print(f"  {stage:<10} {variant:<32} {NOT_MEASURED:>12} {'':<12} {reason}", flush=True)

    def failed(self, stage, variant, error):
        message = (error if isinstance(error, str) else f"{type(error).__name__}: {error}").splitlines()[0][:300]
        self.rows.append(dict(zip(COLUMNS, (stage, variant, math.nan, "", f"failed: {message}"))))
        print(f"  {stage:<10} {variant:<32} {'failed':>12} {'':<12} {message}", flush=True)

    def print(self):
        widths = [max(len(c), *(len(_cell(row, c)) for row in self.rows)) for c in COLUMNS[:-1]]
        print("\n" + "  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)))
        for row in self.rows:
            print("  ".join([_cell(row, c).ljust(w) for c, w in zip(COLUMNS, widths)] + [row["note"]]))

    def write(self, path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as file:
            writer = csv.DictWriter(file, COLUMNS)
            writer.writeheader()
            writer.writerows({**row, "value": "" if math.isnan(row["value"]) else row["value"]} for row in self.rows)


def _cell(row, column):
    value = row[column]
    if column != "value":
        return str(value)
    if math.isnan(value):
        return NOT_MEASURED if row["note"].startswith(NOT_MEASURED) else "failed"
    return f"{value:,.4g}"


# -- (b) the corpus ------------------------------------------------------------------------------------------------
def smoke_audio(folder):
    """The real test clips (../shared/data/clips) and a metadata table for them: artist = two clips, release = one,
    label = four (every pair kind has pairs)."""
    import common
    import pandas as pd

    paths = sorted(common.CLIPS.glob("*.ogg"))
    if not paths:
        raise FileNotFoundError(f"--smoke without --audio needs the test clips in {common.CLIPS}")
    rows = [
        {"path": path.name, "artists": f"a{i // 2}", "releases": f"r{i}", "labels": f"l{i // 4}"}
        for i, path in enumerate(paths)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "metadata.csv", index=False)
    return common.CLIPS, folder / "metadata.csv"


def corpus_subset(audio, metadata, folder, tracks=0, seconds=None):
    """``(audio folder, metadata table)`` of ``tracks`` tracks (0: all) taken in turn from each game (the table's
    ``labels``, else the sub-folder), each cut to its middle ``seconds`` (written as WAV) when given."""
    import numpy as np
    import pandas as pd

    from musiczoo.extractors.audio import SAMPLE_RATE, AudioError, find_audio, load_audio
    from musiczoo.runtime import essentia_standard, native_stderr_silenced

    audio = Path(audio).resolve()
    if metadata:
        table = pd.read_csv(metadata, dtype=str, keep_default_na=False)
        table = table.rename(columns={"file": "path"})
    else:
        table = pd.DataFrame({"path": [str(p.relative_to(audio)) for p in find_audio([audio])]})
    if tracks and tracks < len(table):
        group = table["labels"] if "labels" in table else table.path.map(lambda p: Path(p).parent.name)
        order = table.assign(_group=group, _turn=table.groupby(group).cumcount()).sort_values(["_turn", "_group"])
        table = table.loc[order.index[:tracks]].reset_index(drop=True)
    if seconds:
        keep = int(seconds * SAMPLE_RATE)
        cut = []
        for relative in table.path:
            try:
                signal = load_audio(audio / relative)
            except AudioError:  # left to the catalogue, which excludes the missing file with its reason
                cut.append(relative)
                continue
            start = max(0, (len(signal) - keep) // 2)
            target = folder / "audio" / Path(relative).with_suffix(".wav")
            target.parent.mkdir(parents=True, exist_ok=True)
            with native_stderr_silenced():  # FFmpeg's muxer notes
                essentia_standard().MonoWriter(filename=str(target), sampleRate=SAMPLE_RATE, format="wav")(
                    np.asarray(signal[start : start + keep], np.float32)
                )
            cut.append(str(target.relative_to(folder / "audio")))
        table["path"], audio = cut, folder / "audio"
    if not (tracks or seconds):
        return audio, metadata
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "metadata.csv", index=False)
    return audio, folder / "metadata.csv"


def features_stage(table, args, work):
    """Catalogue and feature store of the corpus, through the calls behind ``musiczoo data build folder`` and
    ``musiczoo data features``; returns ``(catalogue, store)``."""
    from musiczoo.train.catalogues.folder import build_folder
    from musiczoo.train.catalogues.schema import read_catalogue
    from musiczoo.train.store import FeatureStore, build_store

    audio, metadata = args.audio, args.metadata
    if audio is None and args.smoke:
        audio, metadata = smoke_audio(work / "clips")
    audio = Path(audio or AUDIO).resolve()
    if metadata is None and (audio.parent / "metadata.csv").is_file():  # gamemusic_large.py writes it there
        metadata = audio.parent / "metadata.csv"
    if not audio.is_dir():
        raise FileNotFoundError(f"no audio folder {audio} (benchmarks/README.md, 'Real recordings', builds it)")
    started = time.perf_counter()
    audio, metadata = corpus_subset(audio, metadata, work / "subset", args.tracks, args.seconds)
    if args.tracks or args.seconds:
        table.add("features", "subset", time.perf_counter() - started, "s", _subset_note(args))
    started = time.perf_counter()
    catalogue, excluded = build_folder(audio, work / "corpus", metadata=metadata)
    outside = excluded.reason == "not in the metadata table"  # the folder's other files, left out by --tracks
    table.add(
        "features",
        "catalogue",
        time.perf_counter() - started,
        "s",
        f"build_folder (musiczoo data build folder): {len(catalogue)} tracks, {int((~outside).sum())} excluded"
        + (f", {int(outside.sum())} files outside the table" if outside.any() else ""),
    )
    started = time.perf_counter()
    store = work / "corpus" / "features"
    build_store(read_catalogue(work / "corpus" / "catalogue.parquet"), store, workers=args.workers, progress=False)
    seconds, info = time.perf_counter() - started, FeatureStore(store).info()
    table.add(
        "features",
        "store",
        seconds,
        "s",
        f"build_store (musiczoo data features): {info['tracks']} tracks, {info['hours']:.2f} h of audio "
        f"({info['hours'] * 3600 / seconds:,.0f}x real time), {args.workers} workers, {len(info['excluded'])} excluded",
    )
    if not info["tracks"]:
        raise ValueError(f"no usable track in {audio}")
    return work / "corpus" / "catalogue.parquet", store


def _subset_note(args):
    parts = [f"{args.tracks} tracks, in turn from each game" if args.tracks else "every track"]
    return ", ".join(parts + ([f"the middle {args.seconds:g} s of each, as WAV"] if args.seconds else []))


# -- device and (a) speed ------------------------------------------------------------------------------------------
def device_stage(table, args, gpu):
    """The device's row: its name and float32 matmul rate."""
    import common
    import tensorflow as tf

    peak = common.matmul_peak(size=512 if args.smoke else 4096, repeats=3 if args.smoke else 20)
    note = f"float32 matmul; TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores"
    table.add("device", gpu or "CPU (no GPU visible)", peak, "GFLOP/s", note)


def unavailable(variant, gpu):
    """Why ``variant`` is not measured on this device, or None."""
    parts = [reason for part, reason in NO_GPU.items() if part in variant]
    if gpu or not parts:
        return None
    names, why = zip(*parts)
    verb = "are" if len(names) > 1 else "is"
    return f"no GPU: {' and '.join(names)} {verb} measured on a GPU only ({'; '.join(why)})"


def _release():
    import keras

    keras.backend.clear_session()
    gc.collect()


def speed_stage(table, args, gpu, catalogue, store, work):
    """Patches/s of each backbone's training step in each variant; returns ``{(model, variant): patches/s}``."""
    import common

    from musiczoo.train.store import FeatureStore

    copies = math.ceil(args.speed_batch * (args.speed_steps + 1) / len(FeatureStore(store)))
    catalogue, store = common.replicated_catalogue(work / "speed", catalogue, store, copies, args.speed_frames)
    rates = {}
    for model, loss, pairs in [case for case in common.BACKBONE_CASES if case[2]]:
        for variant in args.variants:
            name = f"{SHORT.get(model, model)} {variant}"
            reason = unavailable(variant, gpu)
            if reason:
                table.not_measured("speed", name, reason)
                continue
            extra = common.VARIANTS[variant]
            config = common.training_config(model, loss, pairs, catalogue, store, args.speed_batch, args.width, **extra)
            try:
                seconds, rate, _ = common.train_step_rate(
                    config, work / "speed" / f"{model}-{variant}", args.speed_steps
                )
            except Exception as error:  # noqa: BLE001 - one variant that fails (memory, a kernel) is a row
                table.failed("speed", name, error)
            else:
                rates[(model, variant)] = rate
                note = f"{loss}; step {seconds:.3g} s, batch {args.speed_batch} pairs, width {args.width:g}"
                table.add("speed", name, rate, "patches/s", f"{note}, {args.speed_steps} steps after a warm-up")
            finally:
                _release()
    return rates


# -- (c) train -----------------------------------------------------------------------------------------------------
def train_variant(args, gpu, rates):
    """The variant to train with: --train-variant, or (auto) the fastest EfficientNet-B0 variant measured."""
    if args.train_variant != "auto":
        return args.train_variant
    import common

    measured = {variant: rate for (model, variant), rate in rates.items() if model == common.EFFNET}
    return max(measured, key=measured.get) if measured else "float32"


def train_stage(table, args, gpu, catalogue, store, work, rates):
    """The scratch track-pairs recipe on the corpus; returns the run folder."""
    import common

    from musiczoo.train.trainer import train
    from musiczoo.zoo.run import read_record

    variant = train_variant(args, gpu, rates)
    name = f"recipe_asap {variant}"
    reason = unavailable(variant, gpu)
    if reason:
        table.not_measured("train", name, reason)
        return None
    overrides = {"catalogue": str(catalogue), "store": str(store), "batch_size": args.batch_size, "epochs": args.epochs}
    overrides |= common.VARIANTS[variant]
    if args.steps_per_epoch:
        overrides["steps_per_epoch"] = args.steps_per_epoch
    if args.train_width:
        overrides["backbone"] = {"width": args.train_width, "depth": args.train_width, "drop_connect_rate": 0.0}
    if args.precise_bn is not None:
        overrides["precise_bn"] = args.precise_bn
    run_dir = work / "run"
    started = time.perf_counter()
    log = train(str(RECIPE), run_dir, overrides=overrides, progress=False)
    seconds = time.perf_counter() - started
    steps = read_record(run_dir)["metadata"]["dataset"]["training"]["steps"]
    patches = 2 * args.batch_size * steps  # track pairs: an anchor and a positive patch each
    table.add(
        "train",
        name,
        seconds,
        "s",
        f"configs/recipe_asap.yaml, {len(log)} epochs, {steps} steps of {args.batch_size} pairs"
        + (f", width {args.train_width:g}" if args.train_width else ""),
    )
    steady = log.seconds[1:] if len(log) > 1 else log.seconds  # epoch 1 traces (and compiles) the step
    note = "epochs 2 on" if len(log) > 1 else "epoch 1, its tracing and compilation in"
    table.add(
        "train",
        f"{name} steps",
        patches * len(steady) / len(log) / steady.sum(),
        "patches/s",
        f"training steps only ({note}; not batch norm, validation, checkpoints)",
    )
    last = log.iloc[-1]
    validation = f"validation top-1 {last.val_top1:.3f}" if last.notna().val_top1 else "no validation batch"
    table.add(
        "train", f"{name} top-1", last.top1, "top-1", f"last epoch; {validation}; chance {1 / args.batch_size:.3f}"
    )
    return run_dir


# -- (d) benchmark -------------------------------------------------------------------------------------------------
def task_subset(tasks, folder, tracks=0, seconds=None):
    """A tasks file of ``tasks``'s tasks on ``tracks`` of its tracks (0: all; 3 of each class of its first task's
    label, so that every task keeps classes) and ``seconds`` of audio (None: the file's)."""
    import pandas as pd
    import yaml

    from musiczoo.config import read_config
    from musiczoo.downstream.benchmark.tasks import KEYS, read_table

    spec = read_config(tasks, keys=KEYS, paths=("catalogue", "audio"))
    if not (tracks or seconds):
        return Path(tasks)
    catalogue = read_table(spec["catalogue"])
    root = Path(spec["audio"]) if spec.get("audio") else Path(spec["catalogue"]).parent
    catalogue["path"] = [str((root / path).resolve()) for path in catalogue.path]
    label = next(iter(spec["tasks"].values()))["label"].split("[")[0]
    if tracks and tracks < len(catalogue) and label in catalogue:
        counts = catalogue[label].map(catalogue[label].value_counts())
        ranked = catalogue.assign(_n=counts, _turn=catalogue.groupby(label).cumcount())
        ranked = ranked[ranked._turn < 3].sort_values(["_n", label, "_turn"], ascending=[False, True, True])
        catalogue = pd.concat([ranked, catalogue.drop(ranked.index)])[: int(tracks)]
        catalogue = catalogue.drop(columns=["_n", "_turn"], errors="ignore")
    folder.mkdir(parents=True, exist_ok=True)
    catalogue.to_csv(folder / "catalogue.csv", index=False)
    subset = {key: value for key, value in spec.items() if key != "audio"} | {"catalogue": "catalogue.csv"}
    subset["seconds"] = seconds or spec.get("seconds")
    if "name" in KEYS:  # the name its held-out results are recorded under, in the run's metadata
        subset["name"] = f"{spec.get('name') or Path(tasks).stem}-subset"
    (folder / "tasks.yaml").write_text(yaml.safe_dump({k: v for k, v in subset.items() if v is not None}))
    return folder / "tasks.yaml"


def tiny_tasks(catalogue, folder):
    """A tasks file on the training corpus itself (the smoke's stand-in for gamemusic, when it is absent): artist
    similarity, and a two-class classification (alternate tracks)."""
    import yaml

    from musiczoo.train.catalogues.schema import read_catalogue

    tracks = read_catalogue(catalogue)
    table = tracks[["path"]].assign(artist=[a[0] if a else "" for a in tracks.artists], half=range(len(tracks)))
    folder.mkdir(parents=True, exist_ok=True)
    table.assign(half=table.half % 2).to_csv(folder / "catalogue.csv", index=False)
    from musiczoo.downstream.benchmark.tasks import KEYS

    spec = {"name": "gpu-check-smoke"} if "name" in KEYS else {}
    spec |= {
        "catalogue": "catalogue.csv",
        "tasks": {
            "half": {"kind": "classification", "label": "half", "test_size": 0.5},
            "artist-similarity": {"kind": "similarity", "label": "artist"},
        },
    }
    (folder / "tasks.yaml").write_text(yaml.safe_dump(spec))
    return folder / "tasks.yaml"


def benchmark_stage(table, args, run_dir, catalogue, work):
    """``musiczoo benchmark``'s call: the trained run and mel-stats on the tasks; each task's main metric."""
    import keras

    from musiczoo.downstream.benchmark.run import benchmark, main_metric
    from musiczoo.downstream.benchmark.tasks import read_tasks

    tasks = Path(args.tasks or TASKS)
    held = read_tasks_catalogue(tasks)
    if held is None or not held.is_file():
        if not (args.smoke and args.tasks is None):
            table.not_measured("benchmark", tasks.name, f"no catalogue {held} of {tasks}")
            return
        if catalogue is None:
            raise ValueError(f"no catalogue {held} of {tasks}, and no corpus (stage features) to stand in")
        tasks = tiny_tasks(catalogue, work / "tasks")  # gamemusic is absent: the smoke corpus stands in
    else:
        tasks = task_subset(tasks, work / "tasks", args.bench_tracks, args.bench_seconds)
    keras.mixed_precision.set_global_policy("float32")  # the speed stage's last policy: the export builds in float32
    models = ([f"scratch={run_dir}"] if run_dir else []) + ["mel-stats"]
    started = time.perf_counter()
    result = benchmark(
        models,
        str(tasks),
        work / "bench",
        seeds=args.seeds,
        k=(),
        epochs=args.probe_epochs,
        progress=False,
        backend=args.backend,
    )
    seconds = time.perf_counter() - started
    taskset = read_tasks(str(tasks))
    note = f"{tasks}: {len(result.tracks)} tracks, {args.seeds} seeds, probe {args.probe_epochs} epochs"
    times = ", ".join(f"{k} {result.seconds[k]:.1f} s" for k in ("resolve", "embed", "evaluate") if k in result.seconds)
    table.add("benchmark", "wall", seconds, "s", f"{note}; {times}")
    summary = result.summary
    for task in taskset.tasks:
        try:
            metric = main_metric(task, task.labels(result.tracks))
        except Exception:  # noqa: BLE001 - a task without labels here: its failure is in result.failures
            continue
        for model in result.models:
            found = summary[(summary.task == task.name) & (summary.model == model) & (summary.metric == metric)]
            if len(found):
                ci = found.ci95.iloc[0]
                table.add(
                    "benchmark",
                    f"{model} {task.name}",
                    found["mean"].iloc[0],
                    metric,
                    f"mean of {found.seeds.iloc[0]} seeds" + ("" if math.isnan(ci) else f", ± {ci:.3f} (95%)"),
                )
    for what, message in result.failures:
        table.failed("benchmark", what, message)


def read_tasks_catalogue(tasks):
    """The catalogue path a tasks file names (None: no such file)."""
    from musiczoo.config import read_config
    from musiczoo.downstream.benchmark.tasks import KEYS

    if not Path(tasks).is_file():
        return None
    catalogue = read_config(tasks, keys=KEYS, paths=("catalogue", "audio")).get("catalogue")
    return Path(catalogue) if catalogue else None


# -- the check -----------------------------------------------------------------------------------------------------
def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = p.add_argument
    add("--smoke", action="store_true", help="tiny widths, 1-2 steps, a few seconds of the test clips: a CPU test")
    add("--out", default="bench/gpu_check.csv", help="the CSV to write (default bench/gpu_check.csv)")
    add("--work", help="working folder, kept (default: a temporary one, removed)")
    add("--stages", nargs="+", choices=STAGES, default=list(STAGES), help="the stages to run (default all)")
    add("--audio", help=f"the corpus's audio folder (default {AUDIO.relative_to(ROOT)}; --smoke: the test clips)")
    add("--metadata", help="its metadata table (default: metadata.csv beside the audio folder, if there is one)")
    add("--tracks", type=int, help="tracks of the corpus, taken in turn from each game (default all; smoke 8)")
    add("--seconds", type=float, help="the middle SECONDS of each track only (default whole tracks; smoke 6)")
    add("--workers", type=int, help="feature processes (default one per CPU; smoke 1)")
    add("--variants", nargs="+", choices=VARIANT_NAMES, help="speed stage variants (default all four)")
    add("--width", type=float, help="backbone width of the speed stage (default 1, the papers'; smoke 0.125)")
    add("--speed-batch", type=int, help="pairs a step in the speed stage (default 64; smoke 2)")
    add("--speed-steps", type=int, help="steps a measure, after as many to warm up (default 10; smoke 1)")
    add("--speed-frames", type=int, help="frames kept of each track's copies there (default 1024; smoke all)")
    add(
        "--train-variant",
        default="auto",
        choices=("auto", *VARIANT_NAMES),
        help="the run's variant (default auto: the fastest EfficientNet-B0 variant of the speed stage, else float32)",
    )
    add("--batch-size", type=int, help="pairs a training step (default 64, the recipe's 32 doubled; smoke 2)")
    add("--epochs", type=int, help="training epochs (default 100; smoke 1)")
    add("--steps-per-epoch", type=int, help="at most this many steps an epoch (default: one pass; smoke 2)")
    add("--train-width", type=float, help="backbone width and depth of the run (default the recipe's; smoke 0.125)")
    add("--precise-bn", type=int, help="patches setting the batch-norm statistics (default the recipe's; smoke 4)")
    add("--tasks", help=f"benchmark tasks (default {TASKS.relative_to(ROOT)}; smoke without its audio: the corpus)")
    add("--bench-tracks", type=int, help="tracks of the tasks' catalogue, 3 a class (default all; smoke 12)")
    add("--bench-seconds", type=float, help="seconds of each (default the tasks file's; smoke 5)")
    add("--seeds", type=int, help="benchmark seeds (default 3; smoke 1)")
    add("--probe-epochs", type=int, help="MLP probe epochs (default 30; smoke 2)")
    add("--backend", help="what runs the graphs in the benchmark (default essentia)")
    return p


def parse(argv=None):
    args = parser().parse_args(argv)
    for option, scales in SCALES.items():
        if getattr(args, option) is None:
            setattr(args, option, scales[args.smoke])
    args.variants = args.variants or list(VARIANT_NAMES)
    return args


def run(args, table, work):
    """Every chosen stage in turn; a stage that cannot run for want of an earlier one says so."""
    import common

    def stage(name, call, needs=()):
        if name not in args.stages:
            return None
        missing = [what for what, value in needs if value is None]
        if missing:
            table.not_measured(name, "all", f"needs the {' and '.join(missing)} of an earlier stage")
            return None
        print(f"[{name}]", flush=True)
        started = time.perf_counter()
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - one stage that fails is a row; the next ones go on
            traceback.print_exc()
            table.failed(name, "all", error)
            return None
        finally:
            print(f"[{name}: {time.perf_counter() - started:.1f} s]", flush=True)

    built = stage("features", lambda: features_stage(table, args, work))
    catalogue, store = built or (None, None)
    gpu = common.gpu_name()  # after the feature processes (spawned: none would inherit the device anyway)
    stage("device", lambda: device_stage(table, args, gpu))
    corpus = [("feature store", store)]
    rates = stage("speed", lambda: speed_stage(table, args, gpu, catalogue, store, work), corpus) or {}
    run_dir = stage("train", lambda: train_stage(table, args, gpu, catalogue, store, work, rates), corpus)
    if run_dir is None and "train" in args.stages:
        table.not_measured("benchmark", "scratch", "no trained run (stage train)")
    stage("benchmark", lambda: benchmark_stage(table, args, run_dir, catalogue, work))


def main(argv=None):
    """Run the check; returns the table's rows (dicts). As a script it exits 1 where a measure failed."""
    args = parse(argv)
    table, started = Table(), time.perf_counter()
    try:
        import musiczoo  # noqa: F401  (Essentia before TensorFlow)
        import tensorflow  # noqa: F401
    except ImportError as error:
        for name in args.stages:
            table.not_measured(name, "all", f"{error} (this check needs TensorFlow and essentia-tensorflow)")
    else:
        with tempfile.TemporaryDirectory(prefix="gpu_check-") as tmp:
            work = Path(args.work or tmp).resolve()
            work.mkdir(parents=True, exist_ok=True)
            run(args, table, work)
    table.add(
        "total", "wall", time.perf_counter() - started, "s", "the whole check" + (" (smoke)" if args.smoke else "")
    )
    table.print()
    table.write(args.out)
    print(f"\n{args.out}")
    return table.rows


if __name__ == "__main__":
    rows = main()
    sys.exit(1 if any(row["note"].startswith("failed") for row in rows) else 0)
