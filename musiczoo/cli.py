"""The ``musiczoo`` command line: each command mirrors one Python API call."""

import argparse
import importlib
import json
import os
import sys
import traceback
from pathlib import Path

from musiczoo.arguments import add_backend_option, positive_int
from musiczoo.errors import error_message
from musiczoo.runtime import quiet_tensorflow_start

COMMAND_MODULES = (
    "musiczoo.train.cli",
    "musiczoo.downstream.cli",
    "musiczoo.downstream.benchmark.cli",
    "musiczoo.downstream.era_cli",
)


def _report(table, done):
    """Print how many files of a per-file table were ``done`` and each failure (stderr); 1 if any failed."""
    failed = table[table.status != "ok"]
    print(f"{len(table) - len(failed)} of {len(table)} files {done}")
    for row in failed.itertuples():
        print(f"  failed: {row.path}: {row.error}", file=sys.stderr)
    return 1 if len(failed) else 0


def _shard(text):
    from musiczoo.extractors.extract import parse_shard

    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _extract(args):
    from musiczoo.extractors import summary as outputs
    from musiczoo.extractors.extract import extract

    if args.merge:
        table = outputs.merge(args.merge)
        counts = ", ".join(f"{count} {status}" for status, count in table.status.value_counts().items())
        print(f"{Path(args.merge) / outputs.SUMMARY_FILE}: {len(table)} files ({counts or 'none'})")
        return 0
    if not (args.model and args.inputs and args.output):
        raise ValueError("give MODEL, INPUT... and -o OUT, or --merge OUT")
    options = dict(node=args.node, batch_size=args.batch_size, backend=args.backend, metadata=args.metadata)
    options["shard"] = args.shard
    if args.engine == "ray":
        from musiczoo.extractors.ray_engine import extract_on_ray

        summary = extract_on_ray(args.model, args.inputs, args.output, args.address, args.actors, **options)
    elif args.address or args.actors:
        raise ValueError("--address and --actors are for --engine ray")
    else:
        summary = extract(args.model, args.inputs, args.output, workers=args.workers, timeout=args.timeout, **options)
    current = summary.attrs["current"]
    done = f"embedded into {args.output}/" + (f" ({current} already current)" if current else "")
    code = _report(summary[summary.status.isin(["ok", "error"])], f"{done} (summary: {args.output}/summary.csv)")
    for row in summary[summary.status.isin(["skipped", "missing"])].itertuples():
        print(f"  {row.status}: {row.path}: {row.error}", file=sys.stderr)
    for row in summary[summary.warning.notna()].itertuples():
        print(f"  warning: {row.path}: {row.warning}", file=sys.stderr)
    return code


def _tag(args):
    from musiczoo.extractors.tag import DEFAULT_MODEL, format_tags, tag

    model = args.model or DEFAULT_MODEL
    tags = tag(args.inputs, model, top=args.top, batch_size=args.batch_size, csv=args.output)
    if (tags.status == "ok").any():
        print(format_tags(tags))
    return _report(tags, f"tagged with {model} (table: {args.output})")


def _import(args):
    from musiczoo.zoo.pretrained import import_musicnn

    for path in import_musicnn(args.checkpoints, args.output):
        print(f"imported {path} and {path.with_suffix('.json')}")
    return 0


def _export(args):
    from musiczoo.zoo import export
    from musiczoo.zoo.convert import export_graph

    if args.random_init:
        path = export.export_random_init(args.random_init, args.output or "exports", seed=args.seed, format=args.format)
    elif args.source and Path(args.source).is_dir():
        path = export.export_run(args.source, args.output, format=args.format)
    elif args.source:
        path = export_graph(args.source, args.output, format=args.format)
    else:
        raise SystemExit("musiczoo export: give a RUN_DIR, a MODEL or --random-init NAME")
    written = [path.with_suffix(suffix) for suffix in (".pb", ".onnx", ".json")]
    print(f"exported {', '.join(str(p) for p in written if p.is_file())}")
    return 0


