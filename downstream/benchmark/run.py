"""``benchmark()``: embed every track once per model (cached), score every task over seeds, rank stacks.

Protocols: classification is the Discogs paper's frozen-embedding MLP (trained on patch
embeddings, patch activations averaged per track; ROC-AUC, PR-AUC, accuracy on the held-out
split); similarity is the playlist paper's cosine test on track embeddings (triplet accuracy and
mean margin) plus leave-one-out nearest-neighbour accuracy. Seed ``s`` fixes the split, the
MLP's initialisation, the triplets and, for ``random-init``, the network. A stack ``A+B``
concatenates the models' embeddings of a track (patch by patch where both cut the same
patches, else their track means).
"""

import datetime
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from musiczoo.downstream.benchmark.models import BASELINE, PRETRAINED, EmbeddingCache, audio_key, resolve_model
from musiczoo.downstream.benchmark.tasks import TaskError, read_tasks
from musiczoo.downstream.metrics import label_triplets, nearest_neighbour_accuracy, triplet_similarity
from musiczoo.downstream.stack import concatenate
from musiczoo.extractors.audio import SAMPLE_RATE, AudioError, load_audio
from musiczoo.progress import progress_bar
from musiczoo.zoo import heldout

STACK = "stack:"
METRICS = {"classification": ("accuracy", "roc_auc", "pr_auc"), "similarity": ("triplet", "margin", "nn")}


@dataclass
class Benchmark:
    """What :func:`benchmark` measured: per-seed ``scores`` (long), their ``summary``, the stack ranking."""

    scores: pd.DataFrame
    summary: pd.DataFrame
    stacks: pd.DataFrame
    tasks: list
    models: list  # row names, single models first
    tracks: pd.DataFrame  # the tracks scored (the catalogue rows)
    vectors: dict  # model -> (tracks, dim) track-mean embeddings of seed 0 (for plots)
    failures: list = field(default_factory=list)  # (what, message)
    excluded: list = field(default_factory=list)  # (path, reason)
    seconds: dict = field(default_factory=dict)  # wall time per stage
    recorded: list = field(default_factory=list)  # the metadata files and run folders given the held-out results


def interval(values):
    """Mean and half-width of the 95% t-interval (NaN half-width for one value)."""
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return np.nan, np.nan
    if len(values) < 2:
        return values.mean(), np.nan
    spread = values.std(ddof=1) if np.ptp(values) > 1e-12 else 0.0
    return values.mean(), stats.t.ppf(0.975, len(values) - 1) * spread / np.sqrt(len(values))


