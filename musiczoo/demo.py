"""`musiczoo demo`: the whole zoo on the embedded default data, end to end.

music21 corpus -> rendered audio + catalogue -> feature store -> a held-out set of works ->
COLA training (track associations: two patches of one track) on the rest -> Essentia export ->
`extract` through Essentia's own algorithm -> a shallow classifier of the composer's century,
trained on the training works' embeddings and scored on the held-out works, exported as an
Essentia head -> `musiczoo benchmark` of the trained model next to `mel-stats`, `random-init`
and the pretrained `msd-musicnn` on the held-out works (``OUT/report.html``). Small by default
(about 12 minutes on 2 CPU cores); every step can be re-run and resumes what is done.
"""

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
HELD_OUT = 0.3  # share of the works the model never trains on
CENTURIES = {"to 1599": 1600, "1600s": 1700, "1700s": 1800, "1800s": 1900, "1900s": 2000}  # upper bounds
DEMO_TASKS = {
    "century": {"kind": "classification", "label": "year", "bins": CENTURIES, "group": "releases[0]", "test_size": 0.4},
    "composer-similarity": {"kind": "similarity", "label": "artists[0]"},
    "collection-similarity": {"kind": "similarity", "label": "labels[0]"},
}
DEMO_MODELS = ("mel-stats", "random-init", "msd-musicnn")


def benchmarked_models(out):
    """What a demo into ``out`` benchmarks: its export (whose JSON then holds the results), then :data:`DEMO_MODELS`."""
    return [f"trained={Path(out) / 'models' / DEMO_CONFIG['model']}.pb", *DEMO_MODELS]


def _step(title):
    print(f"\n== {title}")


def demo(out="demo", tracks=120, seconds=20.0, epochs=3, workers=2, progress=True):
    """Run every stage into ``out``; returns the track counts, the head's held-out accuracy and the benchmark."""
    import json

    from musiczoo.downstream import export_head
    from musiczoo.downstream.benchmark import benchmark
    from musiczoo.extractors.extract import extract
    from musiczoo.train.catalogues.music21_corpus import build_music21
    from musiczoo.train.catalogues.schema import read_catalogue, split_catalogue
    from musiczoo.train.store import FeatureStore, build_store
    from musiczoo.train.trainer import train
    from musiczoo.zoo.export import export_run

    out, data = Path(out), Path(out) / "data"
    _step(f"1/7 render {tracks} music21 scores ({seconds:g} s excerpts) into {data}")
    catalogue, excluded = build_music21(data, limit=tracks, seconds=seconds, workers=workers)
    print(f"{len(catalogue)} tracks, {len(excluded)} excluded ({data / 'excluded.csv'})")

    _step("2/7 mel features")
    build_store(read_catalogue(data / "catalogue.parquet"), data / "features", workers=workers, progress=progress)
    print(json.dumps({k: v for k, v in FeatureStore(data / "features").info().items() if k != "excluded"}))

    _step(f"3/7 hold out {HELD_OUT:.0%} of the works: the model never hears them")
    kept, held = split_catalogue(data / "catalogue.parquet", data, HELD_OUT, by="releases", seed=0)
    print(f"{len(kept)} training tracks ({data / 'train.parquet'}), {len(held)} held out ({data / 'held_out.parquet'})")

    _step(f"4/7 train {DEMO_CONFIG['model']} (COLA, track associations) for {epochs} epochs")
    config = DEMO_CONFIG | {"catalogue": str(data / "train.parquet"), "store": str(data / "features"), "epochs": epochs}
    log = train(config, out / "run", resume=(out / "run" / "checkpoints").exists(), progress=progress)
    print(log.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    _step("5/7 export to Essentia (.pb + .json) and embed the audio through TensorflowPredictEffnetDiscogs")
    graph = export_run(out / "run", out / "models")
    summary = extract(graph, [data / "audio"], out / "embeddings", progress=progress)
    print(f"{graph}\n{(summary.status == 'ok').sum()} of {len(summary)} files embedded")

    _step("6/7 downstream: the composer's century from the embeddings (shallow MLP), scored on held-out works")
    classifier, accuracy, baseline, test_tracks = _century_head(summary, kept, held, out / "embeddings")
    print(f"held-out accuracy {accuracy:.3f} over {test_tracks} tracks (majority-class baseline {baseline:.3f})")
    head = export_head(
        classifier, out / "models", "composer_century-discogs_track_embeddings-effnet", embedding_model=str(graph)
    )
    print(f"head: {head} (try: musiczoo predict {head} {data / 'audio'})")

    _step("7/7 benchmark on the held-out works: the trained model next to the baselines and a pretrained model")
    tasks = {"name": "demo-held-out", "catalogue": str((data / "held_out.parquet").resolve()), "tasks": DEMO_TASKS}
    result = benchmark(
        benchmarked_models(out),
        tasks,
        out,
        seeds=3,
        k=(),
        progress=progress,
        command=f"musiczoo demo -o {out} --tracks {tracks} --seconds {seconds:g} --epochs {epochs}",
    )
    table = result.summary[result.summary.metric.isin(["accuracy", "triplet"])]
    print(table.pivot_table(index="model", columns="task", values="mean", sort=False).round(3).to_string())
    print(f"report: {out / 'report.html'} ({out / 'report.md'})")
    return {
        "tracks": len(catalogue),
        "held_out": len(held),
        "accuracy": accuracy,
        "baseline": baseline,
        "benchmark": result,
    }


def _century_head(summary, kept, held, folder):
    """The century MLP fit on the training works' embeddings, and its accuracy, the majority-class baseline's
    and the track count on the held-out works."""
    from musiczoo.downstream import EmbeddingClassifier

    ok = summary[summary.status == "ok"].set_index("path")

    def labelled(frame):
        frame = frame[frame.year.notna() & frame.path.isin(ok.index)]
        X = [np.load(folder / ok.embeddings[path]) for path in frame.path]
        return X, (frame.year.astype(int) // 100 * 100).astype(str).to_numpy()

    (X_train, y_train), (X_test, y_test) = labelled(kept), labelled(held)
    classifier = EmbeddingClassifier(task="multiclass", epochs=20, progress=False).fit(X_train, y_train)
    known = np.isin(y_test, classifier.classes_)
    accuracy = classifier.score([x for x, k in zip(X_test, known) if k], y_test[known])
    majority = pd.Series(y_train).value_counts().index[0]
    return classifier, accuracy, float(np.mean(y_test[known] == majority)), int(known.sum())
