"""`musiczoo downstream fit|evaluate|stack|export` and `musiczoo predict`: the Python API as commands.

Parameters come from options or from a YAML file (``--config``) whose keys are the long option
names with underscores (``train``, ``embeddings``, ``column``...) plus ``classifier:``, any
parameter of the classifier; relative paths in it are relative to the file. Options given on
the command line win over the file.
"""
import json
import sys
from pathlib import Path

DATA_DEFAULTS = {"embeddings": None, "names": None, "train": None, "validation": None, "test": None, "column": None,
                 "id_column": "track_id", "category": None, "strip_category": False, "match": "auto",
                 "align": "auto", "output": None}
PATH_KEYS = ("embeddings", "train", "validation", "test", "output")
CLASSIFIER_OPTIONS = ("task", "epochs", "hidden", "batch_size", "learning_rate", "validation_size", "seed")
FIT_FILE = "fit.json"
STACK_FORMATS = {"fit_s": ".1f"}


def _read_config(path, allowed):
    import yaml

    if not path:
        return {}
    path = Path(path)
    config = yaml.safe_load(path.read_text()) or {}
    if not isinstance(config, dict):
        raise ValueError(f"{path}: a config is a YAML mapping of option names to values")
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise ValueError(f"{path}: unknown keys {', '.join(unknown)}; valid: {', '.join(sorted(allowed))}")
    for key in PATH_KEYS:
        if isinstance(config.get(key), str):
            config[key] = str(path.parent / config[key])
        elif isinstance(config.get(key), list):
            config[key] = [str(path.parent / item) for item in config[key]]
    return config


def _settings(args, defaults):
    """Command-line options over ``--config`` over defaults; ``classifier``: the classifier's parameters."""
    config = _read_config(args.config, [*defaults, "classifier"])
    settings = {key: getattr(args, key) if getattr(args, key, None) not in (None, False) else config.get(key, default)
                for key, default in defaults.items()}
    given = {key: getattr(args, key) for key in CLASSIFIER_OPTIONS if getattr(args, key, None) is not None}
    settings["classifier"] = {**(config.get("classifier") or {}), **given}
    return settings


def _require(settings, *keys, command):
    missing = [key for key in keys if not settings.get(key)]
    if missing:
        raise ValueError(f"{command} needs {', '.join('--' + k.replace('_', '-') for k in missing)} "
                         "(an option or a key of --config)")


def _classifier(params, multitask=False):
    from musiczoo.downstream.estimator import EmbeddingClassifier
    from musiczoo.downstream.multitask import MultiTaskClassifier

    cls = MultiTaskClassifier if multitask else EmbeddingClassifier
    valid = cls().get_params()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"unknown classifier parameters {', '.join(unknown)}; valid: {', '.join(valid)}")
    return cls(**params)


def _summaries(settings):
    """``{name: summary.csv}`` of the embedding sets (names: --names, or the summaries' folders)."""
    paths = settings["embeddings"]
    paths = [paths] if isinstance(paths, str) else list(paths)
    names = settings["names"] or [(Path(p) if Path(p).is_dir() else Path(p).parent).resolve().name for p in paths]
    if len(names) != len(paths):
        raise ValueError(f"{len(names)} names for {len(paths)} embedding sets")
    if len(set(names)) != len(names):
        names = [f"{name}-{index}" for index, name in enumerate(names)]
    return dict(zip(names, paths))


def _extracted_with(summaries):
    """The graph of one embedding set's ``extract.json`` when its embeddings output made the set, else None."""
    from musiczoo.extractors.extract import PROVENANCE_FILE
    from musiczoo.extractors.graph import Graph

    if len(summaries) != 1:
        return None
    path = Path(next(iter(summaries.values())))
    provenance = (path if path.is_dir() else path.parent) / PROVENANCE_FILE
    if not provenance.is_file():
        return None
    made = json.loads(provenance.read_text())
    try:
        return made["graph"] if Graph(made["graph"]).output() == made["output"] else None
    except (FileNotFoundError, ValueError):  # the graph is gone, or it runs no audio
        return None


def _labelled(settings, split, summaries):
    from musiczoo.downstream.embeddings import load_labelled
    from musiczoo.downstream.labels import read_ground_truth

    if not settings.get(split):
        return None
    truth = read_ground_truth(settings[split], settings["column"], settings["id_column"], settings["category"],
                              settings["strip_category"])
    return load_labelled(truth, summaries, settings["match"])


def _targets(labelled, tasks):
    return labelled.y("all") if len(tasks) > 1 else labelled.y(tasks[0])


