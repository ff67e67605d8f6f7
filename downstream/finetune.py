"""Fine-tuning a zoo backbone end to end with a new classifier head (the playlist paper).

Cyclical triangular learning rate between 1e-5 and 1e-4, early stopping after 10 epochs
without improvement of the validation PR-AUC (average precision, track level), best weights.
"""

from pathlib import Path

import keras

from musiczoo.downstream import network
from musiczoo.downstream.estimator import PatchClassifier
from musiczoo.zoo import registry
from musiczoo.zoo.run import load_run


@keras.saving.register_keras_serializable(package="musiczoo")
class TriangularSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Cyclical triangular learning rate (Smith, 2017): ``low`` -> ``high`` -> ``low`` in ``2 * half_cycle`` steps."""

    def __init__(self, low, high, half_cycle):
        self.low, self.high, self.half_cycle = low, high, half_cycle

    def __call__(self, step):
        position = keras.ops.cast(step, "float32") / self.half_cycle
        distance = keras.ops.abs(keras.ops.mod(position, 2.0) - 1.0)  # 1 at cycle ends, 0 mid-cycle
        return self.low + (self.high - self.low) * (1.0 - distance)

    def get_config(self):
        return {"low": self.low, "high": self.high, "half_cycle": self.half_cycle}


class FineTuneClassifier(PatchClassifier):
    """A registry model's backbone plus a new head, trained end to end on mel patches.

    ``X``: a list of per-track mel patch arrays ``(patches, frames, bands)``, or an array
    ``(N, frames, bands)`` (with ``groups`` for several patches per track). ``backbone``:
    overrides of the registry's backbone (e.g. ``{"width": 0.125}``). ``weights``: a trained
    ``.weights.h5`` of the zoo model, or a training run folder (``run.json`` + weights); none:
    random initialisation. ``hidden``: units of a hidden layer in the new head (none: linear).
    """

    _feature_rank = 2

    def __init__(
        self,
        model="playlist_co_embeddings-vggish",
        backbone=None,
        weights=None,
        task="auto",
        hidden=None,
        lr_min=1e-5,
        lr_max=1e-4,
        half_cycle_epochs=2,
        epochs=100,
        patience=10,
        batch_size=32,
        validation_size=0.1,
        seed=0,
        progress=True,
    ):
        self.model = model
        self.backbone = backbone
        self.weights = weights
        self.task = task
        self.hidden = hidden
        self.lr_min = lr_min
        self.lr_max = lr_max
        self.half_cycle_epochs = half_cycle_epochs
        self.epochs = epochs
        self.patience = patience
        self.batch_size = batch_size
        self.validation_size = validation_size
        self.seed = seed
        self.progress = progress

    @property
    def _predict_batch(self):
        return self.batch_size

    def _zoo_model(self):
        overrides, weights = dict(self.backbone or {}), self.weights and Path(self.weights)
        if weights and weights.is_dir():
            return load_run(weights, **overrides).model
        zoo_model = registry.build(self.model, **overrides)
        if weights:
            zoo_model.load_weights(weights)
        return zoo_model

    def _network(self, features, outputs):
        zoo_model = self._zoo_model()
        expected = tuple(zoo_model.input.shape[1:])
        if features != expected:
            raise ValueError(f"{self.model} takes mel patches of shape {expected}; X has {features}")
        heads = network.attach_heads(zoo_model.outputs[1], self.hidden, outputs)
        return keras.Model(zoo_model.input, heads, name="finetuned")

    def _optimizer(self, steps_per_epoch):
        schedule = TriangularSchedule(self.lr_min, self.lr_max, self.half_cycle_epochs * steps_per_epoch)
        return keras.optimizers.Adam(schedule)

    def _callbacks(self, monitor):
        if monitor != "val_loss":  # no validation tracks: train every epoch
            return []
        return [
            keras.callbacks.EarlyStopping("val_pr_auc", patience=self.patience, mode="max", restore_best_weights=True)
        ]
