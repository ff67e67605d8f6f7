"""Saved classifiers: a folder with ``estimator.json`` (class, parameters, classes, history) and ``network.keras``."""

import json
import tempfile
from pathlib import Path

import keras
import pandas as pd

from musiczoo.downstream.estimator import EmbeddingClassifier
from musiczoo.downstream.finetune import FineTuneClassifier
from musiczoo.downstream.multitask import MultiTaskClassifier
from musiczoo.downstream.targets import TargetEncoder
from musiczoo.fileio import atomic_write

STATE_FILE = "estimator.json"
NETWORK_FILE = "network.keras"
CLASSES = {cls.__name__: cls for cls in (EmbeddingClassifier, MultiTaskClassifier, FineTuneClassifier)}


def save_classifier(classifier, path):
    """Write a fitted classifier to the folder ``path`` (created if needed); returns the folder."""
    classifier._check_fitted("network_")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {
        "estimator": type(classifier).__name__,
        "params": classifier.get_params(),
        "features": list(classifier.features_),
        "n_tracks": classifier.n_tracks_,
        "encoders": {task: e.to_dict() for task, e in classifier.encoders_.items()},
        "history": classifier.history_.to_dict("records"),
    }
    with tempfile.TemporaryDirectory(dir=path) as scratch:
        classifier.network_.save(Path(scratch) / NETWORK_FILE)
        atomic_write(path / NETWORK_FILE, (Path(scratch) / NETWORK_FILE).read_bytes())
    atomic_write(path / STATE_FILE, json.dumps(state, indent=2, default=str).encode())
    return path


def load_classifier(path):
    """A classifier saved with :func:`save_classifier`, ready to predict."""
    path = Path(path)
    if not (path / STATE_FILE).is_file():
        raise FileNotFoundError(f"{path} is not a saved classifier: {STATE_FILE} is missing")
    state = json.loads((path / STATE_FILE).read_text())
    classifier = CLASSES[state["estimator"]](**state["params"])
    classifier.encoders_ = {task: TargetEncoder.from_dict(e) for task, e in state["encoders"].items()}
    classifier.features_ = tuple(state["features"])
    classifier.n_tracks_ = state["n_tracks"]
    classifier.history_ = pd.DataFrame(state["history"])
    classifier.network_ = keras.saving.load_model(path / NETWORK_FILE)
    return classifier
