"""`musiczoo` commands of `train`: the `data` group (`data build KIND`, `data features`, `data info`) and `train`."""
import os
from pathlib import Path


def add_commands(commands):
    """Add this package's sub-commands to the `musiczoo` parser's commands."""
    data = commands.add_parser("data", help="build and inspect training data (catalogues)",
                               description="Training data: catalogues of tracks with their metadata.")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    add_build_commands(data_commands)
    add_store_commands(data_commands)
    add_train_command(commands)


def _report(args, catalogue, excluded):
    print(f"{len(catalogue)} tracks in {args.output}/catalogue.parquet; {len(excluded)} excluded "
          f"(reasons in {args.output}/excluded.csv)")
    return 0


def _build_music21(args):
    from musiczoo.train.build_music21 import build_music21

    return _report(args, *build_music21(args.output, limit=args.limit, seconds=args.seconds, seed=args.seed,
                                        workers=args.workers, timeout=args.timeout))


def _build_asap(args):
    from musiczoo.train.build_asap import build_asap

    return _report(args, *build_asap(args.path, args.output, composers=args.composers, limit=args.limit,
                                     seconds=args.seconds, seed=args.seed, workers=args.workers, timeout=args.timeout))


def _build_folder(args):
    from musiczoo.train.build_folder import build_folder

    return _report(args, *build_folder(args.path, args.output, metadata=args.metadata))


def _build_jamendo(args):
    from musiczoo.train.build_jamendo import build_jamendo

    return _report(args, *build_jamendo(args.tsvs, args.output, args.audio_root,
                                        allow_missing_audio=args.allow_missing_audio))


def _build_discogs(args):
    from musiczoo.train.build_discogs import build_discogs

    return _report(args, *build_discogs(args.dump_dir, args.output, args.match))


