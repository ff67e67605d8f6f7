"""A static catalogue of the zoo's models: ``write_site(out_dir, benchmarks)``.

``index.html`` lists every registry entry and every other export registered here (filters by family
and status, vanilla JS); ``models/NAME.html`` says what a model is, what it was trained on, its
schema, how to run it (or get it), its licence, citation and held-out benchmark results. The model
files are hard-linked (copied across file systems) into ``files/`` and the benchmark reports and
t-SNE plots copied into ``benchmarks/``, so the folder works from file:// or any web server, moved
or not, with no network.
"""

import argparse
import ast
import contextlib
import functools
import html
import io
import json
import math
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import yaml

from musiczoo.downstream.benchmark.report import METRIC_NAMES
from musiczoo.extractors.graph import find_output
from musiczoo.extractors.usage import essentia_snippet, musiczoo_commands
from musiczoo.fileio import atomic_write, sha256
from musiczoo.zoo import registry
from musiczoo.zoo.families import AUDIO_WRAPPERS, FAMILIES
from musiczoo.zoo.resolve import is_model_file, read_metadata

INDEX_COLUMNS = ("model", "family", "embedding", "trained on", "best held-out result", "status")
STATUSES = ("pretrained", "trained", "random-init", "recipe", "metadata missing")
MODEL_FILES = (".pb", ".onnx", ".json")
BASELINES = ("mel-stats", "random-init")  # a benchmark's no-model and untrained rows
FAMILY_OF_ALGORITHM = {family.algorithm: family.name for family in FAMILIES.values()}
esc = html.escape

STYLE = """:root{--ink:#1b1f24;--muted:#555e69;--line:#d0d5db;--soft:#f4f6f8;--link:#0b5cad;--accent:#e8f1fb}
*{box-sizing:border-box}[hidden]{display:none!important}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#fff;margin:0}
main{max-width:1180px;margin:0 auto;padding:1.2em 1em 3em}
a{color:var(--link)}td a,h1{overflow-wrap:anywhere}h1{font-size:1.7em;margin:.2em 0 .3em}h2{margin-top:1.6em}
.muted{color:var(--muted)}.note{background:#fff4d6;border-left:4px solid #b7791f;padding:.5em .8em;margin:.6em 0}
.wrap{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5em 0 1.2em;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.45em .6em;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}td.num{text-align:right;white-space:nowrap}
tr.this td{background:var(--accent);font-weight:600}
code,pre{font:13.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:var(--soft);padding:.05em .3em;border-radius:3px;overflow-wrap:anywhere}
.code{position:relative;margin:.4em 0 1em}
pre{background:#f6f8fa;border:1px solid var(--line);border-radius:6px;padding:.8em;margin:0;overflow-x:auto;
max-width:100%;white-space:pre}
pre.text{white-space:pre-wrap;overflow-wrap:anywhere}
.copy{display:none;position:absolute;top:.4em;right:.4em;font:inherit;font-size:.8em;padding:.15em .6em;
border:1px solid var(--line);border-radius:4px;background:#fff;color:var(--ink);cursor:pointer}
.js .copy{display:block}.js .code pre{padding-top:2.3em}.copy:hover{background:var(--soft)}
.badge{display:inline-block;padding:.05em .55em;border-radius:1em;font-size:.85em;font-weight:600;white-space:nowrap}
.pretrained{background:#dcecff;color:#0a3d7a}.trained{background:#d9f2df;color:#17582b}
.random-init{background:#f1e6ff;color:#4f2687}.recipe{background:#eceff3;color:#39424d}
.metadata-missing{background:#ffe2e0;color:#8a1c12}
.filters{display:flex;flex-wrap:wrap;gap:.6em 1.2em;align-items:center;margin:.8em 0}
.filters select{font:inherit;padding:.15em .3em}
figure{margin:.5em 0 1.5em}figure img{max-width:100%;height:auto;border:1px solid var(--line)}
figcaption{color:var(--muted);font-size:.9em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{color:var(--muted)}dd{margin:0;min-width:0}
details{margin:.4em 0 1em}summary{cursor:pointer}
@media (max-width:700px){
main{padding:.8em .7em 2em}h1{font-size:1.35em}
.cards thead{display:none}
.cards,.cards tbody,.cards tr,.cards td{display:block;width:100%}
.cards tr{border:1px solid var(--line);border-radius:6px;margin:0 0 .8em;padding:.3em .2em}
.cards td{border:0;padding:.15em .5em;display:grid;grid-template-columns:6.5em minmax(0,1fr);gap:.6em}
.cards td.num{text-align:left;white-space:normal}
.cards td::before{content:attr(data-label);font-size:.85em;color:var(--muted);padding-top:.1em}
dl{grid-template-columns:1fr}dt{margin-top:.4em}
}
"""

