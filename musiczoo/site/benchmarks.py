"""Held-out benchmark results, from two places, as :class:`BenchmarkRun`:

- a ``musiczoo benchmark`` output folder (``--benchmark DIR``): its ``summary.csv``, ``report.md`` (the task
  lines and the command, whose model specs say which row scored which model), t-SNE plots and report;
- the ``benchmark`` block that ``musiczoo benchmark`` records in the JSON of every export it scores, one
  entry per task set: the row of that model, its results and the baselines of that run, the command.

A block and a folder that describe the same run (the block's report in that folder, or the same command, and
the same numbers) are shown once: the folder, which has every metric and row.
"""

import argparse
import ast
import contextlib
import functools
import io
import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from musiczoo.fileio import sha256
from musiczoo.site.catalogue import unique_slug
from musiczoo.zoo.heldout import BASELINES, RANDOM_INIT
from musiczoo.zoo.resolve import is_model_file

SUMMARY_COLUMNS = ("task", "model", "metric", "mean", "ci95", "seeds")
SAME_NUMBER = 1e-3  # a block's numbers are rounded (4 decimals): within this, a folder's are the same


@dataclass
class BenchmarkRun:
    """A ``musiczoo benchmark`` run as the site shows it: an output folder, or a block of a model's JSON."""

    folder: Path | None  # where its files are (for a block: its report's folder, if any)
    slug: str  # its folder in the site's benchmarks/
    title: str  # the folder's name, or the block's task set
    summary: pd.DataFrame  # SUMMARY_COLUMNS
    command: str
    sources: dict  # row name -> the model sources it was given (["mel-stats"], [".../x.pb"], ...)
    task_lines: dict  # task -> the report's line about it
    main_metric: dict  # task -> the metric its models are ranked by
    images: dict  # task -> t-SNE file name, in ``folder``
    report: str | None  # the report's file name in ``folder``, where it is there
    owner: str | None = None  # a block: the name of the model whose JSON holds it
    facts: dict = field(default_factory=dict)  # a block: tasks, date, seeds, training seeds, tracks

    def baselines(self):
        """The rows shown beside a model's: the no-model and untrained rows (a block: every row it compared)."""
        if self.owner is not None:
            return [row for row in dict.fromkeys(self.summary.model) if row not in self.sources]
        return [row for row, parts in self.sources.items() if all(_is_baseline(p) for p in parts)]

    def rows_of(self, model):
        """The rows of this benchmark that scored ``model``."""
        if self.owner is not None:
            return list(self.sources) if model.name == self.owner else []
        return [
            row
            for row, parts in self.sources.items()
            if not any(_is_baseline(p) for p in parts) and any(_same_model(p, model) for p in parts)
        ]

    def describes(self, other):
        """Whether this block records the run of output folder ``other``: its report is in that folder or its
        command is that folder's, and the folder's numbers for the block's row are the block's."""
        if self.owner is None or other.owner is not None:
            return False
        same_folder = self.folder is not None and self.folder.resolve() == other.folder.resolve()
        if not (same_folder or (self.command and self.command.strip() == other.command.strip())):
            return False
        return self.agrees_with(other.summary)

    def agrees_with(self, summary):
        """Whether every number of this run is the same in ``summary`` (a benchmark folder's)."""
        theirs = summary.set_index(["task", "model", "metric"])["mean"]
        for key, number in self.summary.set_index(["task", "model", "metric"])["mean"].items():
            found = theirs.get(key)
            if found is None or not _close(number, float(found)):
                return False
        return True


