"""The benchmark report: ``report.md`` and a self-contained ``report.html`` (plots embedded), plus CSVs.

One table per task with models as rows (the layout of the Discogs paper's Table 3: mean ± 95%
interval over seeds, the best of each column in bold), the stack ranking (its Table 4), a t-SNE
of each model's track embeddings coloured by the task's label, what was left out and why, and
the command, package versions and machine that produced it.
"""

import base64
import html
import importlib.metadata
import io
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from musiczoo.downstream.report import markdown_table
from musiczoo.fileio import atomic_save_png, atomic_write

PACKAGES = ("musiczoo", "tensorflow", "essentia-tensorflow", "keras", "numpy", "scikit-learn")
COLOURED = 10  # labels with their own colour in a t-SNE plot; the rest are grey
STACKS_SHOWN = 10
METRIC_NAMES = {
    "accuracy": "accuracy",
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "triplet": "triplet acc.",
    "margin": "margin",
    "nn": "1-NN acc.",
}


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def provenance(command):
    """What produced a report: command, time, versions, machine."""
    return {
        "command": command,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": ", ".join(f"{p} {_version(p)}" for p in PACKAGES),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }


def task_table(summary, task, models):
    """Models as rows, metrics as columns (``mean ± ci``); ``bold``: the best model of each column."""
    rows = summary[summary.task == task]
    metrics = [m for m in METRIC_NAMES if m in set(rows.metric)]
    table, best = [], {}
    for metric in metrics:
        means = rows[rows.metric == metric].set_index("model")["mean"]
        best[metric] = means.idxmax() if means.notna().any() and metric != "margin" else None
    for model in models:
        cells = {"model": model}
        for metric in metrics:
            found = rows[(rows.model == model) & (rows.metric == metric)]
            cells[METRIC_NAMES[metric]] = _cell(found.iloc[0]) if len(found) else "–"
            if best[metric] == model:
                cells[METRIC_NAMES[metric]] = f"**{cells[METRIC_NAMES[metric]]}**"
        cells["seeds"] = int(rows[rows.model == model].seeds.max()) if (rows.model == model).any() else 0
        table.append(cells)
    return pd.DataFrame(table)


def _cell(row):
    if np.isnan(row["mean"]):
        return "–"
    return f"{row['mean']:.3f}" + ("" if np.isnan(row["ci95"]) else f" ± {row['ci95']:.3f}")


def stack_table(stacks, task):
    table = stacks[stacks.task == task].head(STACKS_SHOWN)
    return pd.DataFrame(
        {
            "rank": table["rank"],
            "model": table.model,
            "size": table["size"],
            METRIC_NAMES.get(table.metric.iloc[0], "") if len(table) else "score": [
                _cell(row) for _, row in table.iterrows()
            ],
        }
    )


def plot_tsne(vectors, labels, title):
    """One t-SNE panel per model of the tracks that have a label, coloured by the most frequent labels."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits
    from sklearn.preprocessing import StandardScaler

    first = labels.map(lambda v: v[0] if isinstance(v, list) else v)
    known = np.flatnonzero(first.notna().to_numpy())
    if len(known) < 5 or not vectors:
        return None
    names = first.iloc[known].to_numpy()
    top = pd.Series(names).value_counts().index[:COLOURED]
    columns = min(4, len(vectors))
    rows = -(-len(vectors) // columns)
    figure = Figure(figsize=(3.6 * columns + 2.4, 3.4 * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False).ravel())
    colours = {label: f"C{i}" for i, label in enumerate(top)}
    for axis, (model, matrix) in zip(axes, vectors.items()):
        points = StandardScaler().fit_transform(matrix[known])
        perplexity = float(min(30, max(2, (len(known) - 1) // 3)))
        with threadpool_limits(1, "openmp"):  # a few hundred points: OpenMP threads only wait on a loaded machine
            xy = TSNE(perplexity=perplexity, init="pca", random_state=0).fit_transform(points)
        other = ~np.isin(names, top)
        axis.scatter(*xy[other].T, s=10, c="lightgrey", label="other" if other.any() else None)
        for label in top:
            mask = names == label
            axis.scatter(*xy[mask].T, s=14, c=colours[label], label=str(label)[:28])
        axis.set(title=model, xticks=[], yticks=[])
    for axis in axes[len(vectors) :]:
        axis.set_visible(False)
    handles, legend = axes[0].get_legend_handles_labels()
    figure.legend(handles, legend, loc="outside right upper", fontsize=8, title=title)
    return figure


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()


def _html_table(frame):
    header = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            text = html.escape(str(value))
            if text.startswith("**") and text.endswith("**"):
                text = f"<b>{text[2:-2]}</b>"
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0 1.4em}th,td{border:1px solid #ccc;padding:.3em .7em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}code,pre{background:#f6f6f6;padding:.1em .3em}
pre{padding:.7em;overflow-x:auto;white-space:pre-wrap}img{max-width:100%}.muted{color:#666;font-size:.9em}"""


def _task_line(task, labels):
    known = int(labels.notna().sum())
    classes = len({x for v in labels.dropna() for x in (v if isinstance(v, list) else [v])})
    how = (
        f"MLP probe, test share {task.test_size:g}" + (f", split by {task.group}" if task.group else "")
        if task.kind == "classification"
        else f"{task.triplets} cosine triplets per seed, leave-one-out 1-NN"
    )
    binned = f" in bins ({', '.join(task.bins)})" if task.bins else ""
    return f"{task.kind} of `{task.label}`{binned}: {known} tracks, {classes} classes; {how}"


SEEDS = "seeds (split, probe, triplets; and the graph, for a row given one per seed: random-init, A,B,C)"


def write_report(result, out_dir, command=None, task_labels=None):
    """Write ``report.md``, ``report.html``, ``scores.csv``, ``summary.csv`` and the plots into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "scores.csv", result.scores.to_csv(index=False).encode())
    atomic_write(out_dir / "summary.csv", result.summary.to_csv(index=False).encode())
    if len(result.stacks):
        atomic_write(out_dir / "stacks.csv", result.stacks.to_csv(index=False).encode())
    about = provenance(command)
    seeds = int(result.scores.seed.max()) + 1 if len(result.scores) else 0
    md = [
        "# Benchmark",
        "",
        f"{len(result.tracks)} tracks, {len(result.models)} models, {seeds} seeds; mean ± 95% t-interval over {SEEDS}.",
        "",
    ]
    page = [
        f"<h1>Benchmark</h1><p>{len(result.tracks)} tracks, {len(result.models)} models, {seeds} seeds; "
        f"mean ± 95% t-interval over {SEEDS}.</p>"
    ]
    for task in result.tasks:
        md += [f"## {task.name}", ""]
        page.append(f"<h2>{html.escape(task.name)}</h2>")
        if task_labels is None or task.name not in task_labels:
            reason = next((m for what, m in result.failures if what == f"task {task.name}"), "not scored")
            md += [f"Not scored: {reason}", ""]
            page.append(f"<p>Not scored: {html.escape(reason)}</p>")
            continue
        labels = task_labels[task.name][0]
        line = _task_line(task, labels)
        table = task_table(result.summary, task.name, result.models)
        md += [line, "", markdown_table(table), ""]
        page += [f"<p>{html.escape(line).replace('`', '')}</p>", _html_table(table)]
        if len(result.stacks) and (result.stacks.task == task.name).any():
            stacks = stack_table(result.stacks, task.name)
            md += [f"Stacks, best first (top {STACKS_SHOWN}):", "", markdown_table(stacks), ""]
            page += [f"<h3>Stacks, best first (top {STACKS_SHOWN})</h3>", _html_table(stacks)]
        figure = plot_tsne(result.vectors, labels, task.label)
        if figure is not None:
            name = f"tsne-{task.name}.png"
            atomic_save_png(out_dir / name, figure)
            md += [f"![t-SNE of each model's track embeddings, coloured by {task.label}]({name})", ""]
            page.append(
                f"<h3>t-SNE of each model's track embeddings, coloured by {html.escape(task.label)}</h3>"
                f"<img alt='t-SNE {html.escape(task.name)}' src='data:image/png;base64,{_png(figure)}'>"
            )
    left_out = [(what, message) for what, message in result.failures] + [
        (Path(path).name, reason) for path, reason in result.excluded
    ]
    if left_out:
        md += ["## Left out", ""] + [f"- {what}: {message}" for what, message in left_out] + [""]
        page.append(
            "<h2>Left out</h2><ul>"
            + "".join(f"<li>{html.escape(w)}: {html.escape(m)}</li>" for w, m in left_out)
            + "</ul>"
        )
    timing = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items() if k != "embedded")
    runs = f"{result.seconds.get('embedded', 0)} embeddings computed (the rest from the cache); {timing}"
    md += [
        "## How it was made",
        "",
        "```bash",
        about["command"],
        "```",
        "",
        f"- {runs}",
        f"- {about['versions']}",
        f"- {about['machine']}; {about['date']}",
        "",
    ]
    page.append(
        f"<h2>How it was made</h2><pre>{html.escape(about['command'])}</pre><p class='muted'>"
        f"{html.escape(runs)}<br>{html.escape(about['versions'])}<br>"
        f"{html.escape(about['machine'])}; {html.escape(about['date'])}</p>"
    )
    atomic_write(out_dir / "report.md", "\n".join(md).encode())
    document = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>musiczoo benchmark</title>"
        f"<style>{STYLE}</style></head><body>{''.join(page)}</body></html>"
    )
    atomic_write(out_dir / "report.html", document.encode())
    return out_dir / "report.md", out_dir / "report.html"