SCRIPT = """document.documentElement.classList.add("js");
document.addEventListener("click", function (event) {
  var button = event.target.closest(".copy");
  if (!button) return;
  var text = button.parentNode.querySelector("pre").innerText;
  function done(ok) {
    button.textContent = ok ? "Copied" : "Select and copy";
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
  } else {  // plain http: the old way
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) {}
    document.body.removeChild(area);
    done(ok);
  }
});
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector(".filters");
  if (!form) return;
  form.hidden = false;
  var rows = document.querySelectorAll("table.models tbody tr");
  function apply() {
    var family = form.family.value, status = form.status.value, shown = 0;
    rows.forEach(function (row) {
      var keep = (!family || row.dataset.family === family) && (!status || row.dataset.status === status);
      row.hidden = !keep;
      shown += keep;
    });
    form.querySelector("output").textContent = shown + " of " + rows.length + " models";
  }
  form.addEventListener("change", apply);
  apply();
});
"""


@dataclass
class _Model:
    """A row of the catalogue: a registry entry and/or a registered export."""

    name: str
    slug: str
    entry: dict | None  # the registry entry (for NAME-random-init: NAME's)
    graph: Path | None = None  # the registered export, when it and its metadata are readable
    metadata: dict | None = None
    note: str | None = None  # why a registered export is not usable

    @property
    def meta(self):
        """The metadata shown: the export's, else the registry's."""
        return self.metadata or (self.entry if self.name in registry.entries() else None)

    @property
    def status(self):
        dataset = (self.metadata or {}).get("dataset", {})
        if self.name.endswith("-random-init") or str(dataset.get("name", "")).startswith("none: random"):
            return "random-init"
        if self.entry and registry.is_pretrained(self.entry):
            return "pretrained"
        if self.metadata:
            return "trained"
        return "recipe" if self.name in registry.entries() else "metadata missing"

    @property
    def family(self):
        if self.meta:
            return FAMILY_OF_ALGORITHM.get(self.meta["inference"]["algorithm"], "–")
        return self.entry["musiczoo"]["family"] if self.entry else "–"

    @property
    def embedding_size(self):
        output = find_output(self.meta, "embeddings") if self.meta else None
        return output["shape"][-1] if output else "–"

    def files(self):
        """The model files of the export: ``.pb``, ``.onnx``, ``.json`` that exist."""
        return [p for p in (self.graph.with_suffix(s) for s in MODEL_FILES) if p.is_file()] if self.graph else []


@dataclass
class _BenchmarkRun:
    """A ``musiczoo benchmark`` output folder as the site shows it."""

    folder: Path
    slug: str
    summary: pd.DataFrame
    command: str
    sources: dict  # row name -> the model sources it was given (["mel-stats"], [".../x.pb"], ...)
    task_lines: dict  # task -> the report's line about it
    main_metric: dict  # task -> the metric its models are ranked by
    images: dict  # task -> t-SNE file name
    report: str | None  # report.html, where the folder has it

    def baselines(self):
        return [row for row, parts in self.sources.items() if all(_is_baseline(p) for p in parts)]

    def rows_of(self, model):
        """The rows of this benchmark that scored ``model``."""
        return [
            row
            for row, parts in self.sources.items()
            if not any(_is_baseline(p) for p in parts) and any(_same_model(p, model) for p in parts)
        ]


def _is_baseline(source):
    return source in BASELINES or source.startswith("random-init:")


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
    return label or ("random-init" if parts[0].startswith("random-init:") else derived), parts


def _benchmark_specs(command, folder):
    """The model specs of the command in a benchmark report (CLI, Python or ``musiczoo demo``); None if unknown."""
    if command.startswith("# Python"):
        call = ast.parse(command.splitlines()[1]).body[0].value
        return ast.literal_eval(call.args[0])
    words = shlex.split(command)
    verb = next((word for word in words[1:] if not word.startswith("-")), None)
    if words[:1] != ["musiczoo"] or verb not in ("demo", "benchmark"):
        return None
    if verb == "demo":  # musiczoo.demo benchmarks its run (OUT/run) next to DEMO_MODELS, into OUT
        from musiczoo.demo import DEMO_MODELS

        return [f"trained={folder / 'run'}", *DEMO_MODELS]
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


