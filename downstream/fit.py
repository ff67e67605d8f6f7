"""The Python calls behind ``musiczoo downstream fit|evaluate|stack|export``: files in, folders out.

A fit folder (:func:`fit_folder`) holds the classifier (``estimator.json`` + ``network.keras``),
``history.csv``, ``fit.json`` (the inputs, alignment, tasks and test metrics) and the test report
(``test/``); :func:`load_fit` reads it back. Tracks come from ground-truth files matched to
embeddings (``summary.csv`` of ``musiczoo extract``) or, for a fine-tuned classifier, to audio.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from musiczoo.downstream.estimator import EmbeddingClassifier, PatchClassifier
from musiczoo.downstream.export import embedding_model_metadata, export_head
from musiczoo.downstream.finetune import FineTuneClassifier
from musiczoo.downstream.inputs import embedding_sets, paths_of, read_split
from musiczoo.downstream.labels import LABELS
from musiczoo.downstream.metrics import Evaluation
from musiczoo.downstream.multitask import MultiTaskClassifier
from musiczoo.downstream.persistence import load_classifier, save_classifier
from musiczoo.downstream.predict import Head
from musiczoo.downstream.report import write_evaluation, write_table
from musiczoo.downstream.stack import common_alignment, evaluate_stacks
from musiczoo.extractors.extract import PROVENANCE_FILE
from musiczoo.extractors.graph import Graph
from musiczoo.fileio import atomic_write

FIT_FILE = "fit.json"
CLASSIFIERS = {"mlp": EmbeddingClassifier, "finetune": FineTuneClassifier}
STACK_FORMATS = {"fit_s": ".1f"}


class Report(NamedTuple):
    """One written evaluation report: ``task`` is None for a single-task model's."""

    title: str
    task: str | None
    evaluation: Evaluation
    folder: Path


@dataclass
class Fit:
    """A fit folder: the fitted classifier, ``record`` (the content of ``fit.json``) and the test reports."""

    folder: Path
    classifier: PatchClassifier
    record: dict
    reports: list = field(default_factory=list)  # written by fit_folder (with a test set); none when loaded


def build_classifier(params=None):
    """An unfitted classifier: ``name`` (``mlp``, the default, or ``finetune``) and any of its parameters."""
    params = dict(params or {})
    name = params.pop("name", "mlp")
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {name!r}; expected one of {', '.join(CLASSIFIERS)}")
    valid = CLASSIFIERS[name]().get_params()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"unknown classifier parameters {', '.join(unknown)}; valid: {', '.join(valid)}")
    return CLASSIFIERS[name](**params)


def _for_tasks(classifier, tasks):
    """``classifier`` for the label sets ``tasks``: several make an MLP a :class:`MultiTaskClassifier`."""
    if len(tasks) == 1 or isinstance(classifier, MultiTaskClassifier):
        return classifier
    if type(classifier) is not EmbeddingClassifier:
        raise ValueError(f"{type(classifier).__name__} fits one label set, not {len(tasks)} ({', '.join(tasks)})")
    return MultiTaskClassifier(**classifier.get_params())


def _extracted_with(summaries):
    """The graph of one embedding set's ``extract.json`` when its embeddings node made the set, else None."""
    if len(summaries) != 1:
        return None
    path = Path(next(iter(summaries.values())))
    provenance = (path if path.is_dir() else path.parent) / PROVENANCE_FILE
    if not provenance.is_file():
        return None
    made = json.loads(provenance.read_text())
    try:
        return made["graph"] if Graph(made["graph"]).node_name() == made.get("node") else None
    except (FileNotFoundError, ValueError):  # the graph is gone, or it runs no audio
        return None


def _inputs_record(classifier, summaries, audio):
    """Where a fit's tracks came from, for ``fit.json``."""
    if isinstance(classifier, FineTuneClassifier):
        return {"audio": [str(Path(path).resolve()) for path in paths_of(audio)], "model": classifier.model}
    return {"embeddings": {name: str(Path(path).resolve()) for name, path in summaries.items()}}


def _targets(labelled, tasks):
    return labelled.y("all") if len(tasks) > 1 else labelled.y(tasks[0])