def _write_evaluations(evaluations, out_dir, title):
    """Reports of one evaluation, or one folder per task; prints the headline metrics."""
    from musiczoo.downstream.report import write_evaluation

    several = isinstance(evaluations, dict)
    for task, evaluation in (evaluations.items() if several else [(None, evaluations)]):
        folder = Path(out_dir) / str(task).replace("/", "_") if several else Path(out_dir)
        write_evaluation(evaluation, folder, f"{title}: {task}" if several else title)
        metrics = "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in evaluation.summary.items())
        print(f"{title}{f' [{task}]' if several else ''}: {metrics}  (report: {folder}/report.md)")
    return {task: e.summary for task, e in (evaluations.items() if several else [("labels", evaluations)])}


def _fit(args):
    from musiczoo.downstream.export import embedding_model_metadata
    from musiczoo.downstream.report import write_table
    from musiczoo.downstream.stack import common_alignment
    from musiczoo.fileio import atomic_write

    settings = _settings(args, DATA_DEFAULTS | {"embedding_model": None})
    _require(settings, "embeddings", "train", "output", command="musiczoo downstream fit")
    summaries = _summaries(settings)
    train, validation, test = (_labelled(settings, split, summaries) for split in ("train", "validation", "test"))
    splits = [s for s in (train, validation, test) if s is not None]
    align = common_alignment([list(s.embeddings.values()) for s in splits], settings["align"])
    X = train.X(align=align)
    settings["embedding_model"] = settings["embedding_model"] or _extracted_with(summaries)
    if settings["embedding_model"]:  # fail now rather than at export, after training
        embedding_model_metadata(settings["embedding_model"], None if len(summaries) > 1 else X[0].shape[1])
    tasks = list(train.labels.columns)
    classifier = _classifier(settings["classifier"], multitask=len(tasks) > 1)
    held = (validation.X(align=align), _targets(validation, tasks)) if validation else None
    classifier.fit(X, _targets(train, tasks), validation=held)
    out = Path(settings["output"])
    classifier.save(out)
    write_table(classifier.history_, out / "history")
    run = {"embeddings": {name: str(Path(path).resolve()) for name, path in summaries.items()}, "align": align,
           "embedding_model": settings["embedding_model"], "tasks": tasks, "tracks": len(train.ids),
           "ground_truth": {split: str(Path(settings[split]).resolve()) for split in ("train", "validation", "test")
                            if settings[split]}}
    atomic_write(out / FIT_FILE, json.dumps(run, indent=2).encode())
    if test is not None:
        run["test"] = _write_evaluations(classifier.evaluate(test.X(align=align), _targets(test, tasks)),
                                         out / "test", f"{out.name} on {Path(settings['test']).name}")
        atomic_write(out / FIT_FILE, json.dumps(run, indent=2).encode())
    print(f"fitted {type(classifier).__name__} on {len(train.ids)} tracks "
          f"({len(classifier.history_)} epochs) -> {out}/")
    if len(summaries) == 1:
        print(f"export it for Essentia: musiczoo downstream export {out} -o OUT"
              + ("" if settings["embedding_model"] else " --embedding-model MODEL"))
    return 0


def _load_model(path):
    """A saved classifier (folder) or an exported head (``.pb``), and its fit record if any."""
    from musiczoo.downstream.estimator import load
    from musiczoo.downstream.predict import Head

    path = Path(path)
    if path.suffix == ".pb":
        return Head(path), {}
    fit = json.loads((path / FIT_FILE).read_text()) if (path / FIT_FILE).is_file() else {}
    return load(path), fit


def _evaluate(args):
    from musiczoo.downstream.stack import common_alignment

    settings = _settings(args, DATA_DEFAULTS)
    _require(settings, "embeddings", "test", "output", command="musiczoo downstream evaluate")
    model, fit = _load_model(args.model)
    test = _labelled(settings, "test", _summaries(settings))
    align = fit.get("align") or common_alignment([list(test.embeddings.values())], settings["align"])
    tasks = list(test.labels.columns)
    _write_evaluations(model.evaluate(test.X(align=align), _targets(test, tasks)), settings["output"],
                       f"{Path(args.model).name} on {Path(settings['test']).name}")
    return 0