def _read_benchmark(folder, slug):
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
        metrics = set(found.metric)
        main[task] = ranked.iloc[0] if len(ranked) else "triplet" if "triplet" in metrics else "accuracy"
    images = {task: f"tsne-{task}.png" for task in main if (folder / f"tsne-{task}.png").is_file()}
    report = "report.html" if (folder / "report.html").is_file() else None
    return _BenchmarkRun(folder, slug, summary, command, sources, task_lines, main, images, report)


def _slug(name, taken):
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip(".") or "model"
    slug, n = base, 2
    while slug.lower() in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug.lower())
    return slug


def _checked_metadata(graph):
    """The metadata of a registered export, or why it cannot be used."""
    if not graph.is_file():
        return None, f"registered export {graph} is missing: export it again"
    try:
        metadata = read_metadata(graph)
    except FileNotFoundError:
        return None, f"registered export {graph} has no metadata {graph.with_suffix('.json').name} beside it"
    except ValueError as error:
        return None, f"metadata of {graph} is not JSON ({error})"
    sound = isinstance(metadata, dict) and all(isinstance(metadata.get(k), dict) for k in ("schema", "dataset"))
    if not sound or "algorithm" not in metadata.get("inference", {}):
        return None, f"metadata of {graph} is not Essentia metadata (schema, dataset, inference.algorithm)"
    return metadata, None


def _catalogue():
    """Every registry entry, then every registered export that is not a registry name, as :class:`_Model` rows."""
    entries, exported, taken = registry.entries(), registry.exports(), set()
    others = sorted(name for name in exported if name not in entries)
    names = [n for name in entries for n in (name, registry.random_init_name(name)) if n in entries or n in others]
    names += [name for name in others if name not in names]  # each NAME-random-init after NAME, then the rest
    rows = []
    for name in names:
        base = name.removesuffix("-random-init")
        model = _Model(name, _slug(name, taken), entries.get(name) or entries.get(base))
        if name in exported:
            metadata, model.note = _checked_metadata(Path(exported[name]))
            if metadata:
                model.graph, model.metadata = Path(exported[name]), metadata
        rows.append(model)
    return rows


# ---- HTML pieces


def _page(title, body, root):
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><link rel='icon' href='data:,'>"
        f"<title>{esc(title)}</title><link rel='stylesheet' href='{root}style.css'>"
        f"<script src='{root}site.js'></script></head><body><main>{body}</main></body></html>"
    )


def _code(text, prose=False):
    """A code block with a copy button (shown when JS runs)."""
    kind = " class='text'" if prose else ""
    return f"<div class='code'><button type='button' class='copy'>Copy</button><pre{kind}>{esc(text)}</pre></div>"


def _badge(status):
    return f"<span class='badge {status.replace(' ', '-')}'>{esc(status)}</span>"


def _table(header, rows, numeric=(), kind="cards"):
    """A table (a card per row on a phone); ``rows``: ``(attributes of the tr, cells as HTML)``."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        f"<tr{attributes}>"
        + "".join(
            f"<td data-label='{esc(label)}'{' class=num' * (i in numeric)}><div>{cell}</div></td>"
            for i, (label, cell) in enumerate(zip(header, cells))
        )
        + "</tr>"
        for attributes, cells in rows
    )
    return f"<div class='wrap'><table class='{kind}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _value(mean, ci):
    if mean is None or math.isnan(mean):
        return "–"
    return f"{mean:.3f}" + ("" if ci is None or math.isnan(ci) else f" ± {ci:.3f}")


def _objectives(objectives):
    return ", ".join(
        o.get("loss", "?")
        + (f" on {o['pairs']} pairs" if o.get("pairs") else "")
        + (f" ×{o['weight']}" if "weight" in o else "")
        for o in objectives
    )


def _trained_on(model):
    """The training data in one line: the dataset, and the run's tracks, hours and objectives where recorded."""
    if not model.meta:
        return "–"
    dataset = model.meta["dataset"]
    training = dataset.get("training")
    if not training:
        return dataset.get("name", "–")
    return (
        f"{dataset.get('name', '')}: {training.get('tracks', '?')} tracks, {training.get('hours', '?')} h; "
        f"{_objectives(training.get('objectives', []))}"
    )