def write_reports(evaluations, out_dir, title):
    """Write the report of one evaluation to ``out_dir``, or of each task's to ``out_dir/TASK``."""
    several = isinstance(evaluations, dict)
    reports = []
    for task, evaluation in evaluations.items() if several else [(None, evaluations)]:
        folder = Path(out_dir) / str(task).replace("/", "_") if several else Path(out_dir)
        write_evaluation(evaluation, folder, f"{title}: {task}" if several else title)
        reports.append(Report(title, task, evaluation, folder))
    return reports


def fit_folder(
    output,
    train,
    embeddings=None,
    *,
    validation=None,
    test=None,
    classifier=None,
    audio=None,
    names=None,
    column=None,
    id_column="track_id",
    category=None,
    strip_category=False,
    match="auto",
    align="auto",
    embedding_model=None,
):
    """Fit a classifier on the ``train`` ground truth, evaluate it on ``test``; write the fit folder ``output``.

    ``embeddings``: a ``summary.csv`` of ``musiczoo extract`` (or its folder), or several (a stack,
    named ``names``). ``classifier``: an unfitted classifier or the parameters of
    :func:`build_classifier` (default: the Discogs protocol's MLP; several ``column``: multi-task).
    A :class:`FineTuneClassifier` trains on the mel patches of ``audio`` (files or folders) instead.
    ``validation``: ground truth held out for early stopping (default: a share of ``train``).
    ``column``...``match``: how ground truth is read and matched (see
    :func:`~musiczoo.downstream.inputs.read_split`). ``embedding_model``: what made the embeddings,
    recorded for export (default: the graph in their ``extract.json``). Returns the :class:`Fit`.
    """
    if not isinstance(classifier, PatchClassifier):
        classifier = build_classifier(classifier)
    finetune = isinstance(classifier, FineTuneClassifier)
    summaries = {} if finetune else embedding_sets(embeddings, names)
    read = dict(
        embeddings=summaries,
        audio=audio,
        model=classifier.model if finetune else None,
        column=column,
        id_column=id_column,
        category=category,
        strip_category=strip_category,
        match=match,
    )
    train_set, validation_set, test_set = (read_split(path, **read) for path in (train, validation, test))
    splits = [s for s in (train_set, validation_set, test_set) if s is not None]
    align = common_alignment([list(s.embeddings.values()) for s in splits], align)
    X = train_set.X(align=align)
    embedding_model = None if finetune else embedding_model or _extracted_with(summaries)
    if embedding_model:  # fail now rather than at export, after training
        embedding_model_metadata(embedding_model, None if len(summaries) > 1 else X[0].shape[1])
    tasks = list(train_set.labels.columns)
    classifier = _for_tasks(classifier, tasks)
    held = (validation_set.X(align=align), _targets(validation_set, tasks)) if validation_set else None
    classifier.fit(X, _targets(train_set, tasks), validation=held)
    out = Path(output)
    save_classifier(classifier, out)
    write_table(classifier.history_, out / "history")
    record = {
        **_inputs_record(classifier, summaries, audio),
        "align": align,
        "embedding_model": embedding_model,
        "tasks": tasks,
        "tracks": len(train_set.ids),
        "ground_truth": {
            split: str(Path(path).resolve())
            for split, path in (("train", train), ("validation", validation), ("test", test))
            if path
        },
    }
    atomic_write(out / FIT_FILE, json.dumps(record, indent=2).encode())
    fit = Fit(out, classifier, record)
    if test_set is not None:
        fit.reports = write_reports(
            classifier.evaluate(test_set.X(align=align), _targets(test_set, tasks)),
            out / "test",
            f"{out.name} on {Path(test).name}",
        )
        record["test"] = {
            LABELS if report.task is None else report.task: report.evaluation.summary for report in fit.reports
        }
        atomic_write(out / FIT_FILE, json.dumps(record, indent=2).encode())
    return fit


def load_fit(folder):
    """The :class:`Fit` in a :func:`fit_folder` output folder."""
    folder = Path(folder)
    record = json.loads((folder / FIT_FILE).read_text()) if (folder / FIT_FILE).is_file() else {}
    return Fit(folder, load_classifier(folder), record)


