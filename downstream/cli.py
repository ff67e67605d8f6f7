"""`musiczoo downstream fit|evaluate|stack|export` and `musiczoo predict`: the Python API as commands.

Parameters come from options or from a YAML file (``--config``) whose keys are the long option
names with underscores (``train``, ``embeddings``, ``column``...) plus ``classifier:``, its
``name`` (``mlp`` or ``finetune``) and any parameter of the classifier; relative paths in it
are relative to the file. Options given on the command line win over the file. Each command is
one call of :mod:`musiczoo.downstream.fit` (or ``predict_files``).
"""

import sys

DATA_DEFAULTS = {
    "embeddings": None,
    "names": None,
    "train": None,
    "validation": None,
    "test": None,
    "column": None,
    "id_column": "track_id",
    "category": None,
    "strip_category": False,
    "match": "auto",
    "align": "auto",
    "output": None,
}
AUDIO_DEFAULTS = {"audio": None}  # fit and evaluate: the audio of a fine-tuned classifier
PATH_KEYS = ("embeddings", "audio", "train", "validation", "test", "output", "classifier.weights")
CLASSIFIER_OPTIONS = (
    "name",
    "model",
    "weights",
    "task",
    "epochs",
    "hidden",
    "batch_size",
    "learning_rate",
    "validation_size",
    "seed",
)


def _settings(args, defaults):
    """Command-line options over ``--config`` over defaults; ``classifier``: the classifier's parameters."""
    from musiczoo.config import read_config

    config = read_config(args.config, [*defaults, "classifier"], PATH_KEYS) if args.config else {}
    settings = {
        key: getattr(args, key) if getattr(args, key, None) not in (None, False) else config.get(key, default)
        for key, default in defaults.items()
    }
    given = {key: getattr(args, key) for key in CLASSIFIER_OPTIONS if getattr(args, key, None) is not None}
    settings["classifier"] = {**(config.get("classifier") or {}), **given}
    return settings


def _require(settings, *keys, command):
    missing = [key for key in keys if not settings.get(key)]
    if missing:
        raise ValueError(
            f"{command} needs {', '.join('--' + k.replace('_', '-') for k in missing)} (an option or a key of --config)"
        )


def _data(settings, *keys):
    """The keyword arguments of a ``downstream.fit`` call: ``keys`` and how ground truth is read and matched."""
    return {
        key: settings[key]
        for key in (*keys, "names", "column", "id_column", "category", "strip_category", "match", "align")
    }


def _print_reports(reports):
    for report in reports:
        metrics = "  ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in report.evaluation.summary.items()
        )
        task = "" if report.task is None else f" [{report.task}]"
        print(f"{report.title}{task}: {metrics}  (report: {report.folder}/report.md)")


def _fit(args):
    from musiczoo.downstream.fit import fit_folder

    settings = _settings(args, DATA_DEFAULTS | AUDIO_DEFAULTS | {"embedding_model": None})
    inputs = "audio" if settings["classifier"].get("name") == "finetune" else "embeddings"
    _require(settings, inputs, "train", "output", command="musiczoo downstream fit")
    fit = fit_folder(
        settings["output"],
        settings["train"],
        validation=settings["validation"],
        test=settings["test"],
        classifier=settings["classifier"],
        embedding_model=settings["embedding_model"],
        **_data(settings, "embeddings", "audio"),
    )
    _print_reports(fit.reports)
    print(
        f"fitted {type(fit.classifier).__name__} on {fit.record['tracks']} tracks "
        f"({len(fit.classifier.history_)} epochs) -> {fit.folder}/"
    )
    if len(fit.record.get("embeddings", {})) == 1:
        print(
            f"export it for Essentia: musiczoo downstream export {fit.folder} -o OUT"
            + ("" if fit.record["embedding_model"] else " --embedding-model MODEL")
        )
    return 0


def _evaluate(args):
    from musiczoo.downstream.fit import evaluate_model

    settings = _settings(args, DATA_DEFAULTS | AUDIO_DEFAULTS)
    _require(settings, "test", "output", command="musiczoo downstream evaluate")
    _print_reports(
        evaluate_model(args.model, settings["output"], settings["test"], **_data(settings, "embeddings", "audio"))
    )
    return 0