def _results(model, benchmarks):
    """``(benchmark, task, row, metric, mean, ci)`` of every held-out main-metric result of ``model``."""
    found = []
    for bench in benchmarks:
        for row in bench.rows_of(model):
            for task, metric in bench.main_metric.items():
                hit = bench.summary[(bench.summary.task == task) & (bench.summary.model == row)]
                hit = hit[hit.metric == metric]
                if len(hit):
                    found.append((bench, task, row, metric, float(hit["mean"].iloc[0]), float(hit.ci95.iloc[0])))
    return found


def _best(model, results):
    if not results:
        return "<span class='muted'>not benchmarked</span>"
    bench, task, _, metric, mean, ci = max(results, key=lambda r: -math.inf if math.isnan(r[4]) else r[4])
    summary = bench.summary[(bench.summary.task == task) & (bench.summary.metric == metric)]
    beside = ", ".join(
        f"{esc(row)} {_value(*summary[summary.model == row][['mean', 'ci95']].iloc[0])}"
        for row in bench.baselines()
        if (summary.model == row).any()
    )
    return (
        f"<a href='models/{model.slug}.html#benchmarks'>{_value(mean, ci)}</a> {esc(METRIC_NAMES.get(metric, metric))}"
        f"<br><span class='muted'>{esc(task)}, {esc(bench.slug)}{'; ' + beside if beside else ''}</span>"
    )


def _select(name, values):
    options = "".join(f"<option>{esc(value)}</option>" for value in values)
    return f"<select name='{name}'><option value=''>all</option>{options}</select>"


def _index(models, benchmarks, results):
    families = sorted({m.family for m in models})
    statuses = [s for s in STATUSES if any(m.status == s for m in models)]
    rows = []
    for model in models:
        note = f"<br><span class='muted'>{esc(model.note)}</span>" if model.note else ""
        cells = [
            f"<a href='models/{model.slug}.html'>{esc(model.name)}</a>{note}",
            esc(model.family),
            esc(str(model.embedding_size)),
            esc(_trained_on(model)),
            _best(model, results[model.name]),
            _badge(model.status)
            + "<br><span class='muted'>not imported</span>" * (model.status == "pretrained" and not model.graph),
        ]
        rows.append((f" data-family='{esc(model.family)}' data-status='{esc(model.status)}'", cells))
    counts = ", ".join(f"{sum(m.status == s for m in models)} {s}" for s in statuses)
    body = [
        "<h1>musiczoo models</h1>",
        f"<p class='muted'>{len(models)} models ({counts}): the registry (<code>models.json</code>) and the exports "
        f"registered in <code>{esc(str(registry.home()))}</code>. Generated {date.today().isoformat()}.</p>",
        f"<form class='filters' hidden><label>family {_select('family', families)}</label>"
        f"<label>status {_select('status', statuses)}</label><output></output></form>",
        _table(INDEX_COLUMNS, rows, kind="cards models"),
        "<p class='muted'>Status: <b>pretrained</b> a published model (imported with <code>musiczoo import</code>); "
        "<b>trained</b> an export with training data; <b>random-init</b> an untrained export; <b>recipe</b> "
        "defined in the registry, not exported here; <b>metadata missing</b> a registered export whose files "
        "cannot be read.</p>",
    ]
    if benchmarks:
        items = []
        for bench in benchmarks:
            scored = ", ".join(sorted({row for m in models for row in bench.rows_of(m)})) or "no model here"
            items.append(
                f"<li>{_report_link(bench, '', esc(bench.slug))} (<code>{esc(str(bench.folder.resolve()))}</code>): "
                f"{len(bench.main_metric)} tasks; "
                f"rows attached: {esc(scored)}</li>"
            )
        body.append("<h2>Benchmarks</h2><ul>" + "".join(items) + "</ul>")
    return _page("musiczoo models", "".join(body), "")


def _configs(name):
    """``(config path relative to the checkout, the title of its leading comment)`` of every ``configs/*.yaml``
    that trains ``name``: the first comment line and the lines that continue it (lower case first)."""
    folder = registry.registry_path().parent / "configs"
    found = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
        text = path.read_text()
        if (yaml.safe_load(text) or {}).get("model") == name:
            title = []
            for line in text.splitlines():
                line = line.lstrip("# ")
                if not text.startswith("#") or (title and not line[:1].islower()):
                    break
                title.append(line)
            found.append((f"configs/{path.name}", re.split(r"(?<=\.)\s", " ".join(title))[0]))
    return found