def _render_options(parser):
    parser.add_argument("--limit", type=int, metavar="N", help="render only the first N tracks of a seeded order")
    parser.add_argument("--seconds", type=float, default=30.0, help="excerpt length in seconds (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the track order and excerpt starts (default 0)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="render processes (default: one per CPU)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds one track may take to parse and render before it is excluded (default 120)")


def add_build_commands(data_commands):
    """`musiczoo data build KIND ... -o OUT`: one sub-command per catalogue builder."""
    build = data_commands.add_parser(
        "build", help="build a catalogue (OUT/catalogue.parquet, OUT/excluded.csv, OUT/audio/)",
        description="Build a catalogue: one row per track with artists, releases, labels, playlists, tags "
                    "and year. Writes OUT/catalogue.parquet and OUT/excluded.csv (every item left out, "
                    "with its reason); builders that render audio write it under OUT/audio/ and resume "
                    "where an earlier build stopped.")
    kinds = build.add_subparsers(dest="kind", required=True, metavar="KIND")

    music21 = kinds.add_parser(
        "music21", help="the embedded default: the music21 corpus rendered to audio",
        description="Render the scores of the music21 package's corpus (~13,000 tunes and pieces) to 16 kHz "
                    "audio excerpts with pretty_midi's General MIDI soundfont. Artists are composers, releases "
                    "works or tune books, labels corpus collections, years from the composers' dates.")
    _render_options(music21)
    music21.set_defaults(run=_build_music21)

    asap = kinds.add_parser(
        "asap", help="ASAP piano performances (MIDI) rendered to audio",
        description="Render ASAP's human piano performances to audio excerpts. Artists are the composer and "
                    "the performer, releases the work, playlists the MAESTRO recital the piece was played in.")
    asap.add_argument("path", metavar="PATH", help="the ASAP folder (with metadata.csv)")
    asap.add_argument("--composers", metavar="TSV",
                      help="composer dates (GiantMIDI-Piano's composers_manually_checked.tsv); default: built in")
    _render_options(asap)
    asap.set_defaults(run=_build_asap)

    folder = kinds.add_parser(
        "folder", help="your own audio files and a metadata table",
        description="Catalogue the audio files of a folder. The metadata CSV has a 'path' (or 'file') column, "
                    "relative to PATH, and any of track_id, title, year and artists, releases, labels, playlists, "
                    "tags (several values separated by '|'). Durations are read from the audio; unreadable "
                    "files are excluded with the reason.")
    folder.add_argument("path", metavar="PATH", help="the audio folder")
    folder.add_argument("--metadata", metavar="CSV", help="the metadata table (default: every file, no metadata)")
    folder.set_defaults(run=_build_folder)

    jamendo = kinds.add_parser(
        "jamendo", help="MTG-Jamendo TSV files and their audio",
        description="Catalogue MTG-Jamendo tracks from its TSV files (TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION "
                    "TAGS...); a track in several TSVs gets the union of its tags.")
    jamendo.add_argument("tsvs", nargs="+", metavar="TSV", help="MTG-Jamendo TSV files")
    jamendo.add_argument("--audio-root", required=True, metavar="PATH", help="the folder the TSV's PATH is relative to")
    jamendo.add_argument("--allow-missing-audio", action="store_true",
                         help="keep tracks whose audio is absent (metadata-only work) instead of excluding them")
    jamendo.set_defaults(run=_build_jamendo)

    discogs = kinds.add_parser(
        "discogs", help="your audio matched to Discogs releases, metadata from the XML dumps",
        description="Catalogue audio matched to Discogs releases. The match CSV has columns path (relative to the "
                    "CSV's folder), release_id and optionally track_position and track_id. Metadata is pooled "
                    "over all releases of the matched release's master, streamed from "
                    "DUMP_DIR/discogs_*_releases.xml[.gz] (and _masters).")
    discogs.add_argument("dump_dir", metavar="DUMP_DIR", help="folder of Discogs monthly dumps")
    discogs.add_argument("--match", required=True, metavar="CSV", help="the audio-to-release table")
    discogs.set_defaults(run=_build_discogs)

    for parser in (music21, asap, folder, jamendo, discogs):
        parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    return kinds


def _features(args):
    from musiczoo.train.catalogue import read_catalogue
    from musiczoo.train.store import FeatureStore, build_store

    build_store(read_catalogue(args.catalogue), args.output, workers=args.workers, shard_tracks=args.shard_tracks)
    info = FeatureStore(args.output).info()
    print(f"{info['tracks']} tracks ({info['hours']:.2f} h) in {args.output}; {len(info['excluded'])} excluded "
          f"(`musiczoo data info {args.output}` lists them)")
    return 0


def _info(args):
    from musiczoo.train.store import FeatureStore

    info = FeatureStore(args.store).info()
    print(f"store      {args.store}\ntracks     {info['tracks']}\nhours      {info['hours']:.2f}\n"
          f"frames     {info['frames']}\nshards     {info['shards']}\nsize       {info['size_mb']:.1f} MB\n"
          f"excluded   {len(info['excluded'])}")
    for row in info["excluded"]:
        print(f"  {row['track_id']}: {row['reason']}  ({row['path']})")
    return 0


def add_store_commands(data_commands):
    """`musiczoo data features` and `musiczoo data info`: the feature store."""
    features = data_commands.add_parser(
        "features", help="compute the mel features of a catalogue into a feature store",
        description="Compute MusiCNN log-mels (float16) of every catalogue track into memory-mapped shards. "
                    "Resumable: a killed build loses at most the shard in flight; run it again to finish. "
                    "Unusable audio is recorded with its reason.")
    features.add_argument("catalogue", help="catalogue.parquet")
    features.add_argument("-o", "--output", required=True, metavar="STORE", help="store folder")
    features.add_argument("--workers", type=int, default=os.cpu_count(), help="processes (default: one per CPU)")
    features.add_argument("--shard-tracks", type=int, default=64, help="tracks per shard (default 64)")
    features.set_defaults(run=_features)
    info = data_commands.add_parser("info", help="tracks, hours, size and excluded files of a feature store")
    info.add_argument("store", help="store folder")
    info.set_defaults(run=_info)


def _train(args):
    from musiczoo.train.config import parse_overrides
    from musiczoo.train.trainer import train

    data = {key: str(Path(value).resolve()) for key, value in (("catalogue", args.catalogue), ("store", args.store))
            if value}
    log = train(args.config, args.output, resume=args.resume, overrides=parse_overrides(args.set) | data,
                progress=not args.no_progress)
    last = log.iloc[-1]
    print(f"trained {int(last.epoch)} epochs into {args.output}: loss {last.loss:.4f}, top-1 {last.top1:.3f}"
          + (f", validation loss {last.val_loss:.4f}, top-1 {last.val_top1:.3f}" if last.notna().val_loss else "")
          + f"\nexport it: musiczoo export {args.output}")
    return 0


def add_train_command(commands):
    """`musiczoo train CONFIG.yaml -o RUN_DIR`."""
    train = commands.add_parser(
        "train", help="train a registry model with contrastive or multi-label objectives",
        description="Train a models.json model on a catalogue and feature store as a YAML config says "
                    "(see configs/). Checkpoints every epoch; --resume continues a killed run exactly; "
                    "logs log.csv, tensorboard/ and curves.png into RUN_DIR.")
    train.add_argument("config", help="YAML config (configs/*.yaml)")
    train.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run folder")
    train.add_argument("--resume", action="store_true", help="continue from RUN_DIR's newest checkpoint")
    train.add_argument("--catalogue", metavar="C", help="catalogue.parquet to train on (instead of the config's)")
    train.add_argument("--store", metavar="S", help="its feature store (instead of the config's)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config key (YAML value), e.g. --set epochs=5 --set 'backbone={width: 0.5}'")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.set_defaults(run=_train)