def _stack(args):
    from musiczoo.downstream.report import markdown_table, write_table
    from musiczoo.downstream.stack import evaluate_stacks

    settings = _settings(args, DATA_DEFAULTS | {"k": [2]})
    _require(settings, "embeddings", "train", "test", "output", command="musiczoo downstream stack")
    summaries = _summaries(settings)
    if len(summaries) < 2:
        raise ValueError("a stack needs two embedding sets or more (--embeddings A B ...)")
    train, validation, test = (_labelled(settings, split, summaries) for split in ("train", "validation", "test"))
    if len(train.labels.columns) > 1:
        raise ValueError("stacks are ranked on one label set: give one --column")
    out = Path(settings["output"])
    title = f"Stacks on {Path(settings['test']).name}"
    table = evaluate_stacks(train.embeddings, train.y(), test.embeddings, test.y(), _classifier(settings["classifier"]),
                            k=settings["k"], validation=validation and (validation.embeddings, validation.y()),
                            align=settings["align"],
                            on_result=lambda t: write_table(t, out / "stacks", title, STACK_FORMATS))
    print(markdown_table(table, STACK_FORMATS), end="")
    print(f"(also in {out}/stacks.csv and {out}/stacks.md)")
    return 0


def _export(args):
    from musiczoo.downstream.export import embedding_model_metadata, export_head

    if args.run_dir.endswith(".pb"):
        raise ValueError(f"{args.run_dir} is already exported; export takes a `musiczoo downstream fit` folder")
    classifier, fit = _load_model(args.run_dir)
    if len(fit.get("embeddings", {})) > 1:
        raise ValueError("a stack (several models' embeddings) cannot run in Essentia behind one embedding model")
    embedding_model = args.embedding_model or fit.get("embedding_model")
    if not embedding_model:
        raise ValueError("give --embedding-model: the registry name (or .pb) of the model that made the embeddings")
    model_name = embedding_model_metadata(embedding_model)["name"]
    base = args.name or Path(args.run_dir).resolve().name
    tasks = [args.task] if args.task else list(classifier.encoders_)
    for task in tasks:
        suffix = "_" + str(task).replace("/", "_") if len(classifier.encoders_) > 1 else ""
        dataset = {"name": Path(fit.get("ground_truth", {}).get("train", "")).name,
                   "metrics": fit.get("test", {}).get(str(task), {})}
        path = export_head(classifier, args.output, f"{base}{suffix}-{model_name}", embedding_model, task, dataset)
        print(f"exported {path} and {path.with_suffix('.json')}")
    return 0


def _predict(args):
    from musiczoo.downstream.predict import TRACK_ROW, predict_files
    from musiczoo.fileio import atomic_write

    predictions, summary = predict_files(args.head, args.inputs, args.embedding_model, args.patches,
                                         args.embeddings_dir, args.batch_size)
    classes = predictions.columns[2:]
    for row in predictions[predictions.patch == TRACK_ROW].itertuples(index=False):
        scores = sorted(zip(classes, row[2:]), key=lambda item: -item[1])[:args.top]
        print(f"{row.path}\t" + "  ".join(f"{name} {score:.3f}" for name, score in scores))
    if args.output:
        atomic_write(args.output, predictions.to_csv(index=False).encode())
        print(f"activations of {len(classes)} classes written to {args.output}")
    failed = summary[summary.status != "ok"]
    for row in failed.itertuples():
        print(f"  failed: {row.path}: {row.error}", file=sys.stderr)
    return 1 if len(failed) else 0


def _add_data_options(parser, splits, several=False):
    parser.add_argument("--config", metavar="YAML", help="options (and `classifier:` parameters) from a YAML file")
    parser.add_argument("--embeddings", nargs="+", metavar="SUMMARY",
                        help="summary.csv of `musiczoo extract` (or its folder)"
                             + ("; several: a stack" if several else ""))
    parser.add_argument("--names", nargs="+", metavar="NAME",
                        help="names of the embedding sets (default: their folders)")
    for split in splits:
        parser.add_argument(f"--{split}", metavar="GT",
                            help=f"{split} ground truth: MTG-Jamendo TSV, id,label CSV/TSV, or Parquet catalogue")
    parser.add_argument("--column", nargs="+", metavar="COLUMN",
                        help="catalogue column(s) to predict; several: multi-task")
    parser.add_argument("--id-column", metavar="COLUMN", help="catalogue id column (default track_id)")
    parser.add_argument("--category", help="MTG-Jamendo tag category to keep (genre, instrument, mood/theme)")
    parser.add_argument("--strip-category", action="store_true", help="drop the `genre---` prefix of Jamendo tags")
    parser.add_argument("--match", choices=("auto", "stem", "path"),
                        help="match ids to embedded files by file stem or by the ground truth's path (default auto)")
    parser.add_argument("--align", choices=("auto", "patches", "mean"),
                        help="stacks: concatenate patch by patch, or per-track means (default auto)")
    parser.add_argument("-o", "--output", metavar="OUT", help="output folder")