def _models_list(args):
    from musiczoo.zoo import registry

    exported = registry.exports()
    for name, entry in registry.entries().items():
        spec = entry["musiczoo"]
        pretrained = registry.is_pretrained(entry)
        flags = ["pretrained"] * pretrained + ["exported"] * (name in exported)
        flags = " ".join(flags + ["random-init"] * (registry.random_init_name(name) in exported))
        architecture = spec["architecture"] if pretrained else spec["backbone"]["name"]
        print(f"{name:42s} {architecture:16s} {spec['objective']:10s} {entry['inference']['algorithm']:32s} {flags}")
    return 0


def _embedding_model(graph, metadata):
    """``(path, metadata)`` of a head's embedding model; None for a model that runs on audio."""
    from musiczoo.zoo.families import AUDIO_WRAPPERS
    from musiczoo.zoo.resolve import read_metadata

    if metadata["inference"]["algorithm"] in AUDIO_WRAPPERS:
        return None
    from musiczoo.downstream.predict import Head  # imports Keras: heads only

    path = Head(graph).embedding_graph()
    return path, read_metadata(path)


def _models_show(args):
    from musiczoo.extractors.usage import usage
    from musiczoo.zoo import registry
    from musiczoo.zoo.resolve import is_model_file, read_metadata

    exported = args.name if is_model_file(args.name) else registry.exports().get(args.name)
    if exported is None:  # defined but not exported here: the call with the file an export writes
        entry = registry.get(args.name)
        make = (
            f"musiczoo import musicnn {entry['musiczoo']['checkpoint']}"
            if registry.is_pretrained(entry)
            else f"musiczoo export --random-init {args.name} (or RUN_DIR)"
        )
        print(json.dumps(entry | {"exported": None}, indent=2, ensure_ascii=False))
        print(f"\n# not exported here: `{make}` writes {args.name}.pb\n{usage(args.name, f'{args.name}.pb', entry)}")
        return 0
    graph = Path(exported)
    if not graph.is_file():
        raise FileNotFoundError(f"graph not found: {graph}")
    metadata = read_metadata(graph)
    print(
        json.dumps(registry.entries().get(args.name, metadata) | {"exported": str(graph)}, indent=2, ensure_ascii=False)
    )
    print(f"\n{usage(args.name, graph, metadata, _embedding_model(graph, metadata))}")
    return 0


def _models_site(args):
    from musiczoo.site import write_site

    print(f"catalogue: {write_site(args.output, args.benchmark)}")
    return 0


def _demo(args):
    from musiczoo.demo import demo

    result = demo(args.output, tracks=args.tracks, seconds=args.seconds, epochs=args.epochs, workers=args.workers)
    print(
        f"\ndemo done in {args.output}/: {result['tracks']} tracks, {result['held_out']} held out; held-out "
        f"composer-century accuracy {result['accuracy']:.3f} (majority baseline {result['baseline']:.3f}); "
        f"benchmark: {args.output}/report.html"
    )
    return 0


