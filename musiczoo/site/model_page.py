"""``models/NAME.html``: what a model is, what it was trained on (or, for a recipe, how to train and export it),
its input and output schema, how to run it (or get it), its files, licence, citation and held-out results."""

import json
from pathlib import Path

from musiczoo.downstream.benchmark.report import METRIC_NAMES
from musiczoo.extractors.usage import essentia_snippet, musiczoo_commands
from musiczoo.site.catalogue import objectives, python_only, training_commands
from musiczoo.site.markup import badge, code, dl, esc, page, size, table, value
from musiczoo.zoo import registry
from musiczoo.zoo.families import AUDIO_WRAPPERS
from musiczoo.zoo.resolve import read_metadata

RECIPE_NOTE = (
    "A recipe: models.json defines it, but nothing on this machine was trained from it, so there is no graph "
    "and no result yet. The description below is of the model it would train; Training data says how."
)


def _import_commands(entry):
    """HTML: how to import a pretrained entry's published checkpoint."""
    spec = entry["musiczoo"]
    return (
        f"<p>Not imported on this machine. Import the published checkpoint (<code>pip install --no-deps "
        f"{esc(spec['package'])}</code> first); <code>musiczoo extract {esc(entry['name'])}</code> also imports it "
        "on first use:</p>" + code(f"musiczoo import musicnn {spec['checkpoint']}")
    )


def _recipe_training(model):
    """HTML of a recipe's Training data: what it would train on, and the commands that train and export it."""
    entry = model.entry
    dataset, spec = entry["dataset"], entry["musiczoo"]
    found, commands = training_commands(entry)
    facts = [("would train on", esc(str(dataset.get("name") or "–")))]
    bits = [spec.get("objective"), " + ".join(spec.get("pairs", []))]
    facts += [("objective", esc(", ".join(b for b in bits if b)))] if any(bits) else []
    facts += [("dataset citation", esc(dataset["citation"]))] if dataset.get("citation") else []
    listed = "".join(f"<li><code>{esc(path)}</code>: {esc(about)}</li>" for path, about in found)
    if python_only(entry):
        how = (
            "Train it on your catalogue, then predict: it takes artist text beside the audio, so it has no Essentia "
            "graph and runs in Python."
        )
    else:
        how = (
            "Train it on your catalogue, then export the run: the export's JSON records the training data "
            "(catalogue, tracks, hours, objectives, steps, seed)."
        )
    return f"<p>Not trained here. {how}</p>{dl(facts)}<p>Configs that train it:</p><ul>{listed}</ul>{code(commands)}"


def _training(model):
    """HTML of Training data: the dataset, the run's facts, its metrics labelled by whose and what they are."""
    if model.status == "recipe":
        return _recipe_training(model)
    dataset = model.meta["dataset"]
    what = "dataset (trained by its authors)" if model.status == "pretrained" else "dataset"
    facts = [(what, esc(str(dataset.get("name", "–"))))]
    facts += [("size", esc(str(dataset["size"])))] if dataset.get("size") else []
    training = dataset.get("training") or {}
    for key, found in training.items():
        if found is None:  # e.g. no warm start
            continue
        shown = objectives(found) if key == "objectives" else found
        facts.append((key.replace("_", " "), esc(str(shown))))
    metrics = dataset.get("metrics") or {}
    prefixes = tuple(f"{task_set}: " for task_set in model.recorded_benchmarks)
    held_out = {k: v for k, v in metrics.items() if prefixes and k.startswith(prefixes)}
    others = {k: v for k, v in metrics.items() if k not in held_out}
    if others:
        numbers = esc(", ".join(f"{k} {v}" for k, v in others.items()))
        if model.metrics_source:
            label = "authors' metrics" if model.metrics_source.startswith(registry.AUTHORS) else "metrics"
            facts.append((label, f"{numbers}<br><span class='muted'>{esc(model.metrics_source)}</span>"))
        else:
            facts.append(("last training epoch (not held out)" if training else "metrics in the metadata", numbers))
    if held_out:
        numbers = esc(", ".join(f"{k} {v}" for k, v in held_out.items()))
        see = "<span class='muted'>(<a href='#benchmarks'>Benchmarks</a>)</span>"
        facts.append(("held-out results", f"{numbers} {see}"))
    if dataset.get("citation"):
        facts.append(("dataset citation", esc(dataset["citation"])))
    return dl(facts)


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
        name = model.name
        if python_only(model.entry):
            return (
                "<p>It takes artist text beside the audio, so it has no Essentia graph: once trained (<a "
                "href='#training'>Training data</a>), it predicts in Python with "
                "<code>musiczoo era predict</code>.</p>"
            )
        if registry.is_pretrained(model.entry):
            first, made = _import_commands(model.entry), "imported"
        else:
            first, made = (
                "<p>Not exported on this machine: train and export it (<a href='#training'>Training data</a>), or "
                "export it untrained, for pipeline checks and as a baseline "
                f"(<code>{esc(registry.random_init_name(name))}</code>):</p>"
                + code(f"musiczoo export --random-init {name} -o exports"),
                "exported",
            )
        return (
            f"{first}<h3>Once {made}, in Essentia</h3>"
            f"{code(essentia_snippet(Path(name + '.pb'), meta))}"
            f"<h3>With musiczoo</h3>{code(musiczoo_commands(name, meta))}"
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
        essentia = code(essentia_snippet(Path(pb.name), meta, embedding))
    return (
        "<p>The files are in <a href='#files'>Files</a> below; the call reads the .pb from the working folder.</p>"
        f"<h3>Essentia</h3>{essentia}"
        f"<h3>With musiczoo (on this machine)</h3>{code(musiczoo_commands(model.name, meta))}"
    )


def _schema(meta):
    rows = []
    for kind in ("inputs", "outputs"):
        for node in meta["schema"].get(kind, []):
            cells = [
                kind[:-1],
                f"<code>{esc(node['name'])}</code>",
                esc(str(node.get("type", ""))),
                f"<code>{esc(json.dumps(node.get('shape')))}</code>",
                esc(node.get("output_purpose", "")),
            ]
            rows.append(("", cells))
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
        table(("role", "node", "type", "shape", "purpose"), rows)
        + ("<p class='muted'>A <code>null</code> frame count: any patch length.</p>" if anywhere else "")
        + dl(facts)
        + listed
    )


