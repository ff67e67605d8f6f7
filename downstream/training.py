"""The training loop shared by every classifier: track-level validation, epoch progress bar.

Validation follows the Discogs paper: patch activations averaged per track, then the loss and
macro ROC-AUC / PR-AUC per track (``val_loss``, ``val_roc_auc``, ``val_pr_auc`` in the logs,
which the learning-rate and early-stopping callbacks monitor).
"""

import warnings

import keras
import numpy as np
import pandas as pd

from musiczoo.downstream.metrics import macro_scores
from musiczoo.downstream.network import activate, predict_logits
from musiczoo.progress import progress_bar

EPSILON = 1e-7


def track_loss(truth, probabilities, task):
    """Cross-entropy of track-level activations: binary per class (multi-label) or categorical."""
    p = np.clip(probabilities.astype(np.float64), EPSILON, 1 - EPSILON)
    if task == "multilabel":
        return float(-(truth * np.log(p) + (1 - truth) * np.log(1 - p)).mean())
    return float(-(truth * np.log(p)).sum(axis=1).mean())


class TrackValidation(keras.callbacks.Callback):
    """Each epoch, score the validation tracks: ``val_loss`` (summed over tasks), mean macro AUCs."""

    def __init__(self, patches, targets, encoders, batch_size):
        super().__init__()
        self.patches, self.encoders, self.batch_size = patches, encoders, batch_size
        self.truth = {task: encoders[task].indicator(target) for task, target in targets.items()}

    def on_epoch_end(self, epoch, logs=None):
        logits = predict_logits(self.model, self.patches.rows, self.batch_size)
        losses, roc, ap = [], [], []
        for task, encoder in self.encoders.items():
            probabilities = self.patches.mean(activate(logits[task], encoder.task_))
            losses.append(track_loss(self.truth[task], probabilities, encoder.task_))
            task_roc, task_ap = macro_scores(self.truth[task], probabilities)
            roc.append(task_roc)
            ap.append(task_ap)
        with warnings.catch_warnings():  # tasks without a defined AUC (one class in validation)
            warnings.simplefilter("ignore", RuntimeWarning)
            logs.update(
                val_loss=float(np.sum(losses)), val_roc_auc=float(np.nanmean(roc)), val_pr_auc=float(np.nanmean(ap))
            )


class EpochLog(keras.callbacks.Callback):
    """Records each epoch's logs (and learning rate) and shows a tqdm bar over epochs."""

    SHOWN = ("loss", "val_loss", "val_pr_auc", "learning_rate")

    def __init__(self, epochs, progress=True, desc="fit"):
        super().__init__()
        self.records = []
        self.bar = progress_bar(total=epochs, desc=desc, unit="epoch", disable=not progress, leave=False)

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1, **(logs or {})}
        record.setdefault("learning_rate", float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
        self.records.append(record)
        self.bar.set_postfix({key: f"{record[key]:.3g}" for key in self.SHOWN if key in record}, refresh=False)
        self.bar.update(1)


def fit_network(network, rows, targets, epochs, batch_size, callbacks=(), progress=True, desc="fit"):
    """``network.fit`` on patch rows; returns the per-epoch history as a DataFrame.

    Ctrl-C stops training and keeps the best weights seen so far (those of an
    ``EarlyStopping(restore_best_weights=True)`` among ``callbacks``), so no finished epoch is lost.
    """
    log = EpochLog(epochs, progress, desc)
    try:
        network.fit(
            rows, targets, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, callbacks=[*callbacks, log]
        )
    except KeyboardInterrupt:
        best = next((c for c in callbacks if isinstance(c, keras.callbacks.EarlyStopping)), None)
        if best is not None and best.best_weights is not None:
            network.set_weights(best.best_weights)
        warnings.warn(
            f"training interrupted after {len(log.records)} of {epochs} epochs; keeping the best weights so far",
            stacklevel=2,
        )
    finally:
        log.bar.close()
    return pd.DataFrame(log.records)
