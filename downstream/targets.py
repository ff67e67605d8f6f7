"""Track labels <-> network targets: multi-label (sigmoid) or multi-class (softmax)."""

import warnings

import numpy as np
from sklearn.preprocessing import LabelEncoder, MultiLabelBinarizer

TASKS = ("auto", "multilabel", "multiclass")
ACTIVATIONS = {"multilabel": "sigmoid", "multiclass": "softmax"}


def _is_label_set(value):
    return isinstance(value, (list, tuple, set, frozenset, np.ndarray))


def _examples(indices, count=5):
    shown = ", ".join(str(i) for i in indices[:count])
    return shown + (", ..." if len(indices) > count else "")


def _normalise(y, task):
    """``(y, task)``: label sets, an indicator matrix or a 1-D label array, and the task they make."""
    if len(y) == 0:
        raise ValueError("the label set is empty: no tracks")
    if isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype != object:
        empty = np.flatnonzero(y.sum(axis=1) == 0)
        if len(empty):
            raise ValueError(
                f"{len(empty)} of {len(y)} rows of the indicator matrix are all zero "
                f"(track {_examples(list(empty))}): drop them or label them"
            )
        if task == "multiclass":
            raise ValueError("an indicator matrix is multi-label; give one label per track for multi-class")
        return y, "multilabel"
    y = list(y)
    sets = any(_is_label_set(v) for v in y)
    task = ("multilabel" if sets else "multiclass") if task == "auto" else task
    if task == "multilabel" or sets:
        y = [list(v) if _is_label_set(v) else [v] for v in y]
        empty = [i for i, v in enumerate(y) if not v]
        if empty:
            raise ValueError(
                f"{len(empty)} of {len(y)} tracks have an empty label set (track {_examples(empty)}): "
                "drop them or label them"
            )
    if task == "multilabel":
        return y, task
    if sets:
        several = [i for i, v in enumerate(y) if len(v) != 1]
        if several:
            raise ValueError(
                f"multi-class needs exactly one label per track; {len(several)} tracks have another "
                f"count (track {_examples(several)})"
            )
        y = [v[0] for v in y]
    return np.asarray(y), task


class TargetEncoder:
    """Fit on track labels; ``task_`` and ``classes_`` tell what the network predicts.

    ``y`` is a list of label sets (multi-label), an indicator matrix ``(tracks, classes)``
    (multi-label, classes ``0..C-1``) or one label per track (multi-class). ``task="auto"``
    decides from that form.
    """

    def __init__(self, task="auto"):
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {task!r}")
        self.task = task

    def fit(self, y):
        y, self.task_ = _normalise(y, self.task)
        if self.task_ == "multilabel":
            indicator = isinstance(y, np.ndarray)
            self.classes_ = np.arange(y.shape[1]) if indicator else MultiLabelBinarizer().fit(y).classes_
        else:
            self.classes_ = LabelEncoder().fit(y).classes_
            if len(self.classes_) < 2:
                raise ValueError(
                    f"a multi-class task needs two classes or more; every track is {self.classes_[0].item()!r}"
                )
        return self

    @property
    def activation(self):
        return ACTIVATIONS[self.task_]

    def transform(self, y):
        """Targets: float32 indicator rows (multi-label) or int class indices (multi-class)."""
        y, _ = _normalise(y, self.task_)
        if self.task_ == "multilabel":
            if isinstance(y, np.ndarray):
                if y.shape[1] != len(self.classes_):
                    raise ValueError(f"indicator matrix has {y.shape[1]} columns for {len(self.classes_)} classes")
                return y.astype(np.float32)
            unknown = sorted({label for labels in y for label in labels} - set(self.classes_), key=str)
            if unknown:
                warnings.warn(f"labels unseen in training are ignored: {_examples(unknown)}", stacklevel=3)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return MultiLabelBinarizer(classes=self.classes_).fit_transform(y).astype(np.float32)
        unknown = sorted(set(y.tolist()) - set(self.classes_.tolist()), key=str)
        if unknown:
            raise ValueError(f"classes unseen in training: {_examples(unknown)}")
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def indicator(self, targets):
        """Targets as an indicator matrix ``(tracks, classes)``, whatever the task."""
        return targets if targets.ndim == 2 else np.eye(len(self.classes_), dtype=np.float32)[targets]

    def decode(self, probabilities, threshold=0.5):
        """Predictions: indicator rows at ``threshold`` (multi-label) or the top class (multi-class)."""
        if self.task_ == "multilabel":
            return (probabilities >= threshold).astype(int)
        return self.classes_[probabilities.argmax(axis=1)]

    def to_dict(self):
        return {"task": self.task_, "classes": self.classes_.tolist()}

    @classmethod
    def from_dict(cls, state):
        encoder = cls(state["task"])
        encoder.task_, encoder.classes_ = state["task"], np.asarray(state["classes"])
        return encoder