def parser():
    from musiczoo.zoo.onnx import FORMATS as EXPORT_FORMATS
    from musiczoo.zoo import registry

    main = argparse.ArgumentParser(
        prog="musiczoo",
        description="Train, export and serve music-audio embedding models for Essentia.",
    )
    main.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show TensorFlow's native start-up lines (CUDA probing, absl) and an error's traceback",
    )
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    extract = commands.add_parser(
        "extract",
        help="embed audio files with a zoo or Essentia model",
        description="Embed audio files with a model: one .npy (patches x dim) per file plus OUT/summary.csv, "
        "a row for every file ever given (and for the other entries of the folders, as skipped). Files are "
        "decoded and embedded in worker processes, or on a Ray cluster (--engine ray): a file that crashes one "
        "costs that file. A re-run into OUT (by either engine) "
        "embeds only new and changed files; --shard splits the inputs between runs (machines, a job array) "
        "writing into one OUT. Bad files are reported and skipped; the exit status is 1 when any file failed.",
    )
    extract.add_argument(
        "model",
        nargs="?",
        help="registry name of an exported or pretrained model (imported on first use), "
        "or a .pb or .onnx with its .json beside it (a .onnx runs on onnxruntime)",
    )
    extract.add_argument("inputs", nargs="*", metavar="INPUT", help="audio files or folders (searched recursively)")
    extract.add_argument("-o", "--output", metavar="OUT", help="output folder")
    extract.add_argument(
        "--node",
        help="graph node to read: an output purpose (embeddings, predictions) or a node "
        "name (default: the embeddings output of the metadata)",
    )
    extract.add_argument("--batch-size", type=positive_int, default=64, help="patches per inference batch (default 64)")
    add_backend_option(extract, "the model")
    extract.add_argument("--metadata", metavar="JSON", help="Essentia metadata of the graph, if not beside the .pb")
    extract.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="embed only the I-th of N parts of the inputs (by a hash of each path): N runs with 1/N ... N/N, "
        "on any machines, fill one OUT; each run merges OUT/summary.csv when it ends",
    )
    extract.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="K",
        help="local engine: processes decoding and embedding side by side (default 1; 0: in this process)",
    )
    extract.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        metavar="S",
        help="local engine: seconds one file may take (default 1800)",
    )
    extract.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: worker processes on this machine (default); ray: a Ray cluster, with Ray Data (tasks "
        'decode, an actor pool embeds; pip install "musiczoo[ray]")',
    )
    extract.add_argument(
        "--address",
        metavar="ADDR",
        help="ray engine: the cluster's head, HOST:PORT as `ray start --head` printed it, or auto "
        "(default: a Ray started on this machine for the run)",
    )
    extract.add_argument(
        "--actors",
        type=positive_int,
        metavar="K",
        help="ray engine: model actors (default: one per GPU of the cluster, else one per two CPUs)",
    )
    extract.add_argument(
        "--merge",
        metavar="OUT",
        help="only fold the summary parts of OUT (runs killed or still going) into OUT/summary.csv",
    )
    extract.set_defaults(run=_extract)

    export = commands.add_parser(
        "export",
        help="export a model as an Essentia frozen graph and/or ONNX + metadata JSON",
        description="Write NAME.pb (frozen graph, dynamic batch, Essentia node names), NAME.onnx (the same "
        "graph as ONNX, opset 17, with --format onnx or both) and NAME.json (Essentia metadata; its onnx block "
        "names the ONNX input and outputs), and register the model so `musiczoo extract NAME` finds it. "
        "Given an exported MODEL instead, convert its frozen graph to ONNX beside it (or into OUT).",
    )
    export.add_argument(
        "source",
        nargs="?",
        metavar="RUN_DIR|MODEL",
        help="a training run folder (run.json + weights), or an exported model to convert to ONNX: a .pb (or .onnx) "
        "with its .json beside it (a classifier head's too), a registered export or a pretrained import",
    )
    export.add_argument("--random-init", metavar="NAME", help="export an untrained registry model instead")
    export.add_argument(
        "-o", "--output", metavar="OUT", help="output folder (default: RUN_DIR/export, ./exports, beside MODEL)"
    )
    export.add_argument("--seed", type=int, default=0, help="weight seed for --random-init")
    export.add_argument(
        "--format",
        choices=EXPORT_FORMATS,
        default="pb",
        help="pb: the frozen graph Essentia loads (default); onnx: ONNX only; both "
        '(onnx needs `pip install "musiczoo[onnx]"`)',
    )
    export.set_defaults(run=_export)

    tag = commands.add_parser(
        "tag",
        help="the top tags of audio files, from a pretrained tagger",
        description="Tag audio files with a tagger (default mtt-musicnn, imported from the musicnn wheel on first "
        "use): the top tags of each file, its predictions averaged over patches, printed and written "
        "to a CSV. Bad files are reported and skipped; the exit status is 1 when any file failed.",
    )
    tag.add_argument("inputs", nargs="+", metavar="AUDIO", help="audio files or folders (searched recursively)")
    tag.add_argument(
        "--model", help="a tagger: registry name, or a .pb with its .json (classes) beside it (default: mtt-musicnn)"
    )
    tag.add_argument("--top", type=int, default=5, help="tags per file (default 5)")
    tag.add_argument("-o", "--output", default="tags.csv", metavar="CSV", help="the CSV to write (default tags.csv)")
    tag.add_argument("--batch-size", type=positive_int, default=64, help="patches per inference batch (default 64)")
    tag.set_defaults(run=_tag)

    importer = commands.add_parser("import", help="import published pretrained models as zoo models")
    sources = importer.add_subparsers(dest="source", required=True, metavar="SOURCE")
    checkpoints = ", ".join(entry["musiczoo"]["checkpoint"] for entry in registry.pretrained().values())
    musicnn = sources.add_parser(
        "musicnn",
        help="the MusiCNN/VGG taggers of the musicnn wheel",
        description="Freeze the TensorFlow 1 checkpoints of the musicnn wheel (install it with "
        "`pip install --no-deps musicnn`) for Essentia: NAME.pb and NAME.json (50 tags, licence, "
        "citation), registered so that `musiczoo extract NAME` and `musiczoo tag` find them. "
        "`musiczoo extract` imports them on first use anyway.",
    )
    musicnn.add_argument(
        "checkpoints", nargs="*", default="all", metavar="CHECKPOINT", help=f"{checkpoints} or all (default)"
    )
    musicnn.add_argument("-o", "--output", metavar="DIR", help="output folder (default: MUSICZOO_HOME/pretrained)")
    musicnn.set_defaults(run=_import)

    models = commands.add_parser("models", help="list or show registry models, or write their catalogue site")
    models_commands = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    models_commands.add_parser("list", help="one line per registry model").set_defaults(run=_models_list)
    show = models_commands.add_parser(
        "show",
        help="a model's metadata, its Essentia call and the musiczoo command",
        description="Print the registry entry (or the .json of a .pb or .onnx, a head's too), then a ready-to-paste "
        "Essentia snippet (the call its metadata names; a head's embedding model first) and the "
        "musiczoo command that does the same.",
    )
    show.add_argument("name", metavar="MODEL", help="registry name, or a .pb or .onnx with its .json beside it")
    show.set_defaults(run=_models_show)
    site = models_commands.add_parser(
        "site",
        help="a static HTML catalogue of the models (offline, self-contained)",
        description="Write SITE/index.html (every registry model and every export registered here, filterable by "
        "family and status) and a page per model (description, training data, schema, the Essentia call "
        "and musiczoo commands or how to get the model, licence, citation, benchmark results), with the "
        "model files in SITE/files/: open it from disk or serve it from any web server.",
    )
    site.add_argument("-o", "--output", required=True, metavar="SITE", help="output folder")
    site.add_argument(
        "--benchmark",
        action="append",
        default=[],
        metavar="DIR",
        help="a `musiczoo benchmark` output folder: its held-out results on the models it scored (repeatable)",
    )
    site.set_defaults(run=_models_site)

    demo = commands.add_parser(
        "demo",
        help="the whole zoo end to end on the embedded music21 data",
        description="Render music21 scores to audio, compute features, hold out 30% of the works, train a small "
        "COLA model on the rest, export it to Essentia, embed the audio through Essentia, fit a "
        "downstream classifier, and benchmark the model next to mel-stats, random-init and msd-musicnn "
        "on the held-out works (OUT/report.html). Resumes what an earlier run into the same folder "
        "finished.",
    )
    demo.add_argument("-o", "--output", default="demo", help="output folder (default ./demo)")
    demo.add_argument("--tracks", type=int, default=120, help="music21 scores to render (default 120)")
    demo.add_argument("--seconds", type=float, default=20.0, help="excerpt length (default 20 s)")
    demo.add_argument("--epochs", type=int, default=3, help="training epochs (default 3)")
    demo.add_argument("--workers", type=int, default=2, help="render and feature processes (default 2)")
    demo.set_defaults(run=_demo)

    for module in COMMAND_MODULES:  # each adds its own commands
        importlib.import_module(module).add_commands(commands)
    return main


def main(argv=None):
    """Run a command; an error is one line on stderr (the traceback too with ``-v`` or ``MUSICZOO_DEBUG=1``), exit 2."""
    args = parser().parse_args(argv)
    if not args.verbose:
        quiet_tensorflow_start()
    try:
        return args.run(args)
    except Exception as error:
        if args.verbose or os.environ.get("MUSICZOO_DEBUG", "0") not in ("", "0"):
            traceback.print_exc()
        print(f"musiczoo {args.command}: {error_message(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
