"""`musiczoo` commands of `train`: the `data` group (`data build KIND`, `data features`, `data info`) and `train`."""

import os
from functools import partial
from pathlib import Path

from musiczoo.train.catalogues import SOURCES


def add_commands(commands):
    """Add this package's sub-commands to the `musiczoo` parser's commands."""
    data = commands.add_parser(
        "data",
        help="build and inspect training data (catalogues)",
        description="Training data: catalogues of tracks with their metadata.",
    )
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    add_build_commands(data_commands)
    add_store_commands(data_commands)
    add_split_command(data_commands)
    add_train_command(commands)


def _split(args):
    from musiczoo.train.catalogues.schema import HELD_OUT_FILE, TRAIN_FILE, split_catalogue

    kept, held = split_catalogue(args.catalogue, args.output, args.held_out, by=args.by, seed=args.seed)
    print(f"{len(kept)} tracks in {Path(args.output) / TRAIN_FILE}, {len(held)} in {Path(args.output) / HELD_OUT_FILE}")
    return 0


def add_split_command(data_commands):
    """`musiczoo data split CATALOGUE -o OUT`: training tracks and held-out tracks."""
    split = data_commands.add_parser(
        "split",
        help="hold out tracks (whole works or artists) that a model must never train on",
        description="Write OUT/train.parquet and OUT/held_out.parquet: about a fraction of the catalogue's groups "
        "(the first value of --by, e.g. the work; else each track) held out, seeded.",
    )
    split.add_argument("catalogue", help="catalogue.parquet")
    split.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    split.add_argument("--held-out", type=float, default=0.3, help="share of the groups held out (default 0.3)")
    split.add_argument(
        "--by",
        metavar="COLUMN",
        help="a list column whose first value keeps tracks together (releases: no work on both sides)",
    )
    split.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    split.set_defaults(run=_split)


def _build(source, parameters, args):
    """Run ``source``'s build call with the parsed arguments of its ``parameters``."""
    catalogue, excluded = source.builder()(**{name: getattr(args, name) for name in parameters})
    print(
        f"{len(catalogue)} tracks in {args.out_dir}/catalogue.parquet; {len(excluded)} excluded "
        f"(reasons in {args.out_dir}/excluded.csv)"
    )
    return 0


def add_build_commands(data_commands):
    """`musiczoo data build KIND ... -o OUT`: one sub-command per catalogue source of :data:`SOURCES`."""
    build = data_commands.add_parser(
        "build",
        help="build a catalogue (OUT/catalogue.parquet, OUT/excluded.csv, OUT/audio/)",
        description="Build a catalogue: one row per track with artists, releases, labels, playlists, tags "
        "and year. Writes OUT/catalogue.parquet and OUT/excluded.csv (every item left out, "
        "with its reason); builders that render audio write it under OUT/audio/ and resume "
        "where an earlier build stopped.",
    )
    kinds = build.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind, source in SOURCES.items():
        parser = kinds.add_parser(kind, help=source.help, description=source.description)
        actions = [parser.add_argument(*flags, **options) for flags, options in source.arguments]
        actions.append(
            parser.add_argument("-o", "--output", dest="out_dir", required=True, metavar="OUT", help="output folder")
        )
        parser.set_defaults(run=partial(_build, source, [action.dest for action in actions]))
    return kinds


def _features(args):
    from musiczoo.train.catalogues.schema import read_catalogue
    from musiczoo.train.store import FeatureStore, build_store

    build_store(
        read_catalogue(args.catalogue),
        args.output,
        workers=args.workers,
        shard_tracks=args.shard_tracks,
        rebuild=args.rebuild,
        frontend=args.frontend,
    )
    info = FeatureStore(args.output).info()
    print(
        f"{info['tracks']} tracks ({info['hours']:.2f} h) in {args.output}; {len(info['excluded'])} excluded "
        f"(`musiczoo data info {args.output}` lists them)"
    )
    return 0


def _info(args):
    from musiczoo.train.store import FeatureStore

    info = FeatureStore(args.store).info()
    print(
        f"store      {args.store}\ntracks     {info['tracks']}\nhours      {info['hours']:.2f}\n"
        f"frames     {info['frames']}\nshards     {info['shards']}\nsize       {info['size_mb']:.1f} MB\n"
        f"excluded   {len(info['excluded'])}"
    )
    for row in info["excluded"]:
        print(f"  {row['track_id']}: {row['reason']}  ({row['path']})")
    return 0


