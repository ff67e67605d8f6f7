"""Music era recognition on the ASAP renders: Audio-CNN, Audio-SUC and AudioArt-MMC (artist text with
and without the life years), several seeds, the paper's Table 1 with mean and spread over seeds.

    python benchmarks/era.py -o bench/era                          # the proof: 3 seeds, the configs' sizes
    python benchmarks/era.py -o /tmp/era --seeds 1 --epochs 1 --steps 2   # a quick check that it runs

Data (see configs/recipe_asap.yaml): ``data/asap/train.parquet`` (validation: 10% of its
performances), ``held_out.parquet`` (the test set: works never trained on) and ``data/asap/features``.
Years are the composers' work years (``../shared/data/composers`` dates); classes span the whole
catalogue's range so that the test set's years have a class. Writes ``OUT/era.md`` and ``.csv``
(mean and standard deviation over seeds), ``OUT/before.md`` (Table 2, tracks before ``--before``),
and each run's tables and t-SNE figures under ``OUT/seedN/``.
"""

import argparse
from pathlib import Path

import common  # noqa: F401  (Essentia before TensorFlow)
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # row name: config, overrides
    "Audio-CNN": ("era_cnn", {}),
    "Audio-SUC": ("era_suc", {}),
    "AudioArt-MMC": ("era_mmc", {}),
    "AudioArt-MMC (no years in text)": ("era_mmc", {"text": {"strip_years": True}}),
}


def _train(config, run, overrides):
    from musiczoo.train.config import read_config
    from musiczoo.train.trainer import train

    path = ROOT / "configs" / f"{config}.yaml"
    raw = read_config(path, paths=("catalogue", "store", "text.table", "text.composers"))
    text = raw.get("text") and raw["text"] | overrides.pop("text", {})
    train(raw | overrides | ({"text": text} if text else {}), run, resume=True, progress=False)  # finished: no step
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", required=True, help="output folder")
    parser.add_argument("--data", default=str(ROOT / "data" / "asap"), help="the ASAP build (default data/asap)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per variant (default 3)")
    parser.add_argument("--epochs", type=int, help="epochs (default: the configs')")
    parser.add_argument("--steps", type=int, help="steps per epoch (default: the configs')")
    parser.add_argument("--before", type=int, default=1800, help="Table 2: the tracks before this year (default 1800)")
    args = parser.parse_args()

    from musiczoo.downstream.era import evaluate_runs
    from musiczoo.downstream.report import write_table
    from musiczoo.train.catalogues.schema import read_catalogue

    data, out = Path(args.data), Path(args.output)
    years = read_catalogue(data / "catalogue.parquet").year.dropna().astype(int)
    sizes = {k: v for k, v in (("epochs", args.epochs), ("steps_per_epoch", args.steps)) if v}
    tables, subsets = [], []
    for seed in range(args.seeds):
        runs = []
        for name, (config, extra) in VARIANTS.items():
            loss = {"era_cnn": "era_ce", "era_suc": "era_suc", "era_mmc": "era_mmc"}[config]
            overrides = (
                dict(extra)
                | sizes
                | {
                    "seed": seed,
                    "catalogue": str(data / "train.parquet"),
                    "store": str(data / "features"),
                    "objectives": [{"loss": loss, "years": [int(years.min()), int(years.max())]}],
                }
            )
            runs.append(
                _train(
                    config, out / f"seed{seed}" / name.replace(" (", "-").replace(")", "").replace(" ", "_"), overrides
                )
            )
        folder = out / f"seed{seed}"
        table = evaluate_runs(runs, data / "held_out.parquet", data / "features", folder, args.before, list(VARIANTS))
        tables.append(table.assign(seed=seed))
        subsets.append(pd.read_csv(folder / "table2.csv").assign(seed=seed))
    for frames, name, title in (
        (tables, "era", f"ASAP held-out works, {args.seeds} seed(s): mean ± std"),
        (subsets, "before", f"Tracks before {args.before}: deltas to the whole test set, {args.seeds} seed(s)"),
    ):
        every = pd.concat(frames)
        scores = [c for c in every.columns if c not in ("model", "seed", "tracks")]
        grouped = every.groupby("model", sort=False)[scores]
        mean, spread = grouped.mean(), grouped.std(ddof=0)
        summary = pd.DataFrame(
            {c: [f"{m:.4f} ± {s:.4f}" for m, s in zip(mean[c], spread[c])] for c in scores}, index=mean.index
        ).reset_index()
        write_table(summary, out / name, title=title)
        print((out / f"{name}.md").read_text())


if __name__ == "__main__":
    main()
