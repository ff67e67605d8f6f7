"""`musiczoo downstream fit|evaluate|stack|export`: YAML config, reports, exports, clear errors."""

import json

import numpy as np
import pandas as pd
import pytest

from musiczoo.cli import main
from musiczoo.downstream import export_head, load_classifier
from test_downstream import blobs, write_summary

EMBEDDER = "playlist_co_embeddings-vggish"  # 128-d embeddings in the registry


def write_labels(path, ids, labels):
    path.write_text("id,label\n" + "".join(f"{i},{','.join(tags)}\n" for i, tags in zip(ids, labels)))
    return path


@pytest.fixture
def dataset(tmp_path):
    """90 tracks of 128-d embeddings (one summary), train/test label tables (multi-label)."""
    X, y = blobs(90, dim=128, multilabel=True)
    ids = [f"song{i:03d}" for i in range(90)]
    summary = write_summary(tmp_path / "emb", ids, X)
    return {
        "X": X,
        "ids": ids,
        "summary": summary,
        "train": write_labels(tmp_path / "train.csv", ids[:60], y[:60]),
        "test": write_labels(tmp_path / "test.csv", ids[60:], y[60:]),
    }


def test_fit_export_and_evaluate_from_a_config(tmp_path, dataset, capsys):
    config = tmp_path / "fit.yaml"
    config.write_text(
        f"embeddings: emb/summary.csv\ntrain: train.csv\ntest: test.csv\noutput: run\n"
        f"embedding_model: {EMBEDDER}\nclassifier:\n  epochs: 3\n  hidden: 64\n"
    )
    assert main(["downstream", "fit", "--config", str(config), "--epochs", "4"]) == 0  # the option wins
    run = tmp_path / "run"
    state = json.loads((run / "estimator.json").read_text())
    assert state["params"]["epochs"] == 4 and state["params"]["hidden"] == 64
    assert len(pd.read_csv(run / "history.csv")) == 4
    assert {p.name for p in (run / "test").iterdir()} == {"metrics.csv", "per_class.csv", "report.md", "pr_curves.png"}
    fit = json.loads((run / "fit.json").read_text())
    assert fit["test"]["labels"]["roc_auc"] > 0.95 and fit["embedding_model"] == EMBEDDER
    assert "roc_auc" in capsys.readouterr().out

    assert main(["downstream", "export", str(run), "-o", str(tmp_path / "heads")]) == 0
    head = tmp_path / "heads" / f"run-{EMBEDDER}.pb"
    meta = json.loads(head.with_suffix(".json").read_text())
    assert meta["dataset"]["name"] == "train.csv" and meta["dataset"]["metrics"] == fit["test"]["labels"]

    args = ["--embeddings", str(dataset["summary"]), "--test", str(dataset["test"])]
    assert main(["downstream", "evaluate", str(run), *args, "-o", str(tmp_path / "keras")]) == 0
    assert main(["downstream", "evaluate", str(head), *args, "-o", str(tmp_path / "essentia")]) == 0
    keras_metrics, essentia_metrics = (pd.read_csv(tmp_path / name / "metrics.csv") for name in ("keras", "essentia"))
    np.testing.assert_allclose(essentia_metrics.to_numpy(float), keras_metrics.to_numpy(float), atol=1e-5)


