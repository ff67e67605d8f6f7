"""Downstream classifiers on embeddings: learning, API, metrics, stacks, readers, reports."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

from conftest import SHARED_DATA, require
from musiczoo.downstream import (
    EmbeddingClassifier,
    MultiTaskClassifier,
    acc_x,
    concatenate,
    evaluate,
    evaluate_stacks,
    label_triplets,
    load_classifier,
    nearest_neighbour_accuracy,
    read_ground_truth,
    read_jamendo,
    save_classifier,
    triplet_similarity,
    write_evaluation,
)
from musiczoo.downstream.embeddings import load_labelled, match_embeddings, read_summary
from musiczoo.downstream.labels import GroundTruth
from musiczoo.downstream.patches import Patches

JAMENDO = SHARED_DATA / "mtg-jamendo" / "split-0"
FAST = dict(epochs=6, progress=False)


def blobs(n_tracks, dim=16, classes=3, seed=0, multilabel=False, patches=(2, 6), spread=1.0):
    """Separable tracks: each class a fixed centre (same for every seed), patches scattered around it.

    Multi-label tracks carry their class tag plus ``even`` for even classes.
    """
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(1234).normal(size=(classes, dim)) * 3
    labels = rng.integers(0, classes, n_tracks)
    X = [(centres[c] + spread * rng.normal(size=(rng.integers(*patches), dim))).astype(np.float32) for c in labels]
    if multilabel:
        return X, [[f"c{c}", *(["even"] if c % 2 == 0 else [])] for c in labels]
    return X, np.array([f"c{c}" for c in labels])


def write_summary(folder, names, X, paths=None):
    """A `musiczoo extract` summary.csv (and its .npy files) for per-track arrays."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, (name, array) in enumerate(zip(names, X)):
        np.save(folder / f"{name}.npy", array)
        rows.append(
            {
                "path": str(paths[index] if paths else f"/audio/{name}.mp3"),
                "status": "ok",
                "duration_s": 10.0,
                "patches": len(array),
                "dim": array.shape[1],
                "embeddings": f"{name}.npy",
                "error": None,
            }
        )
    pd.DataFrame(rows).to_csv(folder / "summary.csv", index=False)
    return folder / "summary.csv"


@pytest.fixture(scope="module")
def multilabel_fit():
    X, y = blobs(120, multilabel=True)
    return EmbeddingClassifier(**FAST).fit(X, y), blobs(60, multilabel=True, seed=1)


def test_learns_a_separable_multilabel_problem(multilabel_fit):
    classifier, (X_test, y_test) = multilabel_fit
    assert classifier.task_ == "multilabel" and list(classifier.classes_) == ["c0", "c1", "c2", "even"]
    assert classifier.score(X_test, y_test) > 0.95  # macro ROC-AUC; chance is 0.5
    shuffled = list(np.random.default_rng(0).permutation(np.array(y_test, dtype=object)))
    assert classifier.score(X_test, shuffled) < 0.8
    probabilities = classifier.predict_proba(X_test)
    assert probabilities.shape == (60, 4) and ((probabilities >= 0) & (probabilities <= 1)).all()
    assert classifier.predict(X_test).shape == (60, 4)
    history = classifier.history_
    assert list(history.epoch) == list(range(1, 7))
    assert {"loss", "val_loss", "val_pr_auc", "learning_rate"} <= set(history)
    assert history.val_loss.iloc[-1] < history.val_loss.iloc[0]


def test_track_level_prediction_is_the_mean_of_patch_activations(multilabel_fit):
    classifier, (X_test, _) = multilabel_fit
    per_patch = classifier.predict_proba(X_test[0])  # a 2-D X without groups: each patch its own track
    np.testing.assert_allclose(classifier.predict_proba(X_test[:1])[0], per_patch.mean(axis=0), atol=1e-6)


