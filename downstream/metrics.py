"""Evaluation: macro ROC-AUC / PR-AUC, accuracy, per-class table, ACC_x, triplet and nearest-neighbour similarity.

Macro averages run over the classes a metric is defined for (both positives and negatives in
the ground truth); the per-class table shows the others as NaN.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

ERA_TOLERANCES = (0, 1, 2, 3)


@dataclass
class Evaluation:
    """Scores of one classifier on one labelled set."""

    task: str
    classes: np.ndarray
    truth: np.ndarray  # indicator matrix (tracks, classes)
    scores: np.ndarray  # activations (tracks, classes)
    summary: dict = field(default_factory=dict)
    per_class: pd.DataFrame = None

    @property
    def predicted(self):
        """Indicator matrix of the decisions: threshold 0.5 (multi-label) or the top class."""
        if self.task == "multilabel":
            return (self.scores >= 0.5).astype(int)
        return np.eye(len(self.classes), dtype=int)[self.scores.argmax(axis=1)]


def per_class_scores(truth, scores):
    """ROC-AUC and average precision of each column; NaN where a column has one value only."""
    defined = truth.min(axis=0) != truth.max(axis=0)
    roc = np.full(truth.shape[1], np.nan)
    ap = np.full(truth.shape[1], np.nan)
    for column in np.flatnonzero(defined):
        roc[column] = roc_auc_score(truth[:, column], scores[:, column])
        ap[column] = average_precision_score(truth[:, column], scores[:, column])
    return roc, ap


def macro_scores(truth, scores):
    """``(macro ROC-AUC, macro PR-AUC)`` over the classes where they are defined."""
    roc, ap = per_class_scores(truth, scores)
    if np.isnan(roc).all():
        return float("nan"), float("nan")
    return float(np.nanmean(roc)), float(np.nanmean(ap))


def acc_x(y_true, y_pred, x):
    """The music-era paper's tolerant accuracy: ``mean((x - min(|y - y_hat|, x)) / x)``.

    Full credit for an exact answer, linearly less up to ``x`` (years) off; ``ACC_0`` is the
    exact accuracy.
    """
    error = np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))
    if x == 0:
        return float(np.mean(error == 0))
    return float(np.mean((x - np.minimum(error, x)) / x))


def _numeric(classes):
    try:
        return np.asarray(classes, float)
    except (TypeError, ValueError):
        return None


def evaluate(truth, scores, classes, task):
    """An :class:`Evaluation` from track-level ``truth`` (indicator matrix) and ``scores``.

    Summary: tracks, macro ROC-AUC and PR-AUC, accuracy (top-1 for multi-class, per-label at 0.5
    for multi-label); multi-class tasks whose classes are numbers (years) add ACC_0..ACC_3.
    """
    truth, scores = np.asarray(truth), np.asarray(scores, np.float64)
    if truth.shape != scores.shape:
        raise ValueError(f"ground truth {truth.shape} and scores {scores.shape} differ in shape")
    evaluation = Evaluation(task, np.asarray(classes), truth, scores)
    roc, ap = per_class_scores(truth, scores)
    predicted = evaluation.predicted
    precision, recall, f1, _ = precision_recall_fscore_support(truth, predicted, average=None, zero_division=0)
    evaluation.per_class = pd.DataFrame(
        {
            "class": [str(c) for c in classes],
            "support": truth.sum(axis=0).astype(int),
            "roc_auc": roc,
            "pr_auc": ap,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    )
    macro_roc, macro_ap = macro_scores(truth, scores)
    evaluation.summary = {"tracks": len(truth), "roc_auc": macro_roc, "pr_auc": macro_ap}
    if task == "multilabel":
        evaluation.summary["accuracy"] = float((predicted == truth).mean())
    else:
        evaluation.summary["accuracy"] = float((predicted.argmax(axis=1) == truth.argmax(axis=1)).mean())
        values = _numeric(classes)
        if values is not None:
            true_values, predicted_values = values[truth.argmax(axis=1)], values[predicted.argmax(axis=1)]
            for x in ERA_TOLERANCES:
                evaluation.summary[f"acc_{x}"] = acc_x(true_values, predicted_values, x)
    return evaluation


def cosine_distance(a, b):
    """Row-wise ``1 - cos(a, b)``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return 1.0 - (a * b).sum(axis=1) / np.maximum(norms, 1e-12)


def triplet_similarity(anchors, positives, negatives):
    """The playlist paper's similarity test on ``(anchor, positive, negative)`` embeddings.

    ``accuracy``: share of triplets whose positive is closer (cosine distance) than the negative;
    ``margin``: mean of ``d(anchor, negative) - d(anchor, positive)``.
    """
    positive = cosine_distance(anchors, positives)
    negative = cosine_distance(anchors, negatives)
    return {
        "triplets": len(positive),
        "accuracy": float(np.mean(positive < negative)),
        "margin": float(np.mean(negative - positive)),
    }


def label_triplets(labels, count, seed=0):
    """``count`` index triplets ``(anchor, positive, negative)``: the positive shares the anchor's
    label, the negative does not. Anchors come from labels with at least two items."""
    labels = np.asarray(labels, dtype=object)
    groups = pd.Series(np.arange(len(labels))).groupby(labels).apply(list)
    anchors_from = [index for members in groups if len(members) >= 2 for index in members]
    if not anchors_from or len(groups) < 2:
        raise ValueError("triplets need a label with two items and at least two labels")
    rng = np.random.default_rng(seed)
    rows = []
    for anchor in rng.choice(anchors_from, count):
        positive = rng.choice([i for i in groups[labels[anchor]] if i != anchor])
        negative = rng.choice(np.flatnonzero(labels != labels[anchor]))
        rows.append((anchor, positive, negative))
    return np.array(rows, dtype=int).reshape(-1, 3)


def nearest_neighbour_accuracy(embeddings, labels):
    """Leave-one-out 1-NN by cosine: the share of items (whose label has another item) whose
    nearest other item shares their label. Every item is a candidate neighbour."""
    x = np.asarray(embeddings, np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    similarity = x @ x.T
    np.fill_diagonal(similarity, -np.inf)
    labels = np.asarray(labels, dtype=object)
    counts = pd.Series(labels).value_counts()
    queries = np.flatnonzero(counts.reindex(labels).to_numpy() >= 2)
    return float(np.mean(labels[similarity[queries].argmax(axis=1)] == labels[queries]))
