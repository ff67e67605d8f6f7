"""`musiczoo demo`: the whole zoo on the embedded default data, end to end.

music21 corpus -> rendered audio + catalogue -> feature store -> COLA training (track
associations: two patches of one track) -> Essentia export -> `extract` through Essentia's own
algorithm -> a shallow classifier of the composer's century on the embeddings, evaluated and
exported as an Essentia head (`musiczoo predict` runs it on audio). Small by default (about 9
minutes on 2 CPU cores); every step can be re-run and resumes what is done.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd

DEMO_CONFIG = {
    "model": "discogs_track_embeddings-effnet",
    "objectives": [{"pairs": "track", "loss": "cola"}],
    "backbone": {"width": 0.5, "depth": 0.5},
    "batch_size": 16,
    "validation_fraction": 0.15,
    "optimizer": {"learning_rate": 1e-3},
    "schedule": {"name": "plateau", "factor": 0.1, "patience": 3},
}


def _step(title):
    print(f"\n== {title}")


def demo(out="demo", tracks=120, seconds=20.0, epochs=3, workers=2, progress=True):
    """Run every stage into ``out``; returns the track count, test accuracy and majority baseline."""
    from musiczoo.downstream.estimator import EmbeddingClassifier
    from musiczoo.downstream.export import export_head
    from musiczoo.extractors.extract import extract
    from musiczoo.train.build_music21 import build_music21
    from musiczoo.train.catalogue import read_catalogue
    from musiczoo.train.store import FeatureStore, build_store
    from musiczoo.train.trainer import train
    from musiczoo.zoo.export import export_run

    out = Path(out)
    _step(f"1/6 render {tracks} music21 scores ({seconds:g} s excerpts) into {out / 'data'}")
    catalogue, excluded = build_music21(out / "data", limit=tracks, seconds=seconds, workers=workers)
    print(f"{len(catalogue)} tracks, {len(excluded)} excluded ({out / 'data' / 'excluded.csv'})")

    _step("2/6 mel features")
    build_store(read_catalogue(out / "data" / "catalogue.parquet"), out / "data" / "features", workers=workers,
                progress=progress)
    print(json.dumps({k: v for k, v in FeatureStore(out / "data" / "features").info().items() if k != "excluded"}))

    _step(f"3/6 train {DEMO_CONFIG['model']} (COLA, track associations) for {epochs} epochs")
    config = DEMO_CONFIG | {"catalogue": str(out / "data" / "catalogue.parquet"),
                            "store": str(out / "data" / "features"), "epochs": epochs}
    log = train(config, out / "run", resume=(out / "run" / "checkpoints").exists(), progress=progress)
    print(log.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    _step("4/6 export to Essentia (.pb + .json)")
    graph = export_run(out / "run", out / "models")
    print(graph)

    _step("5/6 embed the rendered audio through Essentia's TensorflowPredictEffnetDiscogs")
    summary = extract(graph, [out / "data" / "audio"], out / "embeddings", progress=progress)
    print(f"{(summary.status == 'ok').sum()} of {len(summary)} files embedded")

    _step("6/6 downstream: the composer's century from the embeddings (shallow MLP)")
    catalogue = read_catalogue(out / "data" / "catalogue.parquet").set_index("path")
    ok = summary[summary.status == "ok"]
    years = catalogue.year.reindex(ok.path)
    keep = years.notna().to_numpy()
    embeddings = [np.load(out / "embeddings" / name) for name in ok.embeddings[keep]]
    centuries = (years[keep].astype(int) // 100 * 100).astype(str).to_numpy()
    order = np.random.default_rng(0).permutation(len(embeddings))
    split = int(0.7 * len(order))
    train_idx, test_idx = order[:split], order[split:]
    classifier = EmbeddingClassifier(task="multiclass", epochs=20, progress=False)
    classifier.fit([embeddings[i] for i in train_idx], centuries[train_idx])
    accuracy = classifier.score([embeddings[i] for i in test_idx], centuries[test_idx])
    majority = pd.Series(centuries[train_idx]).value_counts().index[0]
    baseline = float(np.mean(centuries[test_idx] == majority))
    print(f"test accuracy {accuracy:.3f} over {len(test_idx)} tracks (majority-class baseline {baseline:.3f})")
    head = export_head(classifier, out / "models", "composer_century-discogs_track_embeddings-effnet",
                       embedding_model=str(graph))
    print(f"head: {head} (try: musiczoo predict {head} {out / 'data' / 'audio'})")
    return {"tracks": len(catalogue), "accuracy": accuracy, "baseline": baseline}