def evaluate_model(
    model,
    output,
    test,
    embeddings=None,
    *,
    audio=None,
    names=None,
    column=None,
    id_column="track_id",
    category=None,
    strip_category=False,
    match="auto",
    align="auto",
):
    """Evaluate a fit folder or an exported head (``.pb``) on the ``test`` ground truth; write reports to ``output``.

    Inputs and ground truth as for :func:`fit_folder` (a fit's own alignment wins). Returns the :class:`Report` list.
    """
    if Path(model).suffix == ".pb":
        predictor, record = Head(model), {}
    else:
        fit = load_fit(model)
        predictor, record = fit.classifier, fit.record
    finetune = isinstance(predictor, FineTuneClassifier)
    test_set = read_split(
        test,
        embeddings={} if finetune else embedding_sets(embeddings, names),
        audio=audio,
        model=predictor.model if finetune else None,
        column=column,
        id_column=id_column,
        category=category,
        strip_category=strip_category,
        match=match,
    )
    align = record.get("align") or common_alignment([list(test_set.embeddings.values())], align)
    tasks = list(test_set.labels.columns)
    return write_reports(
        predictor.evaluate(test_set.X(align=align), _targets(test_set, tasks)),
        output,
        f"{Path(model).name} on {Path(test).name}",
    )


def rank_stacks(
    output,
    embeddings,
    train,
    test,
    *,
    validation=None,
    classifier=None,
    k=2,
    names=None,
    column=None,
    id_column="track_id",
    category=None,
    strip_category=False,
    match="auto",
    align="auto",
):
    """Fit a classifier on every combination of ``k`` embedding sets and rank them on ``test``.

    The table is written to ``output/stacks.csv`` and ``.md`` as each combination finishes, and
    returned. ``classifier``: as for :func:`fit_folder` (an MLP's parameters or an unfitted MLP).
    """
    summaries = embedding_sets(embeddings, names)
    if len(summaries) < 2:
        raise ValueError("a stack needs two embedding sets or more (--embeddings A B ...)")
    read = dict(
        embeddings=summaries,
        column=column,
        id_column=id_column,
        category=category,
        strip_category=strip_category,
        match=match,
    )
    train_set, validation_set, test_set = (read_split(path, **read) for path in (train, validation, test))
    if len(train_set.labels.columns) > 1:
        raise ValueError("stacks are ranked on one label set: give one --column")
    classifier = classifier if isinstance(classifier, PatchClassifier) else build_classifier(classifier)
    if isinstance(classifier, FineTuneClassifier):
        raise ValueError("stacks concatenate embeddings: a fine-tuned classifier takes mel patches")
    out = Path(output)
    title = f"Stacks on {Path(test).name}"
    return evaluate_stacks(
        train_set.embeddings,
        train_set.y(),
        test_set.embeddings,
        test_set.y(),
        classifier,
        k=k,
        validation=validation_set and (validation_set.embeddings, validation_set.y()),
        align=align,
        on_result=lambda table: write_table(table, out / "stacks", title, STACK_FORMATS),
    )


def export_fit(folder, output, name=None, embedding_model=None, task=None):
    """Export a fit folder's classifier as Essentia heads (one per task, or ``task``); returns the ``.pb`` paths.

    Heads are named ``NAME[_TASK]-MODEL`` (``name``: the folder's by default); ``embedding_model``:
    the registry name or ``.pb`` that made the embeddings (default: the one the fit recorded).
    """
    if str(folder).endswith(".pb"):
        raise ValueError(f"{folder} is already exported; export takes a `musiczoo downstream fit` folder")
    fit = load_fit(folder)
    classifier, record = fit.classifier, fit.record
    if isinstance(classifier, FineTuneClassifier):
        raise ValueError(
            f"{folder} holds a fine-tuned network: it takes mel patches, not embeddings, so it is no "
            "Essentia classifier head"
        )
    if len(record.get("embeddings", {})) > 1:
        raise ValueError("a stack (several models' embeddings) cannot run in Essentia behind one embedding model")
    embedding_model = embedding_model or record.get("embedding_model")
    if not embedding_model:
        raise ValueError("give --embedding-model: the registry name (or .pb) of the model that made the embeddings")
    model_name = embedding_model_metadata(embedding_model)["name"]
    base = name or Path(folder).resolve().name
    paths = []
    for exported in [task] if task else list(classifier.encoders_):
        suffix = "_" + str(exported).replace("/", "_") if len(classifier.encoders_) > 1 else ""
        dataset = {
            "name": Path(record.get("ground_truth", {}).get("train", "")).name,
            "metrics": record.get("test", {}).get(str(exported), {}),
        }
        paths.append(
            export_head(classifier, output, f"{base}{suffix}-{model_name}", embedding_model, exported, dataset)
        )
    return paths