def _crop(audio, seconds):
    if not seconds:
        return audio
    keep = int(seconds * SAMPLE_RATE)
    start = max(0, (len(audio) - keep) // 2)
    return audio[start : start + keep]


def embed_tracks(paths, models, cache, seconds=None, progress=True):
    """``{(model, embedder index): [array or None per track]}``, failures and audio exclusions.

    Each file is decoded at most once, and only when some model has no cached embeddings of it.
    """
    slots = [(model, index, embedder) for model in models for index, embedder in enumerate(model.embedders)]
    embeddings = {(model.name, index): [] for model, index, _ in slots}
    failures, excluded, computed = [], [], 0
    bar = progress_bar(paths, desc=f"embed ({len(models)} models)", unit="track", disable=not progress)
    for path in bar:
        key, audio = audio_key(path, seconds), None
        for model, index, embedder in slots:
            found = cache.get(embedder, key)
            if found is None and audio is None:
                try:
                    audio = _crop(load_audio(path), seconds)
                except AudioError as error:  # the file, for every model
                    excluded.append((path, str(error)))
                    audio = False
            if found is None and audio is not False:
                try:
                    found = embedder(audio)
                    cache.put(embedder, key, found)
                    computed += 1
                except (AudioError, RuntimeError, ValueError) as error:  # this model on this file
                    failures.append((f"{model.name} on {Path(path).name}", str(error)))
            embeddings[(model.name, index)].append(found)
    return embeddings, failures, excluded, computed


def _classify(task, X, labels, groups, seed, epochs):
    from musiczoo.downstream.estimator import EmbeddingClassifier

    train, test = task.split(labels, groups, seed)
    y = labels.to_numpy()
    classifier = EmbeddingClassifier(epochs=epochs, seed=seed, progress=False)
    classifier.fit([X[i] for i in train], [y[i] for i in train])
    summary = classifier.evaluate([X[i] for i in test], [y[i] for i in test]).summary
    return {metric: summary[metric] for metric in METRICS["classification"]}


def _similarity(task, X, labels, seed):
    known = np.flatnonzero(labels.notna().to_numpy())
    vectors = np.stack([X[i].mean(axis=0) for i in known])
    values = labels.iloc[known].to_numpy()
    triplets = label_triplets(values, task.triplets, seed)
    result = triplet_similarity(*(vectors[triplets[:, k]] for k in range(3)))
    return {
        "triplet": result["accuracy"],
        "margin": result["margin"],
        "nn": nearest_neighbour_accuracy(vectors, values),
    }


def main_metric(task, labels):
    """The column a task's models are ranked by (higher is better)."""
    if task.kind == "similarity":
        return "triplet"
    return "roc_auc" if labels.map(lambda v: isinstance(v, list)).any() else "accuracy"


def summarise(scores):
    """Mean, 95% half-width and seed count per (task, model, metric)."""
    rows = []
    for (task, model, metric), group in scores.groupby(["task", "model", "metric"], sort=False):
        mean, half = interval(group.value)
        rows.append(
            {
                "task": task,
                "model": model,
                "metric": metric,
                "mean": mean,
                "ci95": half,
                "seeds": int(group.value.notna().sum()),
            }
        )
    return pd.DataFrame(rows, columns=["task", "model", "metric", "mean", "ci95", "seeds"])


def benchmark(
    models,
    tasks,
    out_dir,
    seeds=3,
    k=(2,),
    cache=None,
    epochs=30,
    progress=True,
    command=None,
    backend=None,
    record=True,
):
    """Benchmark ``models`` (``[NAME=]MODEL`` strings; see :mod:`.models`) on ``tasks`` (a tasks file).

    Writes ``out_dir/report.md``, ``report.html``, ``scores.csv`` (every seed) and
    ``summary.csv``; returns the :class:`Benchmark`. ``k``: stack sizes ranked (every
    combination of the models; ``()`` for none). A model that fails to load, a task that cannot
    be scored, a file that does not decode: reported, and the rest goes on. ``backend`` runs every
    graph (``musiczoo.extractors.graph.BACKENDS``). ``record``: write each scored model's held-out
    results, beside the baselines', into its metadata (:mod:`musiczoo.zoo.heldout`).
    """
    from musiczoo.downstream.benchmark.report import write_report

    started, seconds = time.perf_counter(), {}
    out_dir = Path(out_dir)
    taskset = read_tasks(tasks)
    cache = EmbeddingCache(cache or out_dir / "cache")
    singles, rows, failures = resolve_models(list(models), seeds, cache.root, backend)
    seconds["resolve"] = time.perf_counter() - started

    paths = taskset.catalogue.path.tolist()
    embeddings, embed_failures, excluded, computed = embed_tracks(paths, singles, cache, taskset.seconds, progress)
    failures += embed_failures
    seconds["embed"] = time.perf_counter() - started - seconds["resolve"]
    seconds["embedded"] = computed
    complete = [i for i in range(len(paths)) if all(e[i] is not None for e in embeddings.values())]
    tracks = taskset.catalogue.iloc[complete].reset_index(drop=True)
    resolved_by_name = {model.name: model for model in singles}

    def inputs(names, seed):
        sets = [
            [embeddings[(name, seed % len(resolved_by_name[name].embedders))][i] for i in complete] for name in names
        ]
        return concatenate([_unit_scale(s) for s in sets] if len(sets) > 1 else sets)

    combos = {}
    for size in k:
        if 2 <= size <= len(singles):
            for combo in itertools.combinations([m.name for m in singles], size):
                combos.setdefault("+".join(combo), combo)

    scores, stacks = [], []
    evaluations = [
        (row, names, task, seed)
        for task in taskset.tasks
        for seed in range(seeds)
        for row, names in {**rows, **{n: c for n, c in combos.items() if n not in rows}}.items()
    ]
    task_labels = {}
    for task in taskset.tasks:
        try:
            labels = task.labels(tracks)
            task.check(labels)
            task_labels[task.name] = (labels, task.groups(tracks))
        except TaskError as error:
            failures.append((f"task {task.name}", str(error)))
    for row, names, task, seed in progress_bar(evaluations, desc="evaluate", unit="fit", disable=not progress):
        if task.name not in task_labels:
            continue
        labels, groups = task_labels[task.name]
        try:
            X = inputs(names, seed)
            result = (
                _classify(task, X, labels, groups, seed, epochs)
                if task.kind == "classification"
                else _similarity(task, X, labels, seed)
            )
        except TaskError as error:  # the split of this seed: the same for every model
            failures.append((f"task {task.name}, seed {seed}", str(error)))
            continue
        except ValueError as error:
            failures.append((f"task {task.name}, {row}, seed {seed}", str(error)))
            continue
        target = scores if row in rows else stacks
        target += [{"task": task.name, "model": row, "seed": seed, "metric": m, "value": v} for m, v in result.items()]
    seconds["evaluate"] = time.perf_counter() - started - seconds["resolve"] - seconds["embed"]

    columns = ["task", "model", "seed", "metric", "value"]
    scores, stacks = pd.DataFrame(scores, columns=columns), pd.DataFrame(stacks, columns=columns)
    ranking = _rank_stacks(summarise(pd.concat([scores, stacks])), taskset.tasks, task_labels, rows | combos, combos)
    vectors = (
        {name: np.stack([x.mean(axis=0) for x in inputs((name,), 0)]) for name in resolved_by_name} if complete else {}
    )
    result = Benchmark(
        scores,
        summarise(scores),
        ranking,
        taskset.tasks,
        list(rows),
        tracks,
        vectors,
        _unique(failures),
        taskset.excluded + _unique(excluded),
        seconds,
    )
    seconds["total"] = time.perf_counter() - started
    tasks_given = tasks if isinstance(tasks, dict) else str(tasks)
    command = command or (
        f"# Python\nbenchmark({list(models)!r}, {tasks_given!r}, {str(out_dir)!r}, seeds={seeds}, "
        f"k={tuple(k)!r}, epochs={epochs})"
    )
    if record:
        facts = {"tasks": taskset.source, "command": command, "report": str((out_dir / "report.html").resolve())}
        result.recorded, failed = record_results(result, singles, taskset.name, seeds, **facts)
        result.failures += failed
    write_report(result, out_dir, command=command, task_labels=task_labels)
    return result


def record_results(result, models, task_set, seeds, **facts):
    """Write every scored model's held-out results into its sources' metadata: ``(written, failures)``.

    Beside each result: the baselines' (``mel-stats``, ``random-init``) and the pretrained imports'.
    """
    summary = result.summary.set_index(["task", "model", "metric"])
    beside = [m.name for m in models if m.kind in (BASELINE, PRETRAINED)]
    written, failures = [], []
    for model in models:
        if model.kind == BASELINE or model.name not in result.models or not model.sources:
            continue
        results = [
            {
                "task": task,
                "metric": metric,
                "mean": row["mean"],
                "ci95": row.ci95,
                "baselines": {
                    b: tuple(summary.loc[(task, b, metric), ["mean", "ci95"]])
                    for b in beside
                    if b != model.name and (task, b, metric) in summary.index
                },
            }
            for (task, name, metric), row in summary.iterrows()
            if name == model.name
        ]
        found = heldout.block(
            results,
            **facts,
            date=datetime.date.today().isoformat(),
            row=model.name,
            seeds=seeds,
            training_seeds=len(model.sources),
            tracks=len(result.tracks),
        )
        if not results:  # no task was scored: nothing to record
            continue
        for source in model.sources:
            try:
                written.append(heldout.record(source, task_set, found))
            except (OSError, ValueError) as error:  # a read-only or unreadable file: the rest go on
                failures.append((f"recording {model.name}'s results in {source}", str(error)))
    return written, failures


def _unit_scale(tracks):
    """A model's embeddings divided by their root mean square, so that no part of a stack drowns the others."""
    scale = np.sqrt(np.mean(np.concatenate([t.ravel() for t in tracks]) ** 2)) or 1.0
    return [t / scale for t in tracks]


def resolve_models(specs, seeds, work, backend=None):
    """``(models, rows, failures)``: every model to embed with, each report row's models, what did not load.

    A ``stack:A+B`` part is a row name given beside it (``x=...``) or a model spec of its own.
    """
    plain = [s for s in specs if not s.rpartition("=")[2].startswith(STACK)]
    stacks = {s: s.rpartition("=")[2][len(STACK) :].split("+") for s in specs if s not in plain}
    models, failures = {}, []
    for spec in dict.fromkeys(plain + [p for parts in stacks.values() for p in parts]):
        if spec in plain or not any(m.name == spec for m in models.values()):
            try:
                models[spec] = resolve_model(spec, specs, seeds, work, backend)
            except Exception as error:  # noqa: BLE001 - a model that does not load is reported, the rest go on
                failures.append((f"model {spec}", f"{type(error).__name__}: {error}"))
    by_name = {m.name: m for m in models.values()}
    rows = {m.name: (m.name,) for m in models.values()}
    for spec, parts in stacks.items():
        names = [by_name[p].name if p in by_name else models[p].name for p in parts if p in by_name or p in models]
        if len(names) == len(parts):
            rows[spec.rpartition("=")[0] or "+".join(names)] = tuple(names)
        else:
            failures.append((f"model {spec}", "a part of the stack did not load"))
    return list(models.values()), rows, failures


def _unique(items):
    return list(dict.fromkeys(items))


def _rank_stacks(summary, tasks, task_labels, members, combos):
    """Per task: every stack and single model, best first on the task's main metric."""
    if not combos:
        return pd.DataFrame(columns=["task", "rank", "model", "size", "metric", "mean", "ci95"])
    tables = []
    for task in tasks:
        if task.name not in task_labels:
            continue
        metric = main_metric(task, task_labels[task.name][0])
        table = summary[(summary.task == task.name) & (summary.metric == metric)].copy()
        table["size"] = table.model.map(lambda name: len(members[name]))
        table = table.sort_values("mean", ascending=False, kind="stable").reset_index(drop=True)
        table.insert(1, "rank", np.arange(1, len(table) + 1))
        tables.append(table[["task", "rank", "model", "size", "metric", "mean", "ci95"]])
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
