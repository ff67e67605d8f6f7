"""`musiczoo era evaluate` and `musiczoo era predict`: music era recognition runs (configs/era_*.yaml)."""

import sys


def _evaluate(args):
    from musiczoo.downstream.era import evaluate_runs

    table = evaluate_runs(args.runs, args.catalogue, args.store, args.output, before=args.before)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"tables and t-SNE figures in {args.output}/ (table1.md{', table2.md' if args.before else ''})")
    return 0


def _predict(args):
    from musiczoo.downstream.era import EraModel

    model = EraModel(args.run_dir)
    texts = args.artist_text * len(args.audio) if args.artist_text and len(args.artist_text) == 1 else args.artist_text
    predictions = model.predict(args.audio, texts)
    predictions.to_csv(sys.stdout, index=False, float_format="%.4f")
    return 0


def add_commands(commands):
    """Add ``era`` (evaluate, predict) to the `musiczoo` parser's commands."""
    era = commands.add_parser(
        "era",
        help="music era recognition: evaluate and run era models",
        description="Era runs trained with configs/era_cnn.yaml, era_suc.yaml or era_mmc.yaml.",
    )
    actions = era.add_subparsers(dest="era_command", required=True, metavar="ACTION")
    evaluate = actions.add_parser(
        "evaluate",
        help="Table 1 (ACC_0..3 years, ACC_0..2 decades), Table 2 (--before) and t-SNE figures",
        description="Predict the era of a catalogue's tracks (from their feature store) with each run; write "
        "OUT/table1.md and .csv (one row per run), with --before YEAR OUT/table2 (the tracks before "
        "YEAR, as deltas to the whole set), and OUT/tsne-RUN.png (colour: artist, brightness: year).",
    )
    evaluate.add_argument("runs", nargs="+", metavar="RUN", help="era run folders")
    evaluate.add_argument("--catalogue", required=True, metavar="C", help="catalogue (.parquet) of the test tracks")
    evaluate.add_argument("--store", required=True, metavar="S", help="their feature store")
    evaluate.add_argument("--before", type=int, metavar="YEAR", help="also score the tracks before YEAR (Table 2)")
    evaluate.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    evaluate.set_defaults(run=_evaluate)
    predict = actions.add_parser(
        "predict",
        help="the era of audio files (AudioArt-MMC: with the artist text)",
        description="Print a CSV: path, era (the class: a year or a decade), probability.",
    )
    predict.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files")
    predict.add_argument("--run", dest="run_dir", required=True, metavar="RUN", help="an era run folder")
    predict.add_argument(
        "--artist-text", action="append", metavar="T", help="the artist text (AudioArt-MMC): once, or once per file"
    )
    predict.set_defaults(run=_predict)
