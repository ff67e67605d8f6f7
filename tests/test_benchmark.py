"""`musiczoo benchmark`: tasks from a catalogue, models next to the baselines, the cache, the report."""

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import MUSICNN_GRAPH, require, write_wav
from musiczoo.cli import main
from musiczoo.downstream.benchmark import Task, TaskError, benchmark, read_tasks
from musiczoo.downstream.benchmark.models import MEL_STATS, resolve_model

ARTISTS = {"low": 220.0, "mid": 660.0, "high": 1760.0, "noise": None}


@pytest.fixture(scope="module")
def tagged_tracks(tmp_path_factory):
    """16 six-second tracks by 4 'artists' (a tone height, or noise), in 8 'albums' of 2, and a tasks file."""
    folder = tmp_path_factory.mktemp("bench")
    rng = np.random.default_rng(0)
    t = np.arange(6 * 16000) / 16000
    rows = []
    for artist, pitch in ARTISTS.items():
        for take in range(4):
            if pitch is None:
                audio = 0.3 * rng.standard_normal(t.size)
            else:
                f = pitch * (1 + 0.02 * take)
                audio = sum(0.3 / h * np.sin(2 * np.pi * h * f * t) for h in (1, 2, 3)) + 0.01 * rng.standard_normal(
                    t.size
                )
            name = f"{artist}-{take}.wav"
            write_wav(folder / name, audio)
            rows.append(
                {
                    "path": name,
                    "artist": artist,
                    "album": f"{artist}-{take // 2}",
                    "one": "same",
                    "year": 1700 + 100 * take,
                }
            )
    pd.DataFrame(rows).to_csv(folder / "catalogue.csv", index=False)
    (folder / "tasks.yaml").write_text(
        yaml.safe_dump(
            {
                "catalogue": "catalogue.csv",
                "tasks": {
                    "artist": {"kind": "classification", "label": "artist", "test_size": 0.5},
                    "artist-similarity": {"kind": "similarity", "label": "artist", "triplets": 200},
                    "single-class": {"kind": "classification", "label": "one"},
                },
            }
        )
    )
    return folder


def test_labels_lists_bins_and_min_count():
    catalogue = pd.DataFrame(
        {
            "artists": [["Bach", "Gould"], ["Bach", "Hewitt"], ["Ravel"], [], ["Ravel", "X"]],
            "year": [1720, 1740, 1910, None, 1905],
        }
    )
    assert Task("c", "classification", "artists[0]").labels(catalogue).tolist() == [
        "Bach",
        "Bach",
        "Ravel",
        None,
        "Ravel",
    ]
    assert Task("p", "similarity", "artists[1]", min_count=1).labels(catalogue).tolist() == [
        "Gould",
        "Hewitt",
        None,
        None,
        "X",
    ]
    multi = Task("m", "classification", "artists").labels(catalogue)
    assert multi.tolist() == [["Bach"], ["Bach"], ["Ravel"], None, ["Ravel"]]  # Gould, Hewitt, X: one track each
    era = Task("e", "classification", "year", bins={"Baroque": 1750, "Modern": 2000}).labels(catalogue)
    assert era.tolist() == ["Baroque", "Baroque", "Modern", None, "Modern"]
    with pytest.raises(TaskError, match="one label per track"):
        Task("s", "similarity", "artists").labels(catalogue)
    with pytest.raises(TaskError, match="no column 'composer'"):
        Task("x", "classification", "composer").labels(catalogue)
    with pytest.raises(ValueError, match="kind must be one of"):
        Task("x", "clustering", "year")


def test_group_split_keeps_every_group_on_one_side():
    catalogue = pd.DataFrame(
        {"composer": [c for c in "ABCD" for _ in range(6)], "work": [f"{c}{i // 2}" for c in "ABCD" for i in range(6)]}
    )
    task = Task("composer", "classification", "composer", group="work", test_size=0.34)
    labels, groups = task.labels(catalogue), task.groups(catalogue)
    for seed in range(3):
        train, test = task.split(labels, groups, seed)
        assert len(test) and not set(groups.iloc[train]) & set(groups.iloc[test])
        assert set(labels.iloc[test]) <= set(labels.iloc[train])
    with pytest.raises(TaskError, match="fewer than two classes"):
        Task("one", "classification", "composer").split(pd.Series(["A"] * 4), None, 0)


def test_bad_tasks_files_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="catalogue not found"):
        read_tasks({"catalogue": str(tmp_path / "nope.csv"), "tasks": {"a": {"kind": "similarity", "label": "x"}}})
    pd.DataFrame({"file": ["a.wav"]}).to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(ValueError, match="no `path` column"):
        read_tasks({"catalogue": str(tmp_path / "c.csv"), "tasks": {"a": {"kind": "similarity", "label": "x"}}})
    with pytest.raises(ValueError, match="unknown keys"):
        read_tasks({"catalogue": "c.csv", "task": {}})