def _add_classifier_options(parser):
    group = parser.add_argument_group("classifier (defaults: the Discogs paper's protocol)")
    group.add_argument("--task", choices=("auto", "multilabel", "multiclass"), help="default: from the labels")
    group.add_argument("--epochs", type=int, help="default 30")
    group.add_argument("--hidden", type=int, help="hidden units (default 512)")
    group.add_argument("--batch-size", type=int, help="default 128")
    group.add_argument("--learning-rate", type=float, help="Adam's (default 1e-3)")
    group.add_argument("--validation-size", type=float,
                       help="share of training tracks held out when no --validation is given (default 0.1)")
    group.add_argument("--seed", type=int, help="default 0")


def add_commands(commands):
    """Add ``downstream`` and ``predict`` to the `musiczoo` parser's commands."""
    downstream = commands.add_parser(
        "downstream", help="shallow classifiers on frozen embeddings: fit, evaluate, stack, export",
        description="Fit MLPs on embeddings from `musiczoo extract` (the Discogs paper's protocol), evaluate and "
                    "rank them, and export them as Essentia classifier heads.")
    actions = downstream.add_subparsers(dest="downstream_command", required=True, metavar="ACTION")

    fit = actions.add_parser("fit", help="fit a classifier (several --column: multi-task; several --embeddings: stack)",
                             description="Fit on --train (validate on --validation or a held-out share), evaluate on "
                                         "--test; write the classifier, history and test report to OUT.")
    _add_data_options(fit, ("train", "validation", "test"), several=True)
    _add_classifier_options(fit)
    fit.add_argument("--embedding-model", metavar="MODEL", help="registry name (or .pb) that made the embeddings, "
                                                                "recorded for export (default: the graph in the "
                                                                "embeddings' extract.json)")
    fit.set_defaults(run=_fit)

    evaluate = actions.add_parser("evaluate", help="evaluate a fitted classifier or an exported head",
                                  description="Track-level metrics, per-class table (CSV, Markdown) and a PR-curve or "
                                              "confusion-matrix plot in OUT.")
    evaluate.add_argument("model", metavar="MODEL", help="a `downstream fit` folder or an exported head .pb")
    _add_data_options(evaluate, ("test",))
    evaluate.set_defaults(run=_evaluate)

    stack = actions.add_parser("stack", help="rank every combination of k embedding sets",
                               description="Fit a classifier on the concatenated embeddings of every combination of "
                                           "k sets and rank them on --test (written as each one finishes).")
    _add_data_options(stack, ("train", "validation", "test"), several=True)
    stack.add_argument("-k", type=int, nargs="+", metavar="K", help="sets per stack (default 2; several allowed)")
    _add_classifier_options(stack)
    stack.set_defaults(run=_stack)

    export = actions.add_parser("export", help="export a fitted classifier as an Essentia head (.pb + .json)",
                                description="Write NAME-MODEL.pb (TensorflowPredict2D: model/Placeholder -> "
                                            "model/Sigmoid|Softmax, model/dense/BiasAdd) and its metadata JSON.")
    export.add_argument("run_dir", metavar="FIT_DIR", help="a `musiczoo downstream fit` output folder")
    export.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    export.add_argument("--name", help="head name before the embedding model's (default: FIT_DIR's name)")
    export.add_argument("--embedding-model", metavar="MODEL", help="registry name or .pb that made the embeddings "
                                                                   "(default: the one given to fit)")
    export.add_argument("--task", help="the task to export of a multi-task classifier (default: each)")
    export.set_defaults(run=_export)

    predict = commands.add_parser(
        "predict", help="run an exported classifier head on audio files",
        description="Embed audio files with the head's embedding model, run the head (Essentia), print each file's "
                    "top classes (track average) and write every activation with -o. Exit status 1 if a file failed.")
    predict.add_argument("head", metavar="HEAD", help="a head .pb with its .json beside it")
    predict.add_argument("inputs", nargs="+", metavar="AUDIO", help="audio files or folders (searched recursively)")
    predict.add_argument("-o", "--output", metavar="CSV", help="write path, patch, one column per class")
    predict.add_argument("--patches", action="store_true", help="also one row per patch in the CSV")
    predict.add_argument("--embedding-model", metavar="MODEL",
                         help="registry name or .pb of the embedding model (default: the head JSON's)")
    predict.add_argument("--embeddings-dir", metavar="DIR", help="keep the embeddings (and summary.csv) there")
    predict.add_argument("--batch-size", type=int, default=64, help="patches per inference batch (default 64)")
    predict.add_argument("--top", type=int, default=3, help="classes printed per file (default 3)")
    predict.set_defaults(run=_predict)