def test_multiclass_on_a_patch_table_with_groups():
    X, y = blobs(90, classes=4)
    rows, groups = np.concatenate(X), np.repeat([f"t{i}" for i in range(len(X))], [len(x) for x in X])
    classifier = EmbeddingClassifier(**FAST).fit(rows, np.repeat(y, [len(x) for x in X]), groups=groups)
    assert classifier.task_ == "multiclass" and classifier.n_tracks_ == 90
    X_test, y_test = blobs(40, classes=4, seed=2)
    test_rows, test_groups = np.concatenate(X_test), np.repeat(np.arange(40), [len(x) for x in X_test])
    predicted = classifier.predict(test_rows, test_groups)
    assert predicted.shape == (len(test_rows),)  # scikit-learn's convention: one answer per row
    np.testing.assert_array_equal(
        classifier.predict_proba(test_rows, test_groups), classifier.predict_proba(X_test)[test_groups]
    )
    accuracy = classifier.score(X_test, y_test)
    assert accuracy > 0.9 and accuracy == classifier.score(test_rows, y_test[test_groups], test_groups)


def test_seeded_fits_repeat():
    X, y = blobs(30)
    a, b = (EmbeddingClassifier(epochs=2, progress=False, seed=7).fit(X, y).predict_proba(X) for _ in range(2))
    c = EmbeddingClassifier(epochs=2, progress=False, seed=8).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-4


def test_scikit_learn_estimator_api(multilabel_fit, tmp_path):
    classifier, (X_test, y_test) = multilabel_fit
    params = classifier.get_params()
    assert params["hidden"] == 512 and params["learning_rate"] == 1e-3 and params["weight_decay"] == 1e-5
    assert params["epochs"] == 6 and params["lr_patience"] == 5 and params["lr_factor"] == 0.5
    copy = clone(classifier).set_params(hidden=64)
    assert copy.hidden == 64 and not hasattr(copy, "network_")
    with pytest.raises(NotFittedError):
        copy.predict(X_test)
    restored = load_classifier(save_classifier(classifier, tmp_path / "saved"))
    np.testing.assert_allclose(restored.predict_proba(X_test), classifier.predict_proba(X_test), atol=1e-6)
    assert restored.get_params() == params and list(restored.classes_) == list(classifier.classes_)


def test_multitask_one_network_a_head_per_task():
    X, genre = blobs(100, classes=3)
    tags = [[g, "odd"] if g == "c1" else [g] for g in genre]
    classifier = MultiTaskClassifier(**FAST).fit(X, {"genre": genre, "mood/theme": tags})
    X_test, genre_test = blobs(50, classes=3, seed=3)
    tags_test = [[g, "odd"] if g == "c1" else [g] for g in genre_test]
    assert classifier.task_ == {"genre": "multiclass", "mood/theme": "multilabel"}
    probabilities = classifier.predict_proba(X_test)
    assert probabilities["genre"].shape == (50, 3) and probabilities["mood/theme"].shape == (50, 4)
    evaluations = classifier.evaluate(X_test, {"genre": genre_test, "mood/theme": tags_test})
    assert evaluations["genre"].summary["accuracy"] > 0.9 and evaluations["mood/theme"].summary["roc_auc"] > 0.95
    shared = [layer for layer in classifier.network_.layers if layer.name == "hidden"]
    assert len(shared) == 1 and classifier.head_model("mood/theme").outputs[0].shape[-1] == 4


def test_bad_input_is_refused_clearly():
    X, y = blobs(10)
    with pytest.raises(ValueError, match="track 1: patches of shape"):
        EmbeddingClassifier(**FAST).fit([X[0], X[1][:, :8]], y[:2])
    with pytest.raises(ValueError, match="empty label set"):
        EmbeddingClassifier(**FAST).fit(X[:3], [["a"], [], ["b"]])
    with pytest.raises(ValueError, match="y has 3 entries for 10 tracks"):
        EmbeddingClassifier(**FAST).fit(X, y[:3])
    with pytest.raises(ValueError, match="two classes or more"):
        EmbeddingClassifier(**FAST).fit(X, ["same"] * 10)
    classifier = EmbeddingClassifier(epochs=1, progress=False).fit(X, y)
    with pytest.raises(ValueError, match=r"patches of shape \(8,\).*takes \(16,\)"):
        classifier.predict([x[:, :8] for x in X])
    with pytest.raises(ValueError, match="classes unseen in training: zzz"):
        classifier.score(X[:2], ["zzz", y[1]])


def test_patches_average_per_track():
    patches = Patches.of([np.ones((2, 3)), 3 * np.ones((1, 3)), np.arange(12.0).reshape(4, 3)])
    assert patches.n_tracks == 3 and patches.track.tolist() == [0, 0, 1, 2, 2, 2, 2]
    np.testing.assert_allclose(patches.mean(patches.rows), [[1, 1, 1], [3, 3, 3], [4.5, 5.5, 6.5]])
    kept = patches.subset([2, 0])
    assert kept.track.tolist() == [1, 1, 0, 0, 0, 0] and kept.n_tracks == 2