def _python_only(entry):
    """Whether a registry entry takes more than audio (AudioArt-MMC: artist text), so has no Essentia graph."""
    return entry["musiczoo"].get("head", {}).get("type") == "audio_art"


def _how_to_get(model):
    """HTML: the commands that make a registry entry's graph here."""
    name, spec = model.entry["name"], model.entry["musiczoo"]
    if registry.is_pretrained(model.entry):
        return (
            f"<p>Not imported on this machine. Import the published checkpoint (<code>pip install --no-deps "
            f"{esc(spec['package'])}</code> first); <code>musiczoo extract {esc(name)}</code> also imports it on "
            "first use:</p>" + _code(f"musiczoo import musicnn {spec['checkpoint']}")
        )
    configs = _configs(name) or [("CONFIG.yaml", f"a training config whose model: is {name}")]
    listed = "".join(f"<li><code>{esc(path)}</code>: {esc(about)}</li>" for path, about in configs)
    then = (
        'musiczoo era predict audio.wav --run {run} --artist-text "..."'
        if _python_only(model.entry)
        else "musiczoo export {run}"
    )
    commands = "\n".join(
        f"musiczoo train {path} -o {run}\n{then.format(run=run)}"
        for path, run in ((path, f"runs/{Path(path).stem}") for path, _ in configs)
    )
    if _python_only(model.entry):
        return (
            "<p>Not exported: it takes artist text beside the audio, so it has no Essentia graph and runs in "
            f"Python. Train it, then predict:</p><ul>{listed}</ul>{_code(commands)}"
        )
    return (
        f"<p>Not exported on this machine. Train it on your catalogue, then export the run:</p><ul>{listed}</ul>"
        f"{_code(commands)}<p>or export it untrained, for pipeline checks and as a baseline "
        f"(<code>{esc(registry.random_init_name(name))}</code>):</p>"
        + _code(f"musiczoo export --random-init {name} -o exports")
    )


def _embedding_of_head(metadata):
    """``(file name, metadata)`` of a head's embedding model where this machine has it, else None."""
    record = metadata["inference"].get("embedding_model") or {}
    for candidate in (record.get("graph"), registry.exports().get(record.get("model_name"))):
        if candidate and Path(candidate).is_file():
            return Path(Path(candidate).name), read_metadata(candidate)
    return None


def _usage(model):
    """HTML: the Essentia call and the musiczoo commands, or how to get the model first."""
    meta = model.meta
    if model.graph is None and model.entry and model.name in registry.entries():
        if _python_only(model.entry):
            return _how_to_get(model)
        made = "imported" if registry.is_pretrained(model.entry) else "exported"
        return (
            f"{_how_to_get(model)}<h3>Once {made}, in Essentia</h3>"
            f"{_code(essentia_snippet(Path(model.name + '.pb'), meta))}"
            f"<h3>With musiczoo</h3>{_code(musiczoo_commands(model.name, meta))}"
        )
    if model.graph is None:
        return "<p>Nothing to run until its files are back: export it again, or put its .json beside the .pb.</p>"
    pb = model.graph.with_suffix(".pb")
    embedding = None if meta["inference"]["algorithm"] in AUDIO_WRAPPERS else _embedding_of_head(meta)
    if not pb.is_file():
        essentia = (
            "<p>An ONNX-only export: <code>musiczoo export ... --format both</code> writes the .pb Essentia loads.</p>"
        )
    elif meta["inference"]["algorithm"] not in AUDIO_WRAPPERS and embedding is None:
        named = meta["inference"].get("embedding_model", {}).get("model_name", "?")
        essentia = f"<p class='note'>Its embedding model {esc(named)} is not on this machine.</p>"
    else:
        essentia = _code(essentia_snippet(Path(pb.name), meta, embedding))
    return (
        "<p>The files are in <a href='#files'>Files</a> below; the call reads the .pb from the working folder.</p>"
        f"<h3>Essentia</h3>{essentia}"
        f"<h3>With musiczoo (on this machine)</h3>{_code(musiczoo_commands(model.name, meta))}"
    )