def _licence(model):
    licence = (model.metadata or {}).get("license") or (model.entry or {}).get("musiczoo", {}).get("license")
    if not licence:
        return "<p class='muted'>None recorded in the metadata: that of the training data and code applies.</p>"
    if isinstance(licence, dict):
        text = licence.get("text")
        shown = f"<details><summary>licence text</summary>{code(text, prose=True)}</details>" if text else ""
        return f"<p>{esc(str(licence.get('name', '')))}</p>{shown}"
    return f"<p>{esc(str(licence))}</p>"


def report_link(bench, root, text):
    """``text`` linked to the run's report copied into the site, where there is one."""
    return f"<a href='{root}benchmarks/{bench.slug}/{esc(bench.report)}'>{text}</a>" if bench.report else text


def _seeds(found):
    numbers = found.dropna()
    return str(int(numbers.max())) if len(numbers) else "–"


def _where(bench, root):
    """Where a run's numbers come from, in a sentence or two."""
    if bench.owner is None:
        report = f" ({report_link(bench, root, 'full report')})" if bench.report else ""
        return f"From <code>{esc(str(bench.folder.resolve()))}</code>{report}."
    facts = bench.facts
    said = [f"tasks <code>{esc(str(facts['tasks']))}</code>"] if facts.get("tasks") else []
    said += [f"{esc(str(facts['tracks']))} held-out tracks"] if facts.get("tracks") else []
    for key, what in (("seeds", "seed"), ("training_seeds", "training seed")):
        if facts.get(key):
            said.append(f"{esc(str(facts[key]))} {what}{'s' * (str(facts[key]) != '1')}")
    about = [f"recorded {esc(str(facts['date']))}"] if facts.get("date") else []
    about += [report_link(bench, root, "full report")] if bench.report else []
    return (
        f"From this model's JSON: <code>benchmark.{esc(bench.title)}</code>"
        + (f" ({', '.join(about)})" if about else "")
        + (f". {', '.join(said)}".replace(". tasks", ". Tasks") if said else "")
        + "; the run's other rows are the baselines it was compared with."
    )