def _close(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= SAME_NUMBER


def _is_baseline(source):
    return source in BASELINES or source.startswith(RANDOM_INIT + ":")


@functools.cache
def _digest(path):
    return sha256(path)


def _same_model(source, model):
    """Whether a benchmark model source names ``model``: its name, its graph file, or the run it was exported from."""
    if source == model.name:
        return True
    path = Path(source)
    if is_model_file(path):
        if not path.is_file() or not model.graph:
            return path.stem == model.name
        return path.resolve() == model.graph.resolve() or _digest(path.resolve()) == _digest(model.graph.resolve())
    run = path / "run.json"
    if run.is_file() and model.metadata:
        trained = json.loads(run.read_text()).get("metadata", {}).get("dataset", {}).get("training")
        return trained is not None and trained == model.metadata["dataset"].get("training")
    return False


def _row_name(spec):
    """The report row of a benchmark ``[NAME=]MODEL`` spec, and its sources (none for a ``stack:``)."""
    label, _, source = spec.rpartition("=")
    if source.startswith("stack:"):
        return label or source, []
    parts = source.split(",")
    first = Path(parts[0])
    derived = parts[0] if parts[0] in BASELINES else first.resolve().name if first.is_dir() else first.stem
    return label or (RANDOM_INIT if parts[0].startswith(RANDOM_INIT + ":") else derived), parts


def _benchmark_specs(command, folder):
    """The model specs of the command in a benchmark report (CLI, Python or ``musiczoo demo``); None if unknown."""
    if command.startswith("# Python"):
        call = ast.parse(command.splitlines()[1]).body[0].value
        return ast.literal_eval(call.args[0])
    words = shlex.split(command)
    verb = next((word for word in words[1:] if not word.startswith("-")), None)
    if words[:1] != ["musiczoo"] or verb not in ("demo", "benchmark"):
        return None
    if verb == "demo":  # musiczoo.demo benchmarks its export next to DEMO_MODELS, into OUT
        from musiczoo.demo import benchmarked_models

        return benchmarked_models(folder)
    from musiczoo.downstream.benchmark.cli import add_commands

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            return parser.parse_args(words[words.index("benchmark") :]).models
        except SystemExit:
            return None


def _report_parts(report):
    """``(task -> line, command)`` from a benchmark's ``report.md``."""
    lines, tasks, command = report.splitlines(), {}, ""
    for i, line in enumerate(lines):
        if line.startswith("## ") and line[3:] not in ("Left out", "How it was made"):
            tasks[line[3:]] = next((text for text in lines[i + 1 :] if text.strip()), "")
        if line == "## How it was made" and "```bash" in lines[i:]:
            start = lines.index("```bash", i) + 1
            command = "\n".join(lines[start : lines.index("```", start)])
    return tasks, command


def read_benchmark(folder, slug):
    """A benchmark output folder: its ``summary.csv``, ``report.md`` (tasks, command) and t-SNE plots."""
    folder = Path(folder)
    if not (folder / "summary.csv").is_file():
        raise FileNotFoundError(f"{folder}: not a `musiczoo benchmark` output (no summary.csv)")
    summary = pd.read_csv(folder / "summary.csv")
    report = folder / "report.md"
    task_lines, command = _report_parts(report.read_text()) if report.is_file() else ({}, "")
    try:
        specs = _benchmark_specs(command, folder) if command else None
    except (SyntaxError, ValueError, IndexError, AttributeError):
        specs = None
    rows = list(dict.fromkeys(summary.model))
    sources = dict(_row_name(spec) for spec in specs) if specs else {row: [row] for row in rows}
    sources = {row: parts for row, parts in sources.items() if row in rows and parts}
    stacks = pd.read_csv(folder / "stacks.csv") if (folder / "stacks.csv").is_file() else pd.DataFrame()
    main = {}
    for task, found in summary.groupby("task", sort=False):
        ranked = stacks[stacks.task == task].metric if len(stacks) else ()
        main[task] = ranked.iloc[0] if len(ranked) else _main_metric(set(found.metric)) or "accuracy"
    report = "report.html" if (folder / "report.html").is_file() else None
    images = _images(folder, main)
    return BenchmarkRun(folder, slug, folder.name, summary, command, sources, task_lines, main, images, report)


def _main_metric(metrics):
    """The metric a task's models are ranked by, of those it has: triplet accuracy (similarity), else accuracy."""
    return next((metric for metric in ("triplet", "accuracy") if metric in metrics), None)


def _images(folder, tasks):
    return {task: f"tsne-{task}.png" for task in tasks if folder and (folder / f"tsne-{task}.png").is_file()}


def _number(found):
    """A block's number (``None`` where the run had none) as a float, NaN for none."""
    try:
        return math.nan if found is None else float(found)
    except (TypeError, ValueError):
        return math.nan


def recorded_run(model, task_set, found, slug):
    """The block ``task_set`` of ``model``'s JSON (``musiczoo benchmark``'s record of its held-out results) as a
    :class:`BenchmarkRun` whose one scored row is ``model``'s; None when the block is not in that format."""
    results = found.get("results") if isinstance(found, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) and "task" in r for r in results):
        return None
    row = str(found.get("row") or model.name)
    seeds = found.get("seeds")
    table, metrics = [], {}
    for result in results:
        task, metric = str(result["task"]), str(result.get("metric", "?"))
        metrics.setdefault(task, []).append(metric)
        table.append((task, row, metric, _number(result.get("mean")), _number(result.get("ci95")), seeds))
        for baseline, numbers in (result.get("baselines") or {}).items():
            mean, ci = (list(numbers) + [None, None])[:2] if isinstance(numbers, (list, tuple)) else (numbers, None)
            table.append((task, str(baseline), metric, _number(mean), _number(ci), seeds))
    main = {task: _main_metric(found) or found[0] for task, found in metrics.items()}
    report = Path(found["report"]) if found.get("report") else None
    if report is not None and not report.is_absolute() and model.graph:
        report = model.graph.parent / report
    folder = report.parent if report is not None else None
    run = BenchmarkRun(
        folder=folder,
        slug=slug,
        title=str(task_set),
        summary=pd.DataFrame(table, columns=SUMMARY_COLUMNS),
        command=str(found.get("command") or ""),
        sources={row: [model.name]},
        task_lines={},
        main_metric=main,
        images=_images(folder, main) if folder and folder.is_dir() else {},
        report=report.name if report is not None and report.is_file() else None,
        owner=model.name,
        facts={k: found[k] for k in ("tasks", "date", "seeds", "training_seeds", "tracks") if found.get(k) is not None},
    )
    if folder is not None and (folder / "summary.csv").is_file():  # a later run in that folder: not this one's report
        try:
            later = not run.agrees_with(pd.read_csv(folder / "summary.csv"))
        except (ValueError, KeyError, pd.errors.ParserError):
            later = True
        if later:
            run.report, run.images = None, {}
    return run


def runs_of(model, folders, taken):
    """The benchmark runs that scored ``model``: the output folders given that did, then the blocks of its JSON
    that none of those folders describes. ``taken``: the slugs in use, which the blocks' slugs join."""
    scored = [bench for bench in folders if bench.rows_of(model)]
    runs = list(scored)
    for task_set, found in sorted(model.recorded_benchmarks.items()):
        run = recorded_run(model, task_set, found, unique_slug(f"{model.slug}-{task_set}", taken))
        if run is not None and not any(run.describes(bench) for bench in scored):
            runs.append(run)
    return runs


def results(model, runs):
    """``(run, task, row, metric, mean, ci)`` of every held-out main-metric result of ``model``."""
    found = []
    for bench in runs:
        for row in bench.rows_of(model):
            for task, metric in bench.main_metric.items():
                hit = bench.summary[(bench.summary.task == task) & (bench.summary.model == row)]
                hit = hit[hit.metric == metric]
                if len(hit):
                    found.append((bench, task, row, metric, float(hit["mean"].iloc[0]), float(hit.ci95.iloc[0])))
    return found