def _schema(meta):
    rows = []
    for kind in ("inputs", "outputs"):
        for node in meta["schema"].get(kind, []):
            rows.append(
                (
                    "",
                    [
                        kind[:-1],
                        f"<code>{esc(node['name'])}</code>",
                        esc(str(node.get("type", ""))),
                        f"<code>{esc(json.dumps(node.get('shape')))}</code>",
                        esc(node.get("output_purpose", "")),
                    ],
                )
            )
    inference = meta["inference"]
    facts = [
        ("algorithm", f"<code>{esc(inference['algorithm'])}</code>"),
        ("sample rate", f"{inference.get('sample_rate', '–')} Hz"),
        ("patch", f"{inference.get('patch_size', '–')} frames, hop {inference.get('patch_hop_size', '–')}"),
        ("mel front-end", esc(str(inference.get("mel", "–")))),
    ]
    classes = meta.get("classes") or []
    listed = (
        f"<details><summary>{len(classes)} classes</summary><p>{esc(', '.join(map(str, classes)))}</p></details>"
        if classes
        else ""
    )
    anywhere = "null" in json.dumps(meta["schema"].get("inputs"))
    return (
        _table(("role", "node", "type", "shape", "purpose"), rows)
        + ("<p class='muted'>A <code>null</code> frame count: any patch length.</p>" if anywhere else "")
        + _dl(facts)
        + listed
    )


def _dl(pairs):
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _training(model):
    dataset = model.meta["dataset"]
    facts = [("dataset", esc(str(dataset.get("name", "–"))))]
    facts += [("size", esc(str(dataset["size"])))] if dataset.get("size") else []
    training = dataset.get("training") or {}
    for key, value in training.items():
        shown = _objectives(value) if key == "objectives" else value
        facts.append((key.replace("_", " "), esc(str(shown))))
    if dataset.get("metrics"):
        what = "last training epoch (not held out)" if training else "metrics in the metadata"
        facts.append((what, esc(", ".join(f"{k} {v}" for k, v in dataset["metrics"].items()))))
    if dataset.get("citation"):
        facts.append(("dataset citation", esc(dataset["citation"])))
    return _dl(facts)


def _licence(model):
    licence = (model.metadata or {}).get("license") or (model.entry or {}).get("musiczoo", {}).get("license")
    if not licence:
        return "<p class='muted'>None recorded in the metadata: that of the training data and code applies.</p>"
    if isinstance(licence, dict):
        text = licence.get("text")
        shown = f"<details><summary>licence text</summary>{_code(text, prose=True)}</details>" if text else ""
        return f"<p>{esc(str(licence.get('name', '')))}</p>{shown}"
    return f"<p>{esc(str(licence))}</p>"


def _report_link(bench, root, text):
    return f"<a href='{root}benchmarks/{bench.slug}/{bench.report}'>{text}</a>" if bench.report else text


def _benchmark_section(model, bench, root):
    rows_of_model = bench.rows_of(model)
    shown_rows = rows_of_model + [b for b in bench.baselines() if b not in rows_of_model]
    parts = [
        f"<h3>{esc(bench.slug)}</h3><p class='muted'>From <code>{esc(str(bench.folder.resolve()))}</code> "
        f"({_report_link(bench, root, 'full report')}). Mean ± 95% t-interval over seeds; held-out tracks.</p>"
    ]
    for task in bench.main_metric:
        found = bench.summary[bench.summary.task == task]
        metrics = [m for m in METRIC_NAMES if m in set(found.metric)]
        table = []
        for row in shown_rows:
            cells = [esc(row) + (" (this model)" if row in rows_of_model else " (baseline)")]
            for metric in metrics:
                hit = found[(found.model == row) & (found.metric == metric)]
                cells.append(_value(float(hit["mean"].iloc[0]), float(hit.ci95.iloc[0])) if len(hit) else "–")
            seeds = found[found.model == row].seeds
            cells.append(str(int(seeds.max())) if len(seeds) else "0")
            table.append((" class='this'" if row in rows_of_model else "", cells))
        header = ["model", *(METRIC_NAMES[m] for m in metrics), "seeds"]
        line = bench.task_lines.get(task, "").replace("`", "")
        parts.append(
            f"<h4>{esc(task)}</h4><p>{esc(line.rstrip('.'))}.</p>"
            + _table(header, table, numeric=range(1, len(header)))
        )
        if task in bench.images:
            parts.append(
                f"<figure><img src='{root}benchmarks/{bench.slug}/{esc(bench.images[task])}' "
                f"alt='t-SNE of every model of {esc(bench.slug)} on {esc(task)}' loading='lazy'>"
                f"<figcaption>t-SNE of each model's track embeddings ({esc(task)}), all models of the run.</figcaption>"
                "</figure>"
            )
    if bench.command:
        parts.append("<p>Made with:</p>" + _code(bench.command))
    return "".join(parts)