def _benchmark_section(model, bench, root):
    rows_of_model = bench.rows_of(model)
    shown_rows = rows_of_model + [b for b in bench.baselines() if b not in rows_of_model]
    parts = [
        f"<h3>{esc(bench.title)}</h3><p class='muted'>{_where(bench, root)} "
        "Mean ± 95% t-interval over seeds; held-out tracks.</p>"
    ]
    for task in bench.main_metric:
        found = bench.summary[bench.summary.task == task]
        metrics = [m for m in METRIC_NAMES if m in set(found.metric)]
        metrics += [m for m in dict.fromkeys(found.metric) if m not in metrics]
        rows = []
        for row in shown_rows:
            cells = [esc(row) + (" (this model)" if row in rows_of_model else " (baseline)")]
            for metric in metrics:
                hit = found[(found.model == row) & (found.metric == metric)]
                cells.append(value(float(hit["mean"].iloc[0]), float(hit.ci95.iloc[0])) if len(hit) else "–")
            cells.append(_seeds(found[found.model == row].seeds))
            rows.append((" class='this'" if row in rows_of_model else "", cells))
        header = ["model", *(METRIC_NAMES.get(m, m) for m in metrics), "seeds"]
        line = bench.task_lines.get(task, "").replace("`", "").rstrip(".")
        parts.append(
            f"<h4>{esc(task)}</h4>"
            + (f"<p>{esc(line)}.</p>" if line else "")
            + table(header, rows, numeric=range(1, len(header)))
        )
        if task in bench.images:
            parts.append(
                f"<figure><img src='{root}benchmarks/{bench.slug}/{esc(bench.images[task])}' "
                f"alt='t-SNE of every model of {esc(bench.title)} on {esc(task)}' loading='lazy'>"
                f"<figcaption>t-SNE of each model's track embeddings ({esc(task)}), all models of the run.</figcaption>"
                "</figure>"
            )
    if bench.command:
        parts.append("<p>Made with:</p>" + code(bench.command))
    return "".join(parts)


def _not_benchmarked(model):
    if model.status == "recipe":
        return "<p class='muted'>Not benchmarked: nothing to score until it is trained and exported.</p>"
    return (
        f"<p class='muted'>Not benchmarked: <code>musiczoo benchmark {esc(model.name)} mel-stats random-init "
        "--tasks TASKS.yaml -o OUT</code> records its held-out results in its JSON, shown here; "
        "<code>musiczoo models site --benchmark OUT</code> adds the run's plots.</p>"
    )


def _facts(model):
    """The What it is facts: type, author, version, release date (a pretrained model's: its authors', and
    where that date is from), architecture and objective, the export."""
    meta, spec = model.meta, (model.entry or {}).get("musiczoo", {})
    facts = [(k.replace("_", " "), esc(str(meta[k]))) for k in ("type", "author", "version") if meta.get(k)]
    released = meta.get("release_date")
    if model.status == "pretrained" and model.entry.get("release_date"):
        released = model.entry["release_date"]  # the authors' (an import made before the registry said so: its day)
        source = spec.get("release_date_source")
        facts.append(("released", esc(released) + (f" <span class='muted'>({esc(source)})</span>" if source else "")))
    elif released:  # a zoo export's: the day it was exported
        facts.append(("exported" if model.graph and model.entry else "release date", esc(str(released))))
    if spec:
        bits = [spec.get("architecture") or spec.get("backbone", {}).get("name"), spec.get("objective")]
        bits.append(" + ".join(spec.get("pairs", [])))
        facts.append(("architecture, objective", esc(", ".join(str(b) for b in bits if b))))
    if model.graph:
        facts.append(("export", f"<code>{esc(str(model.graph))}</code>"))
    return facts


def model_page(model, runs, files):
    """The page of ``model``: ``runs`` the benchmark runs that scored it, ``files`` its files copied into the site."""
    meta, root = model.meta, "../"
    body = [
        f"<p><a href='{root}index.html'>← all models</a></p><h1>{esc(model.name)}</h1>",
        f"<p>{badge(model.status)} family <b>{esc(model.family)}</b>"
        + (
            f", embeddings <span class='nowrap'><b>{model.embedding_size}</b>-d</span>"
            if isinstance(model.embedding_size, int)
            else ""
        )
        + "</p>",
    ]
    if model.note:
        body.append(f"<p class='note'>{esc(model.note)}</p>")
    if model.status == "recipe":
        body.append(f"<p class='note'>{esc(RECIPE_NOTE)}</p>")
    if meta:
        body += [
            f"<h2>What it is</h2><p>{esc(meta.get('description', ''))}</p>{dl(_facts(model))}",
            f"<h2 id='training'>Training data</h2>{_training(model)}",
            f"<h2>Input and output</h2>{_schema(meta)}",
        ]
    body.append(f"<h2>Use it</h2>{_usage(model)}")
    if files:
        links = "".join(
            f"<li><a href='{root}files/{model.slug}/{esc(p.name)}' download>{esc(p.name)}</a> "
            f"<span class='muted'>({size(p.stat().st_size)})</span></li>"
            for p in files
        )
        body.append(f"<h2 id='files'>Files</h2><ul>{links}</ul>")
    body.append(f"<h2>Licence</h2>{_licence(model)}")
    if meta and meta.get("citation"):
        body.append(f"<h2>Citation</h2>{code(meta['citation'], prose=True)}")
    body.append("<h2 id='benchmarks'>Benchmarks</h2>")
    body += [_benchmark_section(model, bench, root) for bench in runs] or [_not_benchmarked(model)]
    return page(f"{model.name} · musiczoo", "".join(body), root)
