"""Training configs: YAML files, with defaults and clear errors.

A config names a registry model and what to train it on::

    model: discogs_artist_embeddings-effnet     # a models.json entry
    backbone: {width: 0.25}                     # optional backbone overrides
    catalogue: data/catalogue.parquet           # relative paths: to the config file
    store: data/features
    init: runs/artist                           # optional: start the encoder from another run's weights
    objectives:                                 # one per task; several = multi-task
      - {pairs: artist, loss: cola, weight: 1.0}
    batch_size: 64
    epochs: 100
    optimizer: {learning_rate: 1.0e-3}
    schedule: {name: plateau, factor: 0.1, patience: 10}   # or {name: warmup_cosine, warmup_steps: 5000}

Every key and its default is in :data:`DEFAULTS`.
"""

import copy
import inspect
from pathlib import Path

from musiczoo.config import ConfigError, check_keys, check_types, parse_overrides, read_config

__all__ = ["ConfigError", "DEFAULTS", "load_config", "parse_overrides", "resolve"]
SCHEDULES = ("constant", "plateau", "warmup_cosine")
PATHS = ("catalogue", "store", "init", "text.table", "text.composers")  # relative to the config file
DEFAULTS = {
    "backbone": {},
    "head": {},
    "init": None,  # a run folder: start the encoder (every layer but the heads) from its trained weights
    "objectives": None,
    "batch_size": 64,
    "epochs": 100,
    "steps_per_epoch": None,  # None: one pass over the pairs (the fewest of all tasks)
    "validation_steps": None,  # None: every validation batch
    "validation_fraction": 0.1,
    "optimizer": {"learning_rate": 1e-3, "weight_decay": None},
    "schedule": {"name": "plateau", "factor": 0.1, "patience": 10},
    "swa": None,  # {start_epoch: N}: average the weights of every epoch from N on
    "precise_bn": 256,  # training patches that set the batch-norm statistics after each epoch (0: off)
    "temperature": 0.1,
    "negatives": "global",  # in-batch negatives of the contrastive losses: global (all replicas) | local (own)
    "mixing": False,  # SimCLR baseline: mix each view with another patch at a Beta(5,2) gain
    "distribute": "auto",  # auto | none | mirrored | multiworker
    "checkpoint_steps": None,  # also checkpoint every N steps inside an epoch
    "cpu_devices": None,  # split the CPU into N logical devices (to exercise tf.distribute)
    "mixed_precision": False,  # float16 compute with loss scaling (GPUs)
    "jit_compile": False,  # XLA-compile the training step (GPUs; ~9x slower for EfficientNet-B0 on this CPU)
    "seed": 0,
    "text": None,  # artist text of AudioArt-MMC: {table, encoder, strip_years, composers} (train/era_text.py)
}


def load_config(path, overrides=None):
    """Read a YAML config; ``overrides`` (e.g. from ``--set``) replace its keys.

    Paths in the file are relative to the file's folder, paths in overrides to the current one.
    """
    return resolve(read_config(path, paths=PATHS) | (overrides or {}))


def resolve(raw, base=Path(".")):
    """Validate a config mapping and fill in the defaults."""
    from musiczoo.train.objectives import OBJECTIVES
    from musiczoo.zoo import registry
    from musiczoo.zoo.backbones import BACKBONES
    from musiczoo.zoo.replicas import NEGATIVES

    check_keys(raw, [*DEFAULTS, "model", "catalogue", "store"])
    config = copy.deepcopy(DEFAULTS) | copy.deepcopy(raw)
    check_types(config, DEFAULTS)
    for key in ("model", "catalogue", "store"):
        if not config.get(key):
            raise ConfigError(f"config needs `{key}`")
    entry = registry.get(config["model"])
    if "backbone" in entry["musiczoo"]:  # the overrides are arguments of the backbone's builder
        builder = BACKBONES[entry["musiczoo"]["backbone"]["name"]]
        check_keys(config["backbone"], inspect.signature(builder).parameters, prefix="backbone.")
    for key in ("catalogue", "store", "init"):
        if config[key]:
            config[key] = str((Path(base) / config[key]).resolve())
    tasks = registry.tasks(entry)
    if config["objectives"] is None:
        spec = entry["musiczoo"]
        config["objectives"] = [{"pairs": pairs, "loss": spec["objective"]} for pairs in spec.get("pairs", [None])]
    if len(config["objectives"]) != len(tasks):
        raise ConfigError(
            f"{config['model']} has {len(tasks)} head(s) {list(tasks)}; "
            f"the config gives {len(config['objectives'])} objectives"
        )
    for task, objective in zip(tasks, config["objectives"]):
        kind = OBJECTIVES.get(objective.get("loss"))
        if kind is None:
            raise ConfigError(f"unknown loss {objective.get('loss')!r}; expected one of {tuple(OBJECTIVES)}")
        unknown = set(objective) - {"loss", "pairs", "weight", "task"} - set(kind.options)
        if unknown:
            raise ConfigError(f"objective {task}: unknown keys {sorted(unknown)} for loss {objective['loss']}")
        objective.update(kind.options | objective, weight=objective.get("weight", 1.0), task=task)
        if kind.pairs and not objective.get("pairs"):
            raise ConfigError(f"objective {task}: loss {objective['loss']} needs `pairs`")
    if config["schedule"].get("name") not in SCHEDULES:
        raise ConfigError(f"unknown schedule {config['schedule'].get('name')!r}; expected one of {SCHEDULES}")
    if config["negatives"] not in NEGATIVES:
        raise ConfigError(f"unknown negatives {config['negatives']!r}; expected one of {NEGATIVES}")
    if config["batch_size"] < 2:
        raise ConfigError("batch_size must be at least 2 (in-batch negatives)")
    return config
