"""A scikit-learn classifier on frozen embeddings: the Discogs paper's downstream protocol.

Training is patch-level (every patch carries its track's labels); predictions and scores are
track-level (patch activations averaged per track). ``X`` is a list of per-track arrays
``(patches, dim)`` as ``musiczoo extract`` writes them, or a 2-D array with ``groups``.
"""

import math

import keras
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from musiczoo.downstream import metrics, network
from musiczoo.downstream.labels import LABELS  # the task name of a single-task classifier
from musiczoo.downstream.patches import Patches
from musiczoo.downstream.targets import TargetEncoder
from musiczoo.downstream.training import TrackValidation, fit_network


class TrackPredictor:
    """Track-level predict_proba / predict / evaluate / score from per-patch activations.

    A subclass gives ``encoders_`` ({task: TargetEncoder}), ``_feature_rank`` and
    ``_patch_activations(rows) -> {task: activations}``. One task: results are returned as
    they are; several: as ``{task: result}``.
    """

    _feature_rank = 1
    _predict_batch = 4096

    def _check_fitted(self, attribute):
        if not hasattr(self, attribute):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit first")

    def _wrap(self, y):
        return {LABELS: y}

    def _unwrap(self, results):
        return results[LABELS]

    @property
    def classes_(self):
        return self._unwrap({task: encoder.classes_ for task, encoder in self.encoders_.items()})

    @property
    def task_(self):
        return self._unwrap({task: encoder.task_ for task, encoder in self.encoders_.items()})

    def _track_activations(self, X, groups):
        self._check_fitted("encoders_")
        patches = Patches.of(X, groups, self._feature_rank)
        if patches.features != tuple(self.features_):
            raise ValueError(
                f"X has patches of shape {patches.features}; the classifier takes {tuple(self.features_)} "
                "(embeddings of another model or node?)"
            )
        return patches, {task: patches.mean(a) for task, a in self._patch_activations(patches.rows).items()}

    def predict_proba(self, X, groups=None):
        """Track-level activations ``(tracks, classes)``: one row per track, or per row for a 2-D X."""
        patches, activations = self._track_activations(X, groups)
        return self._unwrap({task: patches.output(a) for task, a in activations.items()})

    def predict(self, X, groups=None, threshold=0.5):
        """Labels: indicator rows at ``threshold`` (multi-label) or the top class (multi-class)."""
        patches, activations = self._track_activations(X, groups)
        return self._unwrap(
            {task: patches.output(self.encoders_[task].decode(a, threshold)) for task, a in activations.items()}
        )

    def evaluate(self, X, y, groups=None):
        """Track-level :class:`~musiczoo.downstream.metrics.Evaluation` (per task if several)."""
        patches, activations = self._track_activations(X, groups)
        results = {}
        for task, labels in self._wrap(y).items():
            encoder = self.encoders_[task]
            truth = encoder.indicator(encoder.transform(patches.per_track(labels)))
            results[task] = metrics.evaluate(truth, activations[task], encoder.classes_, encoder.task_)
        return self._unwrap(results)

    def score(self, X, y, groups=None):
        """Track-level macro ROC-AUC (multi-label) or accuracy (multi-class); the mean over tasks."""
        evaluations = self._wrap(self.evaluate(X, y, groups))
        return float(
            np.mean([e.summary["roc_auc" if e.task == "multilabel" else "accuracy"] for e in evaluations.values()])
        )


