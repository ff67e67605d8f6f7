"""The training-run folder: what `musiczoo train` leaves for export and fine-tuning.

A run folder holds ``model.weights.h5`` (the trained weights) and ``run.json``, the record that
rebuilds the model around them::

    {"model": registry name, "backbone": overrides, "head": overrides,
     "epochs": N, "replicas": N, "metadata": Essentia metadata updates (dataset, classes)}

Both files are written atomically, the weights first: a folder with ``run.json`` is a whole run.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import keras

from musiczoo.fileio import atomic_write
from musiczoo.zoo import registry
from musiczoo.zoo.heads import is_head

RUN_FILE = "run.json"
WEIGHTS_FILE = "model.weights.h5"


@dataclass(frozen=True)
class TrainedRun:
    """A loaded run: its registry ``entry``, the ``model`` with the trained weights, and ``record`` (run.json)."""

    entry: dict
    model: keras.Model
    record: dict

    @property
    def metadata(self):
        """The run's updates of the entry's Essentia metadata."""
        return self.record.get("metadata")


def write_run(run_dir, model, name, backbone=None, head=None, metadata=None, epochs=None, replicas=None):
    """Write ``model``'s weights and the record that rebuilds it (registry ``name`` plus overrides) into ``run_dir``."""
    run_dir = Path(run_dir)
    temporary = run_dir / f".{WEIGHTS_FILE}"
    model.save_weights(temporary)
    os.replace(temporary, run_dir / WEIGHTS_FILE)
    record = {
        "model": name,
        "backbone": backbone or {},
        "head": head or {},
        "epochs": epochs,
        "replicas": replicas,
        "metadata": metadata or {},
    }
    atomic_write(run_dir / RUN_FILE, json.dumps(record, indent=2).encode())


def is_run(path):
    """Whether ``path`` is a training-run folder (its record and weights are there)."""
    return all((Path(path) / name).is_file() for name in (RUN_FILE, WEIGHTS_FILE))


def read_record(run_dir):
    """The ``run.json`` of a run folder: registry model name, backbone and head overrides, metadata."""
    run_dir = Path(run_dir)
    missing = [name for name in (RUN_FILE, WEIGHTS_FILE) if not (run_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{run_dir} is not a training run: no {' or '.join(missing)}")
    return json.loads((run_dir / RUN_FILE).read_text())


def load_encoder(model, run_dir):
    """Set the encoder of ``model`` (every layer but its heads) to the trained weights of run ``run_dir``: a warm start.

    Both must share the backbone and its overrides: a layer of ``model`` the run lacks, or has in other shapes,
    is a ValueError naming it.
    """
    trained = {layer.name: layer for layer in load_run(run_dir).model.layers if not is_head(layer)}
    for layer in model.layers:
        if is_head(layer) or not layer.weights:
            continue
        shapes = [tuple(weight.shape) for weight in layer.weights]
        source = trained.get(layer.name)
        if source is None or [tuple(weight.shape) for weight in source.weights] != shapes:
            raise ValueError(
                f"init {run_dir}: its encoder has no layer {layer.name} of shapes {shapes}; "
                "a warm start takes a run of the same backbone and backbone overrides"
            )
        layer.set_weights(source.get_weights())


def load_run(run_dir, **backbone_overrides):
    """The model of a run folder with its trained weights; ``backbone_overrides`` update the run's (e.g. dropout)."""
    run_dir = Path(run_dir)
    record = read_record(run_dir)
    entry = registry.get(record["model"])
    model = registry.build(entry, head=record.get("head"), **record.get("backbone", {}) | backbone_overrides)
    model.load_weights(run_dir / WEIGHTS_FILE)
    return TrainedRun(entry, model, record)
