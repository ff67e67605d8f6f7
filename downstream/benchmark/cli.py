"""`musiczoo benchmark MODEL... --tasks TASKS.yaml -o OUT`."""

import shlex
import sys


def _benchmark(args):
    from musiczoo.downstream.benchmark.run import benchmark

    command = shlex.join(["musiczoo", *sys.argv[1:]]) if sys.argv[1:2] == ["benchmark"] else None
    result = benchmark(
        args.models,
        args.tasks,
        args.output,
        seeds=args.seeds,
        k=tuple(args.k),
        cache=args.cache,
        epochs=args.epochs,
        progress=not args.no_progress,
        command=command,
        backend=args.backend,
        record=not args.no_record,
    )
    for what, message in result.failures:
        print(f"left out: {what}: {message}", file=sys.stderr)
    print(f"{args.output}/report.md and report.html: {len(result.models)} models, {len(result.tracks)} tracks")
    if result.recorded:
        print(f"held-out results recorded in: {', '.join(map(str, result.recorded))}")


def add_commands(commands):
    from musiczoo.arguments import add_backend_option

    parser = commands.add_parser(
        "benchmark",
        help="score models next to the mel-stats and random-init baselines on tasks",
        description="Embed the tasks' audio with every MODEL (once: embeddings are cached by graph hash), score "
        "classification tasks with the frozen-embedding MLP probe and similarity tasks with cosine "
        "triplets and nearest neighbours over several seeds, rank stacks of models, and write "
        "OUT/report.md and OUT/report.html. A model that fails to load or a task that cannot be "
        "scored is reported; the rest goes on.",
    )
    parser.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="[NAME=]MODEL: mel-stats, random-init[:REGISTRY_NAME], a registry or pretrained name "
        "(msd-musicnn), an exported .pb, a training run folder, A,B,C (one per training seed: benchmark "
        "seed i scores the i-th), or stack:A+B",
    )
    parser.add_argument(
        "--tasks", required=True, metavar="TASKS.yaml", help="catalogue, audio and tasks (benchmarks/tasks/*.yaml)"
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="report folder")
    parser.add_argument("--seeds", type=int, default=3, help="splits / initialisations / triplet draws (default 3)")
    parser.add_argument(
        "-k",
        type=int,
        nargs="*",
        default=[2],
        help="stack sizes to rank: every combination of the models (default 2; none: -k)",
    )
    parser.add_argument("--cache", metavar="DIR", help="embedding cache (default OUT/cache)")
    parser.add_argument("--epochs", type=int, default=30, help="MLP probe epochs (default 30, the Discogs protocol)")
    add_backend_option(parser, "every graph")
    parser.add_argument(
        "--no-record",
        action="store_true",
        help="leave the models' metadata as it is (default: each scored export's .json, or a run folder's "
        "heldout.json, gets its held-out results beside the baselines')",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=_benchmark)