def test_multitask_from_catalogue_columns(tmp_path):
    X, genre = blobs(60, dim=8)
    ids = [f"t{i}" for i in range(60)]
    summary = write_summary(tmp_path / "emb", ids, X)
    catalogue = pd.DataFrame(
        {"track_id": ids, "genre": genre, "tags": [[g, "odd"] if g == "c1" else [g] for g in genre]}
    )
    catalogue.iloc[:40].to_parquet(tmp_path / "train.parquet")
    catalogue.iloc[40:].to_parquet(tmp_path / "test.parquet")
    run = tmp_path / "run"
    assert (
        main(
            [
                "downstream",
                "fit",
                "--embeddings",
                str(summary),
                "--train",
                str(tmp_path / "train.parquet"),
                "--test",
                str(tmp_path / "test.parquet"),
                "--column",
                "genre",
                "tags",
                "--epochs",
                "3",
                "-o",
                str(run),
            ]
        )
        == 0
    )
    assert (run / "test" / "genre" / "confusion.png").is_file() and (run / "test" / "tags" / "pr_curves.png").is_file()
    assert (
        main(
            [
                "downstream",
                "export",
                str(run),
                "-o",
                str(tmp_path / "heads"),
                "--name",
                "toy",
                "--embedding-model",
                "no-such-model",
            ]
        )
        == 2
    )
    with pytest.raises(ValueError, match="8-d embeddings"):  # the registry's vggish gives 128-d
        export_head(load_classifier(run), tmp_path, "toy", EMBEDDER, task="genre")


def test_stack_ranks_every_pair(tmp_path, dataset, capsys):
    noise = np.random.default_rng(4)
    a = write_summary(tmp_path / "noise_a", dataset["ids"], [noise.normal(size=(len(x), 5)) for x in dataset["X"]])
    b = write_summary(tmp_path / "noise_b", dataset["ids"], [noise.normal(size=(len(x), 3)) for x in dataset["X"]])
    assert (
        main(
            [
                "downstream",
                "stack",
                "--embeddings",
                str(dataset["summary"]),
                str(a),
                str(b),
                "--names",
                "signal",
                "noise_a",
                "noise_b",
                "-k",
                "2",
                "--train",
                str(dataset["train"]),
                "--test",
                str(dataset["test"]),
                "--epochs",
                "3",
                "-o",
                str(tmp_path / "stacks"),
            ]
        )
        == 0
    )
    table = pd.read_csv(tmp_path / "stacks" / "stacks.csv")
    assert table["rank"].tolist() == [1, 2, 3] and table["stack"].iloc[-1] == "noise_a + noise_b"
    assert table.pr_auc.is_monotonic_decreasing and "| rank | stack |" in capsys.readouterr().out
    assert (tmp_path / "stacks" / "stacks.md").read_text().startswith("# Stacks on test.csv")


def test_bad_input_gives_clear_errors(tmp_path, dataset, capsys):
    fit = ["downstream", "fit", "--embeddings", str(dataset["summary"]), "-o", str(tmp_path / "run"), "--epochs", "1"]

    def fails(args, message):
        assert main(args) == 2
        assert message in capsys.readouterr().err

    fails(fit, "needs --train")
    fails(
        [*fit, "--train", str(write_labels(tmp_path / "other.csv", ["x1", "x2"], [["a"], ["b"]]))],
        "no track of other.csv matches an embedded file by stem",
    )
    fails([*fit, "--train", str(tmp_path / "absent.csv")], "ground truth not found")
    fails(
        [*fit, "--train", str(dataset["train"]), "--embedding-model", "discogs_track_embeddings-effnet"],
        "takes 128-d embeddings but discogs_track_embeddings-effnet gives 1280-d",
    )  # before any training
    (tmp_path / "empty.csv").write_text("id,label\nsong001\nsong002\n")
    fails([*fit, "--train", str(tmp_path / "empty.csv")], "the label set is empty")
    (tmp_path / "bad.yaml").write_text("trian: train.csv\n")
    fails([*fit, "--config", str(tmp_path / "bad.yaml")], "unknown keys trian")
    (tmp_path / "params.yaml").write_text("classifier:\n  hiden: 3\n")
    fails(
        [*fit, "--train", str(dataset["train"]), "--config", str(tmp_path / "params.yaml")],
        "unknown classifier parameters hiden",
    )
    np.save(dataset["summary"].parent / "song005.npy", np.zeros((3, 64), np.float32))
    fails([*fit, "--train", str(dataset["train"])], "song005.npy: dim 64, but other files have 128")