class PatchClassifier(TrackPredictor, ClassifierMixin, BaseEstimator):
    """Fit a Keras network on patches with track-level validation.

    Subclasses define the parameters and three hooks: ``_network(features, outputs)``,
    ``_optimizer(steps_per_epoch)`` and ``_callbacks(monitor)``. Shared parameters:
    ``task``, ``epochs``, ``batch_size``, ``validation_size``, ``seed``, ``progress``.
    """

    def fit(self, X, y, groups=None, validation=None):
        """Fit on ``X`` and track labels ``y`` (label sets, an indicator matrix, or one label each).

        ``validation``: ``(X_val, y_val)`` or ``(X_val, y_val, groups_val)``; otherwise
        ``validation_size`` of the tracks is held out (0: none, the training loss is monitored).
        """
        keras.utils.set_random_seed(self.seed)
        patches = Patches.of(X, groups, self._feature_rank)
        labels = {task: patches.per_track(values) for task, values in self._wrap(y).items()}
        kinds = self.task if isinstance(self.task, dict) else dict.fromkeys(labels, self.task)
        self.encoders_ = {task: TargetEncoder(kinds.get(task, "auto")).fit(values) for task, values in labels.items()}
        targets = {task: self.encoders_[task].transform(values) for task, values in labels.items()}
        self.features_, self.n_tracks_ = patches.features, patches.n_tracks  # all tracks of X
        patches, targets, held_out = self._hold_out(patches, targets, validation)
        self.network_ = self._network(patches.features, {task: len(e.classes_) for task, e in self.encoders_.items()})
        steps = math.ceil(len(patches.rows) / self.batch_size)
        self.network_.compile(
            optimizer=self._optimizer(steps), loss={task: network.loss(e.task_) for task, e in self.encoders_.items()}
        )
        callbacks = [TrackValidation(*held_out, self.encoders_, self._predict_batch)] if held_out else []
        callbacks += self._callbacks("val_loss" if held_out else "loss")
        patch_targets = {task: t[patches.track] for task, t in targets.items()}
        self.history_ = fit_network(
            self.network_,
            patches.rows,
            patch_targets,
            self.epochs,
            self.batch_size,
            callbacks,
            self.progress,
            type(self).__name__,
        )
        return self

    def _hold_out(self, patches, targets, validation):
        """``(train patches, train targets, (validation patches, targets) or None)``."""
        if validation is not None:
            X_val, y_val, *groups = validation
            held = Patches.of(X_val, groups[0] if groups else None, self._feature_rank)
            if held.features != patches.features:
                raise ValueError(f"validation patches have shape {held.features}, training ones {patches.features}")
            return (
                patches,
                targets,
                (
                    held,
                    {
                        task: self.encoders_[task].transform(held.per_track(values))
                        for task, values in self._wrap(y_val).items()
                    },
                ),
            )
        if not self.validation_size:
            return patches, targets, None
        if patches.n_tracks < 2:
            raise ValueError("holding out validation tracks needs two tracks or more (or validation_size=0)")
        order = np.random.default_rng(self.seed).permutation(patches.n_tracks)
        count = min(max(1, round(self.validation_size * patches.n_tracks)), patches.n_tracks - 1)
        held, kept = order[:count], np.sort(order[count:])
        return (
            patches.subset(kept),
            {task: t[kept] for task, t in targets.items()},
            (patches.subset(held), {task: t[held] for task, t in targets.items()}),
        )

    def _patch_activations(self, rows):
        logits = network.predict_logits(self.network_, rows, self._predict_batch)
        return {task: network.activate(logits[task], e.task_) for task, e in self.encoders_.items()}

    def resolve_task(self, task=None):
        """The name of ``task``: any fitted one, or none for the only one."""
        self._check_fitted("network_")
        tasks = list(self.encoders_)
        task = tasks[0] if task is None and len(tasks) == 1 else task
        if task not in self.encoders_:
            raise KeyError(f"no task {task!r}; this classifier has {', '.join(map(str, tasks))}")
        return task

    def head_model(self, task=None):
        """Keras ``[activations, penultimate]`` of one task (the only one by default), for export."""
        task = self.resolve_task(task)
        return network.head_model(self.network_, list(self.encoders_).index(task), self.encoders_[task].activation)


class EmbeddingClassifier(PatchClassifier):
    """MLP on frozen embeddings, multi-label (sigmoid) or multi-class (softmax).

    Defaults are the Discogs paper's protocol: one hidden layer of 512, Adam 1e-3 with weight
    decay 1e-5, learning rate halved after 5 epochs without validation improvement, 30 epochs,
    the weights of the best validation loss. ``task``: ``auto`` (from the form of ``y``),
    ``multilabel`` or ``multiclass``. Seeded: the same seed gives the same model.
    """

    def __init__(
        self,
        task="auto",
        hidden=512,
        learning_rate=1e-3,
        weight_decay=1e-5,
        epochs=30,
        batch_size=128,
        lr_patience=5,
        lr_factor=0.5,
        validation_size=0.1,
        seed=0,
        progress=True,
    ):
        self.task = task
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_patience = lr_patience
        self.lr_factor = lr_factor
        self.validation_size = validation_size
        self.seed = seed
        self.progress = progress

    def _network(self, features, outputs):
        if len(features) != 1:
            raise ValueError(f"embeddings must be vectors; patches have shape {features}")
        return network.mlp(features[0], self.hidden, outputs)

    def _optimizer(self, steps_per_epoch):
        return keras.optimizers.Adam(self.learning_rate, weight_decay=self.weight_decay or None)

    def _callbacks(self, monitor):
        return [
            keras.callbacks.ReduceLROnPlateau(monitor, factor=self.lr_factor, patience=self.lr_patience, mode="min"),
            keras.callbacks.EarlyStopping(monitor, patience=self.epochs, mode="min", restore_best_weights=True),
        ]