def test_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    truth = (rng.random((80, 5)) < 0.3).astype(int)
    truth[:, 4] = 0  # a class without positives: undefined, left out of the macro averages
    scores = np.clip(truth * 0.4 + rng.random((80, 5)) * 0.8, 0, 1)
    result = evaluate(truth, scores, list("abcde"), "multilabel")
    assert result.summary["roc_auc"] == pytest.approx(roc_auc_score(truth[:, :4], scores[:, :4], average="macro"))
    assert result.summary["pr_auc"] == pytest.approx(average_precision_score(truth[:, :4], scores[:, :4]))
    assert result.summary["accuracy"] == pytest.approx(((scores >= 0.5) == truth).mean())
    table = result.per_class.set_index("class")
    assert table.loc["b", "roc_auc"] == pytest.approx(roc_auc_score(truth[:, 1], scores[:, 1]))
    assert np.isnan(table.loc["e", "roc_auc"]) and table.loc["a", "support"] == truth[:, 0].sum()

    labels = rng.integers(0, 3, 60)
    probabilities = rng.dirichlet(np.ones(3), 60) + np.eye(3)[labels] * 0.3
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    result = evaluate(np.eye(3)[labels], probabilities, ["x", "y", "z"], "multiclass")
    assert result.summary["accuracy"] == pytest.approx(accuracy_score(labels, probabilities.argmax(axis=1)))
    assert result.summary["roc_auc"] == pytest.approx(roc_auc_score(labels, probabilities, multi_class="ovr"))
    assert "acc_1" not in result.summary  # classes are not years


def test_acc_x_by_hand():
    truth, predicted = [2000, 2001, 2005], [2000, 2003, 2001]  # off by 0, 2 and 4 years
    assert acc_x(truth, predicted, 0) == pytest.approx(1 / 3)
    assert acc_x(truth, predicted, 1) == pytest.approx(1 / 3)
    assert acc_x(truth, predicted, 3) == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert acc_x(truth, predicted, 5) == pytest.approx((1 + 3 / 5 + 1 / 5) / 3)
    years = np.array([1990, 1991, 1992])
    result = evaluate(np.eye(3)[[0, 1, 2]], np.eye(3)[[0, 2, 0]], years, "multiclass")
    assert result.summary["acc_0"] == pytest.approx(1 / 3)
    assert result.summary["acc_2"] == pytest.approx((1 + 0.5 + 0) / 3)


def test_triplet_similarity_by_hand():
    anchors = np.array([[1.0, 0], [0, 1], [1, 1]])
    positives = np.array([[2.0, 0.1], [0, 3], [1, 0]])
    negatives = np.array([[0.0, 1], [1, 0], [1, 1.1]])
    result = triplet_similarity(anchors, positives, negatives)
    assert result["accuracy"] == pytest.approx(2 / 3)
    d_pos = 1 - np.array([2 / np.hypot(2, 0.1), 1, 1 / np.sqrt(2)])
    d_neg = 1 - np.array([0, 0, 2.1 / (np.sqrt(2) * np.hypot(1, 1.1))])
    assert result["margin"] == pytest.approx(np.mean(d_neg - d_pos))


def test_label_triplets_share_the_anchor_label_only_with_the_positive():
    labels = ["a", "a", "a", "b", "b", "c"]
    triplets = label_triplets(labels, 500, seed=3)
    names = np.array(labels)[triplets]
    assert triplets.shape == (500, 3) and (triplets[:, 0] != triplets[:, 1]).all()
    assert (names[:, 0] == names[:, 1]).all() and (names[:, 0] != names[:, 2]).all()
    assert set(names[:, 0]) == {"a", "b"} and "c" in set(names[:, 2])  # "c" has no positive
    np.testing.assert_array_equal(triplets, label_triplets(labels, 500, seed=3))
    with pytest.raises(ValueError, match="two items"):
        label_triplets(["a", "b", "c"], 5)


