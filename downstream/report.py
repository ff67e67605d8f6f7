"""Results on disk: CSV and Markdown tables, and a PR-curve or confusion-matrix plot (PNG).

Plots use matplotlib's Agg canvas directly: no pyplot, no global backend change, no display.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve

from musiczoo.fileio import atomic_save_png, atomic_write

CURVES_EACH_END = 3  # PR curves drawn: the best and the worst classes
BARS_EACH_END = 20  # per-class bars when there are many classes: the best and the worst


def _cell(value, spec):
    if isinstance(value, (float, np.floating)):
        return "–" if np.isnan(value) else format(value, spec)
    return str(value).replace("|", "\\|")


def markdown_table(frame, formats=None):
    """A GitHub Markdown table of a DataFrame: numbers right-aligned, floats as ``formats[column]`` or 4 decimals."""
    numeric = [pd.api.types.is_numeric_dtype(frame[column]) for column in frame.columns]
    specs = [(formats or {}).get(column, ".4f") for column in frame.columns]
    lines = [
        "| " + " | ".join(map(str, frame.columns)) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    lines += [
        "| " + " | ".join(_cell(value, spec) for value, spec in zip(row, specs)) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def _write_csv(frame, path):
    atomic_write(path, frame.to_csv(index=False).encode())
    return path


def write_table(frame, path, title=None, formats=None):
    """``path.csv`` and ``path.md`` (with an optional title); returns both paths."""
    path = Path(path)
    csv_path, md_path = _write_csv(frame, path.with_suffix(".csv")), path.with_suffix(".md")
    atomic_write(md_path, ((f"# {title}\n\n" if title else "") + markdown_table(frame, formats)).encode())
    return csv_path, md_path


def _headline(evaluation):
    s = evaluation.summary
    line = (
        f"{s['tracks']} tracks · ROC-AUC {s['roc_auc']:.3f} · PR-AUC {s['pr_auc']:.3f} · accuracy {s['accuracy']:.3f}"
    )
    tolerant = [key for key in s if key.startswith("acc_") and key != "acc_0"]
    if tolerant:
        line += f" · ACC_{'/'.join(k[4:] for k in tolerant)} " + "/".join(f"{s[k]:.3f}" for k in tolerant)
    return line


def plot_pr_curves(evaluation, path, title=""):
    """Multi-label: micro-average and best/worst classes' PR curves; per-class PR-AUC bars."""
    table = evaluation.per_class.dropna(subset=["pr_auc"]).sort_values("pr_auc", ascending=False)
    shown = (
        table if len(table) <= 2 * BARS_EACH_END else pd.concat([table.head(BARS_EACH_END), table.tail(BARS_EACH_END)])
    )
    figure = Figure(figsize=(13, max(4.5, 0.24 * len(shown) + 1.5)), layout="constrained")
    curves, bars = figure.subplots(1, 2, width_ratios=[1.1, 1])
    precision, recall, _ = precision_recall_curve(evaluation.truth.ravel(), evaluation.scores.ravel())
    curves.plot(recall, precision, color="black", linewidth=2.5, label="micro-average")
    picked = (
        table.index
        if len(table) <= 2 * CURVES_EACH_END
        else [*table.index[:CURVES_EACH_END], *table.index[-CURVES_EACH_END:]]
    )
    for row in picked:
        precision, recall, _ = precision_recall_curve(evaluation.truth[:, row], evaluation.scores[:, row])
        label = f"{table.loc[row, 'class']} (AP {table.loc[row, 'pr_auc']:.2f})"
        curves.plot(recall, precision, linewidth=1.2, label=label)
    curves.set(
        xlabel="recall",
        ylabel="precision",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title="precision-recall: micro-average, best and worst classes",
    )
    curves.grid(alpha=0.3)
    curves.legend(loc="lower left", fontsize=8)
    positions = np.arange(len(shown))
    bars.barh(positions, shown.pr_auc, color="tab:blue")
    bars.set_yticks(positions, shown["class"], fontsize=8)
    bars.invert_yaxis()
    if len(shown) < len(table):
        bars.axhline(BARS_EACH_END - 0.5, color="grey", linestyle="--", linewidth=1)
    bars.set(
        xlabel="PR-AUC (average precision)",
        xlim=(0, 1),
        title="per-class PR-AUC" + (f" (best and worst {BARS_EACH_END})" if len(shown) < len(table) else ""),
    )
    bars.grid(axis="x", alpha=0.3)
    figure.suptitle(f"{title}\n{_headline(evaluation)}".strip())
    return atomic_save_png(path, figure)


def plot_confusion(evaluation, path, title=""):
    """Multi-class: the confusion matrix, each row normalised to the true class's tracks."""
    classes = [str(c) for c in evaluation.classes]
    counts = evaluation.truth.T @ evaluation.predicted
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.45 * len(classes) + 2.5)
    figure = Figure(figsize=(size + 1, size), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, label="share of the true class's tracks", shrink=0.8)
    axes.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(len(classes)), classes, fontsize=8)
    axes.set(xlabel="predicted class", ylabel="true class")
    if len(classes) <= 15:
        for (row, column), count in np.ndenumerate(counts):
            if count:
                axes.text(
                    column,
                    row,
                    int(count),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if rates[row, column] > 0.5 else "black",
                )
    axes.set_title(f"{title}\n{_headline(evaluation)}".strip())
    return atomic_save_png(path, figure)


def write_evaluation(evaluation, out_dir, title="evaluation"):
    """``metrics.csv``, ``per_class.csv``, ``report.md`` and a plot in ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    summary = pd.DataFrame([evaluation.summary])
    paths = [_write_csv(summary, out_dir / "metrics.csv"), _write_csv(evaluation.per_class, out_dir / "per_class.csv")]
    plot = out_dir / ("pr_curves.png" if evaluation.task == "multilabel" else "confusion.png")
    (plot_pr_curves if evaluation.task == "multilabel" else plot_confusion)(evaluation, plot, title)
    report = (
        f"# {title}\n\n{evaluation.task}, {len(evaluation.classes)} classes\n\n{markdown_table(summary)}\n"
        f"![{plot.stem}]({plot.name})\n\n## Per class\n\n{markdown_table(evaluation.per_class)}"
    )
    atomic_write(out_dir / "report.md", report.encode())
    return [*paths, out_dir / "report.md", plot]