def test_benchmark_scores_models_and_baselines_and_reports_what_failed(tagged_tracks, tmp_path):
    graph = require(MUSICNN_GRAPH)
    out = tmp_path / "report"
    code = main(
        [
            "benchmark",
            "mel-stats",
            f"musicnn={graph}",
            "broken=missing.pb",
            "stack:mel-stats+musicnn",
            "--tasks",
            str(tagged_tracks / "tasks.yaml"),
            "-o",
            str(out),
            "--epochs",
            "20",
            "--cache",
            str(tmp_path / "cache"),
            "--no-progress",
        ]
    )
    assert code is None
    scores = pd.read_csv(out / "scores.csv")
    assert set(scores.model) == {"mel-stats", "musicnn", "mel-stats+musicnn"}
    assert set(scores.seed) == {0, 1, 2}
    summary = pd.read_csv(out / "summary.csv").set_index(["task", "model", "metric"])
    # tones of four heights and noise: trivially separable, by the log-mel statistics most of all
    assert summary.loc[("artist", "mel-stats", "accuracy"), "mean"] >= 0.75
    assert summary.loc[("artist-similarity", "mel-stats", "triplet"), "mean"] >= 0.9
    assert summary.loc[("artist-similarity", "musicnn", "nn"), "mean"] > 0.25  # chance: 3 of 15 others
    report = (out / "report.md").read_text()
    assert "| musicnn |" in report and "| mel-stats+musicnn |" in report and "± " in report
    assert "model broken=missing.pb" in report and "graph not found" in report
    assert "single-class" in report and "fewer than two classes" in report
    assert (out / "tsne-artist.png").is_file()
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "<table>" in page and "musiczoo benchmark" in page


def test_cached_embeddings_are_never_recomputed(tagged_tracks, tmp_path):
    graph = require(MUSICNN_GRAPH)
    tasks = {
        "catalogue": str(tagged_tracks / "catalogue.csv"),
        "tasks": {"album": {"kind": "similarity", "label": "album", "triplets": 50}},
    }
    cold = benchmark(["mel-stats"], tasks, tmp_path / "a", seeds=1, k=(), cache=tmp_path / "cache", progress=False)
    warm = benchmark(
        ["mel-stats", str(graph)], tasks, tmp_path / "b", seeds=1, k=(), cache=tmp_path / "cache", progress=False
    )
    again = benchmark(
        ["mel-stats", str(graph)], tasks, tmp_path / "c", seeds=1, k=(), cache=tmp_path / "cache", progress=False
    )
    assert (cold.seconds["embedded"], warm.seconds["embedded"], again.seconds["embedded"]) == (16, 16, 0)
    pd.testing.assert_frame_equal(warm.scores, again.scores)


def test_a_list_of_graphs_gives_benchmark_seed_i_the_ith(tagged_tracks, tmp_path):
    from musiczoo.zoo.export import export_random_init

    first = require(MUSICNN_GRAPH)
    second = export_random_init("music_era_ce-cnn", tmp_path / "second", seed=1, register=False)
    tasks = {
        "catalogue": str(tagged_tracks / "catalogue.csv"),
        "tasks": {"album": {"kind": "similarity", "label": "album", "triplets": 50}},
    }
    specs = [f"seeds={first},{second}", f"first={first}", f"second={second}"]
    result = benchmark(specs, tasks, tmp_path / "out", seeds=3, k=(), cache=tmp_path / "cache", progress=False)
    scores = result.scores.set_index(["model", "seed", "metric"]).value.sort_index()
    for seed, graph in [(0, "first"), (1, "second"), (2, "first")]:
        assert scores.loc["seeds", seed].equals(scores.loc[graph, seed])
    assert not scores.loc["first", 1].equals(scores.loc["second", 1])
    assert result.seconds["embedded"] == 2 * 16  # each graph once, whatever rows share it
    with pytest.raises(ValueError, match="one model each"):
        resolve_model(f"x={first},mel-stats", [], 3, tmp_path)


def test_mel_stats_is_the_no_model_baseline(tagged_tracks):
    model = resolve_model(MEL_STATS, [MEL_STATS], 3, None)
    audio = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    assert model.name == "mel-stats" and len(model.embedders) == 1
    assert model.embedder(2)(audio).shape == (1, 192)


def test_random_init_takes_the_architecture_of_the_run_beside_it(tmp_path):
    from musiczoo.downstream.benchmark.models import DEFAULT_ARCHITECTURE, _architecture
    from musiczoo.zoo.run import RUN_FILE, WEIGHTS_FILE

    run = tmp_path / "run"
    run.mkdir()
    (run / RUN_FILE).write_text('{"model": "playlist_co_embeddings-vggish", "backbone": {"width": 0.25}}')
    (run / WEIGHTS_FILE).write_bytes(b"")
    assert _architecture(["mel-stats", f"mine={run}"]) == ("playlist_co_embeddings-vggish", {"width": 0.25})
    assert _architecture(["msd-musicnn", "discogs_artist_embeddings-effnet"]) == (
        "discogs_artist_embeddings-effnet",
        {},
    )
    assert _architecture(["mel-stats", "msd-musicnn"]) == (DEFAULT_ARCHITECTURE, {})