def add_store_commands(data_commands):
    """`musiczoo data features` and `musiczoo data info`: the feature store."""
    from musiczoo.zoo.frontends import STORE_FRONT_ENDS

    features = data_commands.add_parser(
        "features",
        help="compute the mel features of a catalogue into a feature store",
        description="Compute log-mels (float16; MusiCNN's unless --frontend) of every catalogue track into "
        "memory-mapped shards. "
        "Resumable: a killed build loses at most the shard in flight; run it again to finish. "
        "Unusable audio is recorded with its reason. The store follows its catalogue: a run examines again "
        "the tracks whose file changed (size or modification time), moved or appeared, and drops the tracks "
        "that left the catalogue.",
    )
    features.add_argument("catalogue", help="catalogue.parquet")
    features.add_argument("-o", "--output", required=True, metavar="STORE", help="store folder")
    features.add_argument("--workers", type=int, default=os.cpu_count(), help="processes (default: one per CPU)")
    features.add_argument("--shard-tracks", type=int, default=64, help="tracks per shard (default 64)")
    features.add_argument(
        "--rebuild", action="store_true", help="recompute every track (and reclaim the space of dropped ones)"
    )
    features.add_argument(
        "--frontend",
        choices=STORE_FRONT_ENDS,
        default="musicnn",
        help="the mels: musicnn (default; what Essentia's wrappers compute), vggish, or era_paper (the music-era "
        "paper's 22.05 kHz 224-band mels, TensorFlow only: its models do not export to Essentia)",
    )
    features.set_defaults(run=_features)
    info = data_commands.add_parser("info", help="tracks, hours, size and excluded files of a feature store")
    info.add_argument("store", help="store folder")
    info.set_defaults(run=_info)


def _train(args):
    from musiczoo.train.config import parse_overrides
    from musiczoo.train.trainer import train

    if args.workers:
        from musiczoo.train.distribute import cluster_config

        if args.index is None:
            raise ValueError("--workers needs --index: this process's place in the list")
        os.environ["TF_CONFIG"] = cluster_config(args.workers.split(","), args.index)
    data = {
        key: str(Path(value).resolve())
        for key, value in (("catalogue", args.catalogue), ("store", args.store))
        if value
    }
    log = train(
        args.config,
        args.output,
        resume=args.resume,
        overrides=parse_overrides(args.set) | data,
        progress=not args.no_progress,
    )
    last = log.iloc[-1]
    print(
        f"trained {int(last.epoch)} epochs into {args.output}: loss {last.loss:.4f}, top-1 {last.top1:.3f}"
        + (f", validation loss {last.val_loss:.4f}, top-1 {last.val_top1:.3f}" if last.notna().val_loss else "")
        + f"\n{_next_step(args.output)}"
    )
    return 0


def _next_step(run_dir):
    """What to do with a finished run: export it where Essentia can run it, and predict with an era run."""
    from musiczoo.zoo.export import check_essentia_input
    from musiczoo.zoo.run import is_run, load_run

    if not is_run(run_dir):
        return f"this worker is done: the chief writes the run into {run_dir}"
    run = load_run(run_dir)
    steps = [f"export it: musiczoo export {run_dir}"]
    try:
        check_essentia_input(run.model, run.entry)
    except ValueError:  # artist text, or mels Essentia does not compute
        steps = []
    if run.entry["musiczoo"]["objective"].startswith("era_"):
        steps.append(f"predict with it: musiczoo era predict --run {run_dir} AUDIO...")
    return "\n".join(steps)


def add_train_command(commands):
    """`musiczoo train CONFIG.yaml -o RUN_DIR`."""
    train = commands.add_parser(
        "train",
        help="train a registry model with contrastive or multi-label objectives",
        description="Train a models.json model on a catalogue and feature store as a YAML config says "
        "(see configs/). Checkpoints every epoch; --resume continues a killed run exactly; "
        "logs log.csv, tensorboard/ and curves.png into RUN_DIR. On several machines, run it on each with "
        "--workers and its --index (or TF_CONFIG set): worker 0 writes RUN_DIR, which the others must reach "
        "to resume (shared storage).",
    )
    train.add_argument("config", help="YAML config (configs/*.yaml)")
    train.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run folder")
    train.add_argument("--resume", action="store_true", help="continue from RUN_DIR's newest checkpoint")
    train.add_argument("--catalogue", metavar="C", help="catalogue.parquet to train on (instead of the config's)")
    train.add_argument("--store", metavar="S", help="its feature store (instead of the config's)")
    train.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config key (YAML value), e.g. --set epochs=5 --set 'backbone={width: 0.5}'",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.add_argument(
        "--workers",
        metavar="HOST:PORT,...",
        help="train as one of these worker processes (MultiWorkerMirroredStrategy; the first is the chief)",
    )
    train.add_argument("--index", type=int, metavar="I", help="this process's place in --workers (0: the chief)")
    train.set_defaults(run=_train)
