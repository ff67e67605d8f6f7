"""A run's checkpoints: the whole training state, so a killed run resumes exactly.

``checkpoints/ckpt-EPOCH-STEP/`` holds the TensorFlow checkpoint ``ckpt`` (weights, optimizer,
COLA matrices), the loop state ``state.json`` and, once weight averaging has started, the
average ``swa.npz``. Each is written to a fresh folder renamed into place; the newest two stay.

Under a multi-worker strategy every worker saves (saving may take part in collective ops), but only
the chief keeps its checkpoint: the others write theirs into a temporary folder and delete it.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
import tensorflow as tf

CHECKPOINTS = "checkpoints"
STATE_FILE = "state.json"
AVERAGE_FILE = "swa.npz"
KEEP = 2


class Checkpoints:
    """The ``checkpoints/`` folder of ``run_dir``, saving and restoring ``trackables`` (model, optimizer...);
    ``chief`` False: a multi-worker peer of the chief, whose saves are thrown away."""

    def __init__(self, run_dir, chief=True, **trackables):
        self.folder, self.chief = Path(run_dir) / CHECKPOINTS, chief
        self.checkpoint = tf.train.Checkpoint(**trackables)

    def save(self, state, average=None):
        """Save the trackables, the loop ``state`` (its ``epoch`` and ``step`` name the folder), the weight average."""
        if not self.chief:
            with tempfile.TemporaryDirectory(prefix="musiczoo-worker-ckpt-") as scratch:
                self.checkpoint.write(os.path.join(scratch, "ckpt"))
            return
        final = self.folder / f"ckpt-{state['epoch']:04d}-{state['step']:06d}"
        temporary = self.folder / f".{final.name}.part"
        shutil.rmtree(temporary, ignore_errors=True)
        self.checkpoint.write(str(temporary / "ckpt"))
        if average is not None:
            np.savez(temporary / AVERAGE_FILE, *average)
        (temporary / STATE_FILE).write_text(json.dumps(state))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(temporary, final)
        for old in sorted(self.folder.glob("ckpt-*"))[:-KEEP]:
            shutil.rmtree(old)

    def latest(self):
        """The newest checkpoint folder, or None."""
        found = sorted(self.folder.glob("ckpt-*"))
        return found[-1] if found else None

    @staticmethod
    def position(folder):
        """``(epoch, step)`` of a checkpoint folder; ``(-1, -1)`` for None (no checkpoint)."""
        if folder is None:
            return -1, -1
        _, epoch, step = folder.name.split("-")
        return int(epoch), int(step)

    def restore(self, folder):
        """Fill the trackables (their variables must exist) from ``folder``; returns its state and weight average."""
        self.checkpoint.read(str(folder / "ckpt")).assert_existing_objects_matched()
        state = json.loads((folder / STATE_FILE).read_text())
        average = None
        if (folder / AVERAGE_FILE).exists():
            with np.load(folder / AVERAGE_FILE) as saved:
                average = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        return state, average