def test_a_built_catalogue_reads_as_a_task_catalogue(tmp_path):
    from musiczoo.train.catalogues.schema import catalogue_frame, write_catalogue

    rows = [
        {"track_id": f"t{i}", "path": str(tmp_path / f"{i}.wav"), "artists": [f"a{i % 2}"], "year": year}
        for i, year in enumerate([1720, 1890, None])
    ]
    write_catalogue(catalogue_frame(rows), tmp_path / "catalogue.parquet")
    tasks = read_tasks(
        {
            "catalogue": str(tmp_path / "catalogue.parquet"),
            "tasks": {
                "era": {"kind": "classification", "label": "year", "bins": {"old": 1800, "new": 2000}, "min_count": 1}
            },
        }
    )
    assert tasks.catalogue.path.tolist() == [str(tmp_path / f"{i}.wav") for i in range(3)]
    assert tasks.tasks[0].labels(tasks.catalogue).tolist() == ["old", "new", None]
    assert Task("a", "similarity", "artists[0]").labels(tasks.catalogue).tolist() == ["a0", "a1", "a0"]


def test_held_out_results_land_in_the_scored_models_metadata(tagged_tracks, tmp_path):
    """A run folder keeps its results (heldout.json) and its export carries them; an export's JSON gets them;
    another's model (Essentia's official graph) is left as it was."""
    import json

    import keras

    from musiczoo.fileio import sha256
    from musiczoo.zoo import registry
    from musiczoo.zoo.export import export_run
    from musiczoo.zoo.run import write_run

    official = require(MUSICNN_GRAPH)
    untouched = {p.name: sha256(p) for p in official.parent.iterdir() if p.is_file()}
    name, overrides = "music_era_ce-cnn", {}
    keras.utils.set_random_seed(0)
    run = tmp_path / "run"
    run.mkdir()
    write_run(run, registry.build(name, **overrides), name, metadata={"dataset": {"name": "unit-test catalogue"}})
    tasks = tagged_tracks / "tasks.yaml"
    specs = ["mel-stats", f"mine={run}", f"official={official}"]
    result = benchmark(specs, tasks, tmp_path / "a", seeds=2, k=(), cache=tmp_path / "cache", progress=False)
    assert result.recorded == [run / "heldout.json"]
    assert {p.name: sha256(p) for p in official.parent.iterdir() if p.is_file()} == untouched

    graph = export_run(run, tmp_path / "export", register=False)
    meta = json.loads(graph.with_suffix(".json").read_text())
    found = meta["benchmark"]["tasks"]
    summary = result.summary.set_index(["task", "model", "metric"])
    triplet = next(r for r in found["results"] if (r["task"], r["metric"]) == ("artist-similarity", "triplet"))
    assert triplet["mean"] == round(summary.loc[("artist-similarity", "mine", "triplet"), "mean"], 4)
    assert set(triplet["baselines"]) == {"mel-stats"}  # the official graph is neither baseline nor import
    assert triplet["baselines"]["mel-stats"][0] == round(
        summary.loc[("artist-similarity", "mel-stats", "triplet"), "mean"], 4
    )
    assert (found["row"], found["seeds"], found["training_seeds"], found["tracks"]) == ("mine", 2, 1, 16)
    assert found["tasks"] == str(tasks) and found["report"].endswith("report.html")
    assert meta["dataset"]["metrics"]["tasks: artist-similarity triplet"] == triplet["mean"]
    assert meta["dataset"]["name"] == "unit-test catalogue"

    # scoring the export itself updates its JSON in place: the same task set is replaced, not repeated
    again = benchmark(
        ["mel-stats", f"mine={graph}"], tasks, tmp_path / "b", seeds=1, k=(), cache=tmp_path / "cache", progress=False
    )
    assert again.recorded == [graph.with_suffix(".json")]
    meta = json.loads(graph.with_suffix(".json").read_text())
    assert list(meta["benchmark"]) == ["tasks"] and meta["benchmark"]["tasks"]["seeds"] == 1
    assert sum(k.startswith("tasks: ") for k in meta["dataset"]["metrics"]) == len(
        meta["benchmark"]["tasks"]["results"]
    )


def test_a_pretrained_import_keeps_its_authors_metrics():
    from musiczoo.zoo import heldout

    found = heldout.block([{"task": "artist", "metric": "accuracy", "mean": 0.61538, "ci95": float("nan")}], row="x")
    authors = {"name": "msd-musicnn", "dataset": {"metrics": {"ROC-AUC": 0.8802}}}
    meta = heldout.with_block(authors, "gamemusic", found)
    assert meta["dataset"]["metrics"] == {"ROC-AUC": 0.8802}
    assert meta["benchmark"]["gamemusic"]["results"][0] == {
        "task": "artist",
        "metric": "accuracy",
        "mean": 0.6154,
        "ci95": None,
        "baselines": {},
    }
    trained = heldout.with_block(
        {"name": "musicnn_artist_embeddings-musicnn", "dataset": {"metrics": {}}}, "gamemusic", found
    )
    assert trained["dataset"]["metrics"] == {"gamemusic: artist accuracy": 0.6154}