def _stack(args):
    from musiczoo.downstream.fit import STACK_FORMATS, rank_stacks
    from musiczoo.downstream.report import markdown_table

    settings = _settings(args, DATA_DEFAULTS | {"k": [2]})
    _require(settings, "embeddings", "train", "test", "output", command="musiczoo downstream stack")
    table = rank_stacks(
        settings["output"],
        settings["embeddings"],
        settings["train"],
        settings["test"],
        validation=settings["validation"],
        classifier=settings["classifier"],
        k=settings["k"],
        **_data(settings),
    )
    print(markdown_table(table, STACK_FORMATS), end="")
    print(f"(also in {settings['output']}/stacks.csv and {settings['output']}/stacks.md)")
    return 0


def _export(args):
    from musiczoo.downstream.fit import export_fit

    for path in export_fit(args.run_dir, args.output, args.name, args.embedding_model, args.task):
        print(f"exported {path} and {path.with_suffix('.json')}")
    return 0


def _predict(args):
    from musiczoo.downstream.predict import TRACK_ROW, predict_files
    from musiczoo.fileio import atomic_write

    predictions, summary = predict_files(
        args.head,
        args.inputs,
        args.embedding_model,
        args.patches,
        args.embeddings_dir,
        args.batch_size,
        backend=args.backend,
    )
    classes = predictions.columns[2:]
    for row in predictions[predictions.patch == TRACK_ROW].itertuples(index=False):
        scores = sorted(zip(classes, row[2:]), key=lambda item: -item[1])[: args.top]
        print(f"{row.path}\t" + "  ".join(f"{name} {score:.3f}" for name, score in scores))
    if args.output:
        atomic_write(args.output, predictions.to_csv(index=False).encode())
        print(f"activations of {len(classes)} classes written to {args.output}")
    failed = summary[summary.status != "ok"]
    for row in failed.itertuples():
        print(f"  failed: {row.path}: {row.error}", file=sys.stderr)
    return 1 if len(failed) else 0


def _add_data_options(parser, splits, several=False, audio=False):
    parser.add_argument("--config", metavar="YAML", help="options (and `classifier:` parameters) from a YAML file")
    parser.add_argument(
        "--embeddings",
        nargs="+",
        metavar="SUMMARY",
        help="summary.csv of `musiczoo extract` (or its folder)" + ("; several: a stack" if several else ""),
    )
    if audio:
        parser.add_argument(
            "--audio",
            nargs="+",
            metavar="AUDIO",
            help="a fine-tuned classifier's input: audio files or folders (searched recursively)",
        )
    parser.add_argument(
        "--names", nargs="+", metavar="NAME", help="names of the embedding sets (default: their folders)"
    )
    for split in splits:
        parser.add_argument(
            f"--{split}",
            metavar="GT",
            help=f"{split} ground truth: MTG-Jamendo TSV, id,label CSV/TSV, or Parquet catalogue",
        )
    parser.add_argument(
        "--column", nargs="+", metavar="COLUMN", help="catalogue column(s) to predict; several: multi-task"
    )
    parser.add_argument("--id-column", metavar="COLUMN", help="catalogue id column (default track_id)")
    parser.add_argument("--category", help="MTG-Jamendo tag category to keep (genre, instrument, mood/theme)")
    parser.add_argument("--strip-category", action="store_true", help="drop the `genre---` prefix of Jamendo tags")
    parser.add_argument(
        "--match",
        choices=("auto", "stem", "path"),
        help="match ids to embedded files by file stem or by the ground truth's path (default auto)",
    )
    parser.add_argument(
        "--align",
        choices=("auto", "patches", "mean"),
        help="stacks: concatenate patch by patch, or per-track means (default auto)",
    )
    parser.add_argument("-o", "--output", metavar="OUT", help="output folder")


def _add_classifier_options(parser, finetune=False):
    group = parser.add_argument_group("classifier (defaults: the Discogs paper's protocol)")
    if finetune:
        group.add_argument(
            "--classifier",
            dest="name",
            choices=("mlp", "finetune"),
            help="an MLP on the embeddings (default), or a zoo model fine-tuned end to end on --audio",
        )
        group.add_argument(
            "--model", help="finetune: the registry model to fine-tune (default playlist_co_embeddings-vggish)"
        )
        group.add_argument(
            "--weights",
            metavar="PATH",
            help="finetune: a training run folder or .weights.h5 to start from (default: random init)",
        )
    group.add_argument("--task", choices=("auto", "multilabel", "multiclass"), help="default: from the labels")
    group.add_argument("--epochs", type=int, help="default 30")
    group.add_argument("--hidden", type=int, help="hidden units (default 512)")
    group.add_argument("--batch-size", type=int, help="default 128")
    group.add_argument("--learning-rate", type=float, help="Adam's (default 1e-3)")
    group.add_argument(
        "--validation-size",
        type=float,
        help="share of training tracks held out when no --validation is given (default 0.1)",
    )
    group.add_argument("--seed", type=int, help="default 0")


