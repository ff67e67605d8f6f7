"""``index.html``: a row per model (family, embedding size, what it was trained on, its best held-out result with
the baselines of that run, status), filterable by family and status, and where the results come from."""

import math
from datetime import date

from musiczoo.downstream.benchmark.report import METRIC_NAMES
from musiczoo.site.benchmarks import results
from musiczoo.site.catalogue import STATUSES, trained_on
from musiczoo.site.markup import badge, esc, page, select, table, value
from musiczoo.site.model_page import report_link
from musiczoo.zoo import registry

INDEX_COLUMNS = ("model", "family", "embedding", "trained on", "best held-out result", "status")
LEGEND = (
    "<p class='muted'>Family: the Essentia algorithm family that loads the model (its wrapper and node names), "
    "with the network under it where that differs. Status: <b>pretrained</b> a published model, trained by its "
    "authors (imported with <code>musiczoo import</code>); <b>trained</b> an export with its training data; "
    "<b>random-init</b> an untrained export; <b>recipe</b> defined in <code>models.json</code>, not trained or "
    "exported here (its page says how); <b>metadata missing</b> a registered export whose files cannot be read. "
    "Held-out results are the mean ± 95% interval over seeds of a <code>musiczoo benchmark</code> run, beside "
    "that run's baselines; the index shows the task where the model leads them by most (or trails them "
    "least).</p>"
)


def _authors_numbers(model):
    """A pretrained model's own numbers, labelled as its authors', in a line (empty when there are none)."""
    metrics = (model.meta or {}).get("dataset", {}).get("metrics") or {}
    if not metrics or not (model.metrics_source or "").startswith(registry.AUTHORS):
        return ""
    numbers = ", ".join(f"{k} {v}" for k, v in metrics.items())
    return f"<br><span class='muted'>authors' own test: {esc(numbers)}</span>"


def _trained_on_cell(model):
    """The training data in one line (a recipe's muted: nothing was trained)."""
    text = esc(trained_on(model))
    return f"<span class='muted'>{text}</span>" if model.status == "recipe" else text


def _baselines_of(bench, task, metric):
    """``bench``'s baseline rows for one task and metric, by row name (mean, ci95)."""
    summary = bench.summary[(bench.summary.task == task) & (bench.summary.metric == metric)]
    return summary[summary.model.isin(bench.baselines())].set_index("model")[["mean", "ci95"]]


def _lead(result):
    """A result's rank: one with baselines first, by how far it stands above the best of them; then by its mean."""
    bench, task, _, metric, mean, _ = result
    if math.isnan(mean):
        return (-1, 0.0)
    beside = _baselines_of(bench, task, metric)["mean"].dropna()
    return (1, mean - beside.max()) if len(beside) else (0, mean)


def _best(model, found):
    """The cell of the held-out main-metric result where ``model`` leads the baselines of its run by most (or
    trails them least), with those baselines beside it."""
    if not found:
        return "<span class='muted'>not benchmarked</span>" + _authors_numbers(model)
    bench, task, _, metric, mean, ci = max(found, key=_lead)
    rows = _baselines_of(bench, task, metric)
    beside = ", ".join(
        f"<span class='nowrap'>{esc(row)} {value(*rows.loc[row])}</span>"
        for row in bench.baselines()
        if row in rows.index
    )
    return (
        f"<a href='models/{model.slug}.html#benchmarks'>{value(mean, ci)}</a> {esc(METRIC_NAMES.get(metric, metric))}"
        f"<br><span class='muted'>{esc(task)}, {esc(bench.title)}{'; ' + beside if beside else ''}</span>"
    )


def _sources(models, folders, runs):
    """HTML: the benchmark folders given and the results recorded in the exports' JSON."""
    parts = []
    if folders:
        items = []
        for bench in folders:
            scored = ", ".join(sorted({row for m in models for row in bench.rows_of(m)})) or "no model here"
            items.append(
                f"<li>{report_link(bench, '', esc(bench.slug))} (<code>{esc(str(bench.folder.resolve()))}</code>): "
                f"{len(bench.main_metric)} tasks; rows attached: {esc(scored)}</li>"
            )
        parts.append("<h2>Benchmarks</h2><ul>" + "".join(items) + "</ul>")
    recorded = [
        f"<li><a href='models/{model.slug}.html#benchmarks'>{esc(model.name)}</a>: {esc(bench.title)}"
        + (f" ({esc(str(bench.facts['date']))})" if bench.facts.get("date") else "")
        + "</li>"
        for model in models
        for bench in runs[model.name]
        if bench.owner is not None
    ]
    if recorded:
        parts.append("<h2>Held-out results recorded in the models' JSON</h2><ul>" + "".join(recorded) + "</ul>")
    return "".join(parts)


def index_page(models, folders, runs):
    """The index: ``models`` (catalogue rows), ``folders`` (the ``--benchmark`` runs), ``runs`` (model name -> the
    runs that scored it)."""
    families = sorted({m.family for m in models})
    statuses = [s for s in STATUSES if any(m.status == s for m in models)]
    rows = []
    for model in models:
        note = f"<br><span class='muted'>{esc(model.note)}</span>" if model.note else ""
        cells = [
            f"<a href='models/{model.slug}.html'>{esc(model.name)}</a>{note}",
            esc(model.family)  # the Essentia wrapper's family; the network under it where that differs
            + (
                f"<br><span class='muted'>{esc(model.architecture)}</span>"
                if model.architecture not in (None, model.family)
                else ""
            ),
            esc(str(model.embedding_size)),
            _trained_on_cell(model),
            _best(model, results(model, runs[model.name])),
            badge(model.status)
            + "<br><span class='muted'>not imported</span>" * (model.status == "pretrained" and not model.graph),
        ]
        rows.append((f" data-family='{esc(model.family)}' data-status='{esc(model.status)}'", cells))
    counts = ", ".join(f"{sum(m.status == s for m in models)} {s}" for s in statuses)
    body = [
        "<h1>musiczoo models</h1>",
        f"<p class='muted'>{len(models)} models ({counts}): the registry (<code>models.json</code>) and the exports "
        f"registered in <code>{esc(str(registry.home()))}</code>. Generated {date.today().isoformat()}.</p>",
        f"<form class='filters' hidden><label>family {select('family', families)}</label>"
        f"<label>status {select('status', statuses)}</label><output></output></form>",
        table(INDEX_COLUMNS, rows, kind="cards models"),
        LEGEND,
        _sources(models, folders, runs),
    ]
    return page("musiczoo models", "".join(body), "")