def test_nearest_neighbour_accuracy_by_hand():
    # cosine neighbours: 0<->1, 2->1 (0.8 > 0.6 with 3), 3->2; item 4 ("c", a singleton) is never a query
    x = np.array([[1.0, 0.0], [0.95, 0.3], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]])
    labels = ["a", "a", "b", "b", "c"]
    similarity = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (x / np.linalg.norm(x, axis=1, keepdims=True)).T
    np.fill_diagonal(similarity, -np.inf)
    expected = np.mean([labels[j] == labels[i] for i, j in enumerate(similarity.argmax(axis=1)[:4])])
    assert nearest_neighbour_accuracy(x, labels) == pytest.approx(expected) == pytest.approx(3 / 4)


def test_stacks_concatenate_and_rank():
    X, y = blobs(80, dim=8)
    noise = np.random.default_rng(5)
    sets = {
        "signal": X,
        "noise_a": [noise.normal(size=(len(x), 6)) for x in X],
        "noise_b": [noise.normal(size=(len(x), 4)) for x in X],
    }
    stacked = concatenate([sets["signal"], sets["noise_a"]])
    assert stacked[0].shape == (len(X[0]), 14)  # same patch counts: patch by patch
    averaged = concatenate([sets["signal"], [x[:1] for x in sets["noise_b"]]])
    assert averaged[0].shape == (1, 12) and np.allclose(averaged[0][0, :8], X[0].mean(axis=0))
    with pytest.raises(ValueError, match="patch-wise stacking needs equal counts"):
        concatenate([sets["signal"], [x[:1] for x in sets["noise_b"]]], align="patches")
    train = {name: arrays[:60] for name, arrays in sets.items()}
    test = {name: arrays[60:] for name, arrays in sets.items()}
    seen = []
    table = evaluate_stacks(
        train,
        y[:60],
        test,
        y[60:],
        EmbeddingClassifier(epochs=4, progress=False),
        k=2,
        progress=False,
        on_result=seen.append,
    )
    assert len(table) == 3 and len(seen) == 3 and table["rank"].tolist() == [1, 2, 3]
    assert table.accuracy.is_monotonic_decreasing and table.accuracy.iloc[0] > 0.9
    assert table["stack"].iloc[-1] == "noise_a + noise_b" and table.accuracy.iloc[-1] < 0.7
    assert table.set_index("stack").loc["signal + noise_a", "dim"] == 14


def test_jamendo_split_reader_on_real_files():
    folder = require(JAMENDO)
    path = folder / "autotagging_instrument-validation.tsv"
    truth = read_jamendo(path)
    lines = path.read_text().splitlines()
    assert len(truth) == len(lines) - 1 and truth.tasks == ["labels"]
    assert truth.labels.loc["track_0008559", "labels"] == [
        "instrument---classicalguitar",
        "instrument---doublebass",
        "instrument---drums",
        "instrument---guitar",
    ]
    assert truth.paths["track_0008559"] == "59/8559.mp3"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # top50 tracks without a mood tag are dropped, with a warning
        moods = read_ground_truth(folder / "autotagging_top50tags-test.tsv", category="mood/theme", strip_category=True)
    assert 0 < len(moods) < len(read_jamendo(folder / "autotagging_top50tags-test.tsv"))
    assert all("---" not in tag for tags in moods.labels.labels for tag in tags)
    genre = read_jamendo(folder / "autotagging_genre-test.tsv")
    assert genre.labels.loc["track_0000214", "labels"] == ["genre---punkrock"]
    with pytest.raises(ValueError, match="not an MTG-Jamendo TSV"):
        read_jamendo(folder.parent / "LICENSE")