def add_commands(commands):
    """Add ``downstream`` and ``predict`` to the `musiczoo` parser's commands."""
    from musiczoo.arguments import add_backend_option, positive_int

    downstream = commands.add_parser(
        "downstream",
        help="shallow classifiers on frozen embeddings: fit, evaluate, stack, export",
        description="Fit MLPs on embeddings from `musiczoo extract` (the Discogs paper's protocol), evaluate and "
        "rank them, and export them as Essentia classifier heads.",
    )
    actions = downstream.add_subparsers(dest="downstream_command", required=True, metavar="ACTION")

    fit = actions.add_parser(
        "fit",
        help="fit a classifier (several --column: multi-task; several --embeddings: stack)",
        description="Fit on --train (validate on --validation or a held-out share), evaluate on "
        "--test; write the classifier, history and test report to OUT.",
    )
    _add_data_options(fit, ("train", "validation", "test"), several=True, audio=True)
    _add_classifier_options(fit, finetune=True)
    fit.add_argument(
        "--embedding-model",
        metavar="MODEL",
        help="registry name (or .pb) that made the embeddings, "
        "recorded for export (default: the graph in the "
        "embeddings' extract.json)",
    )
    fit.set_defaults(run=_fit)

    evaluate = actions.add_parser(
        "evaluate",
        help="evaluate a fitted classifier or an exported head",
        description="Track-level metrics, per-class table (CSV, Markdown) and a PR-curve or "
        "confusion-matrix plot in OUT.",
    )
    evaluate.add_argument("model", metavar="MODEL", help="a `downstream fit` folder or an exported head .pb")
    _add_data_options(evaluate, ("test",), audio=True)
    evaluate.set_defaults(run=_evaluate)

    stack = actions.add_parser(
        "stack",
        help="rank every combination of k embedding sets",
        description="Fit a classifier on the concatenated embeddings of every combination of "
        "k sets and rank them on --test (written as each one finishes).",
    )
    _add_data_options(stack, ("train", "validation", "test"), several=True)
    stack.add_argument("-k", type=int, nargs="+", metavar="K", help="sets per stack (default 2; several allowed)")
    _add_classifier_options(stack)
    stack.set_defaults(run=_stack)

    export = actions.add_parser(
        "export",
        help="export a fitted classifier as an Essentia head (.pb + .json)",
        description="Write NAME-MODEL.pb (TensorflowPredict2D: model/Placeholder -> "
        "model/Sigmoid|Softmax, model/dense/BiasAdd) and its metadata JSON.",
    )
    export.add_argument("run_dir", metavar="FIT_DIR", help="a `musiczoo downstream fit` output folder")
    export.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    export.add_argument("--name", help="head name before the embedding model's (default: FIT_DIR's name)")
    export.add_argument(
        "--embedding-model",
        metavar="MODEL",
        help="registry name or .pb that made the embeddings (default: the one given to fit)",
    )
    export.add_argument("--task", help="the task to export of a multi-task classifier (default: each)")
    export.set_defaults(run=_export)

    predict = commands.add_parser(
        "predict",
        help="run an exported classifier head on audio files",
        description="Embed audio files with the head's embedding model, run the head (Essentia), print each file's "
        "top classes (track average) and write every activation with -o. Exit status 1 if a file failed.",
    )
    predict.add_argument(
        "head", metavar="HEAD", help="a head .pb (Essentia) or .onnx (onnxruntime) with its .json beside it"
    )
    predict.add_argument("inputs", nargs="+", metavar="AUDIO", help="audio files or folders (searched recursively)")
    predict.add_argument("-o", "--output", metavar="CSV", help="write path, patch, one column per class")
    predict.add_argument("--patches", action="store_true", help="also one row per patch in the CSV")
    predict.add_argument(
        "--embedding-model",
        metavar="MODEL",
        help="registry name or .pb of the embedding model (default: the head JSON's)",
    )
    predict.add_argument("--embeddings-dir", metavar="DIR", help="keep the embeddings (and summary.csv) there")
    predict.add_argument("--batch-size", type=positive_int, default=64, help="patches per inference batch (default 64)")
    predict.add_argument("--top", type=int, default=3, help="classes printed per file (default 3)")
    add_backend_option(predict, "the embedding model")
    predict.set_defaults(run=_predict)