def _model_page(model, benchmarks, files):
    meta, root = model.meta, "../"
    body = [
        f"<p><a href='{root}index.html'>← all models</a></p><h1>{esc(model.name)}</h1>",
        f"<p>{_badge(model.status)} family <b>{esc(model.family)}</b>"
        + (f", embeddings <b>{model.embedding_size}</b>-d" if isinstance(model.embedding_size, int) else "")
        + "</p>",
    ]
    if model.note:
        body.append(f"<p class='note'>{esc(model.note)}</p>")
    if meta:
        facts = [
            (k.replace("_", " "), esc(str(meta[k])))
            for k in ("type", "author", "version", "release_date")
            if meta.get(k)
        ]
        spec = (model.entry or {}).get("musiczoo", {})
        if spec:
            bits = [spec.get("architecture") or spec.get("backbone", {}).get("name"), spec.get("objective")]
            bits.append(" + ".join(spec.get("pairs", [])))
            facts.append(("architecture, objective", esc(", ".join(str(b) for b in bits if b))))
        if model.graph:
            facts.append(("export", f"<code>{esc(str(model.graph))}</code>"))
        body += [
            f"<h2>What it is</h2><p>{esc(meta.get('description', ''))}</p>{_dl(facts)}",
            f"<h2>Training data</h2>{_training(model)}",
            f"<h2>Input and output</h2>{_schema(meta)}",
        ]
    body.append(f"<h2>Use it</h2>{_usage(model)}")
    if files:
        links = "".join(
            f"<li><a href='{root}files/{model.slug}/{esc(p.name)}' download>{esc(p.name)}</a> "
            f"<span class='muted'>({_size(p.stat().st_size)})</span></li>"
            for p in files
        )
        body.append(f"<h2 id='files'>Files</h2><ul>{links}</ul>")
    body.append(f"<h2>Licence</h2>{_licence(model)}")
    if meta and meta.get("citation"):
        body.append(f"<h2>Citation</h2>{_code(meta['citation'], prose=True)}")
    scored = [bench for bench in benchmarks if bench.rows_of(model)]
    body.append("<h2 id='benchmarks'>Benchmarks</h2>")
    body += [_benchmark_section(model, bench, root) for bench in scored] or [
        "<p class='muted'>Not benchmarked: <code>musiczoo benchmark MODEL mel-stats random-init --tasks TASKS.yaml "
        "-o OUT</code>, then <code>musiczoo models site --benchmark OUT</code>.</p>"
    ]
    return _page(f"{model.name} · musiczoo", "".join(body), root)


def _size(n):
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"


def _place(source, target):
    """Hard-link ``source`` at ``target`` (no second copy of a large graph), copying across file systems."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return target


def write_site(out_dir, benchmarks=()):
    """Write the catalogue into ``out_dir``: ``index.html``, ``models/*.html``, ``style.css``, ``site.js``,
    ``files/`` (the exports' ``.pb``/``.onnx``/``.json``) and ``benchmarks/`` (reports and t-SNE plots of
    ``benchmarks``, ``musiczoo benchmark`` output folders, attached to the models they scored). Returns the
    index path.
    """
    out = Path(out_dir)
    taken = set()
    benches = [_read_benchmark(folder, _slug(Path(folder).resolve().name, taken)) for folder in benchmarks]
    models = _catalogue()
    results = {model.name: _results(model, benches) for model in models}
    for bench in benches:
        for name in filter(None, (bench.report, *bench.images.values())):
            _place(bench.folder / name, out / "benchmarks" / bench.slug / name)
    for model in models:
        files = [_place(p, out / "files" / model.slug / p.name) for p in model.files()]
        atomic_write(out / "models" / f"{model.slug}.html", _model_page(model, benches, files).encode())
    atomic_write(out / "style.css", STYLE.encode())
    atomic_write(out / "site.js", SCRIPT.encode())
    atomic_write(out / "index.html", _index(models, benches, results).encode())
    return out / "index.html"