def test_label_tables_and_catalogue_columns(tmp_path):
    (tmp_path / "single.csv").write_text("id,label\na,rock\nb,jazz\nc,rock\n")
    single = read_ground_truth(tmp_path / "single.csv")
    assert single.labels.labels.tolist() == ["rock", "jazz", "rock"]  # one label each: multi-class
    (tmp_path / "multi.tsv").write_text("a\trock\tpop\nb\tjazz\nb\tblues\nc\n")
    with pytest.warns(UserWarning, match="1 of 3 tracks have no label"):
        multi = read_ground_truth(tmp_path / "multi.tsv")
    assert multi.labels.labels.to_dict() == {"a": ["rock", "pop"], "b": ["jazz", "blues"]}
    (tmp_path / "empty.csv").write_text("id,label\na\nb\n")
    with pytest.raises(ValueError, match="label set is empty"):
        read_ground_truth(tmp_path / "empty.csv")
    catalogue = pd.DataFrame(
        {
            "track_id": ["music21/bach/bwv66.6", "music21/bach/bwv66.7", "x"],
            "path": ["/data/audio/bach/bwv66.6.wav", "/data/audio/bach/bwv66.7.wav", "/data/x.wav"],
            "tags": [["rock", "live"], ["jazz"], ["pop"]],
            "year": pd.array([1999, None, 2004], dtype="Int64"),
        }
    )
    catalogue.to_parquet(tmp_path / "catalogue.parquet")
    with pytest.warns(UserWarning, match="no label"):
        truth = read_ground_truth(tmp_path / "catalogue.parquet", columns=["tags", "year"])
    assert truth.tasks == ["tags", "year"] and list(truth.labels.index) == ["music21/bach/bwv66.6", "x"]
    assert truth.labels.loc["x", "tags"] == ["pop"] and truth.labels.year.tolist() == [1999, 2004]
    X, _ = blobs(3)
    summary = read_summary(
        write_summary(
            tmp_path / "emb", ["a", "b", "c"], X, ["audio/bach/bwv66.6.wav", "audio/bach/bwv66.7.wav", "data/x.wav"]
        )
    )
    assert match_embeddings(truth, summary).index.tolist() == ["music21/bach/bwv66.6", "x"]  # by path
    with pytest.raises(ValueError, match="no column genre"):
        read_ground_truth(tmp_path / "catalogue.parquet", columns=["genre"])


def test_ids_match_embeddings_by_stem_or_jamendo_path(tmp_path):
    X, _ = blobs(3)
    summary_path = write_summary(
        tmp_path / "emb", ["214.low", "215", "x"], X, ["/data/14/214.low.mp3", "/data/15/215.mp3", "/data/16/x.mp3"]
    )
    summary = read_summary(summary_path.parent)
    ids = ["track_214", "track_215", "track_9"]
    jamendo = GroundTruth(
        pd.DataFrame({"labels": [["a"], ["b"], ["a"]]}, index=ids),
        pd.Series(["14/214.mp3", "15/215.mp3", "09/9.mp3"], index=ids),
        "split.tsv",
    )
    matched = match_embeddings(jamendo, summary)
    assert matched.to_dict() == {
        "track_214": str(summary_path.parent / "214.low.npy"),
        "track_215": str(summary_path.parent / "215.npy"),
    }
    by_stem = GroundTruth(pd.DataFrame({"labels": ["a", "b"]}, index=["215", "x"]), source="ids.csv")
    assert list(match_embeddings(by_stem, summary)) == [str(summary_path.parent / n) for n in ("215.npy", "x.npy")]
    with pytest.warns(UserWarning, match="1 of 3 tracks have no embeddings in emb"):
        labelled = load_labelled(jamendo, {"emb": summary_path}, progress=False)
    assert list(labelled.ids) == ["track_214", "track_215"] and np.array_equal(labelled.X()[0], X[0])
    with pytest.raises(ValueError, match="has no audio paths"):
        match_embeddings(by_stem, summary, by="path")
    with pytest.raises(ValueError, match="no track of ids.csv matches"):
        match_embeddings(GroundTruth(pd.DataFrame({"labels": ["a"]}, index=["nope"]), source="ids.csv"), summary)


def test_reports_write_tables_and_readable_plots(tmp_path):
    rng = np.random.default_rng(0)
    truth = (rng.random((100, 12)) < 0.3).astype(int)
    scores = np.clip(truth * 0.5 + rng.random((100, 12)) * 0.6, 0, 1)
    paths = write_evaluation(
        evaluate(truth, scores, [f"genre---{i}" for i in range(12)], "multilabel"), tmp_path / "tags", "tags on test"
    )
    assert [p.name for p in paths] == ["metrics.csv", "per_class.csv", "report.md", "pr_curves.png"]
    assert pd.read_csv(paths[1]).shape == (12, 7) and "| roc_auc |" in paths[2].read_text()
    labels = rng.integers(0, 4, 80)
    confusion = write_evaluation(
        evaluate(
            np.eye(4)[labels],
            np.eye(4)[labels] * 0.6 + rng.random((80, 4)) * 0.5,
            ["rock", "jazz", "pop", "folk"],
            "multiclass",
        ),
        tmp_path / "genre",
        "genre",
    )
    for plot in (paths[-1], confusion[-1]):
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 20_000
