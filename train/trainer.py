"""`musiczoo train`: a registry model, its objectives, and a resumable, distributable loop.

A run folder holds::

    config.yaml           the resolved config
    checkpoints/          the full training state (weights, optimizer, loop state), per epoch
    log.csv, curves.png   per-epoch losses, top-1 accuracies, learning rate; tensorboard/
    run.json + model.weights.h5   what `musiczoo export RUN_DIR` reads (see :mod:`musiczoo.zoo.run`)

Under a multi-worker strategy every worker runs the whole loop and only the chief writes these files;
the other workers resume from the chief's checkpoints (the run folder on storage they all reach).
"""

import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
import keras
import tensorflow as tf

from musiczoo.config import ConfigError, config_changes
from musiczoo.progress import progress_bar
from musiczoo.train.averaging import precise_batchnorm, running_average
from musiczoo.train.checkpoints import CHECKPOINTS, Checkpoints
from musiczoo.train.distribute import (
    check_jit_compile,
    check_same_position,
    distributed_batches,
    distributed_step,
    is_chief,
    make_strategy,
)
from musiczoo.train.history import LOG_COLUMNS, history_frame, log_scalars, write_log
from musiczoo.train.objectives import Objectives
from musiczoo.train.optimizer import make_optimizer, reduce_on_plateau, set_learning_rate
from musiczoo.train.pipeline import config_tasks
from musiczoo.train.store import check_bands
from musiczoo.zoo import registry
from musiczoo.zoo.run import load_encoder, write_run


class Trainer:
    """Train one registry model on a catalogue and feature store, as a config describes.

    Besides :meth:`fit` and :meth:`restore`, a step can be run alone (benchmarks)::

        trainer.build()
        step = trainer.step_function()
        loss, top1 = step(trainer.batches(epoch=0, step=0))
    """

    def __init__(self, config, run_dir):
        self.config, self.run_dir = config, Path(run_dir)
        keras.utils.set_random_seed(config["seed"])
        tf.config.experimental.enable_op_determinism()
        self.strategy = make_strategy(config["distribute"], config.get("cpu_devices"))
        check_jit_compile(self.strategy, config["jit_compile"])
        self.chief = is_chief(self.strategy)
        if self.chief:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.entry = registry.get(config["model"])
        self.head = dict(config["head"])
        classes = (self.entry["musiczoo"]["head"] | self.head).get("classes")
        backbone = self.entry["musiczoo"].get("backbone", {}) | config["backbone"]
        patch_size = backbone.get("frames", self.entry["inference"]["patch_size"])  # the patches the model takes
        self.train_data, self.validation_data, self.vocabulary = config_tasks(config, patch_size, classes)
        if self.vocabulary is not None:
            self.head["classes"] = len(self.vocabulary)
        keras.mixed_precision.set_global_policy("mixed_float16" if config["mixed_precision"] else "float32")
        with self.strategy.scope():
            self.model = registry.build(self.entry, head=self.head, **config["backbone"])
            if config["init"]:  # a checkpoint of this run, if any, replaces these weights in restore()
                load_encoder(self.model, config["init"])
            check_bands(self.train_data[0].store, self.model.inputs[0].shape[-1], config["model"])
            self.objectives = Objectives(config["objectives"], self.model, config)
            self.optimizer = make_optimizer(config, self._planned_steps)
        self.checkpoints = Checkpoints(
            self.run_dir, self.chief, model=self.model, optimizer=self.optimizer, **self.objectives.layers
        )
        self.state = {
            "epoch": 0,
            "step": 0,
            "history": [],
            "best": None,
            "wait": 0,
            "learning_rate": config["optimizer"]["learning_rate"],
            "swa_count": 0,
        }
        self.swa = None

    # -- steps -------------------------------------------------------------------------------
    def _planned_steps(self):
        """Optimizer steps of the whole run (the length of a warm-up cosine schedule): ``steps_per_epoch``
        caps an epoch's steps, it does not add any where the pairs run out first."""
        return self.config["epochs"] * self.steps(0)

    def steps(self, epoch):
        """Training steps in ``epoch``: the fewest full batches of all tasks, at most ``steps_per_epoch``."""
        steps = min(task.steps(epoch) for task in self.train_data)
        if steps == 0:
            short = [f"{t.objective['task']}: {t.counts()}" for t in self.train_data if t.steps(epoch) == 0]
            raise ValueError(
                f"fewer pairs than batch_size={self.config['batch_size']} ({'; '.join(short)}): "
                "lower batch_size or give a larger catalogue"
            )
        return min(steps, self.config["steps_per_epoch"] or steps)

    def batches(self, epoch, step):
        """The arrays of one training step, one dict per task."""
        return tuple(task.batch(epoch, step) for task in self.train_data)

    def build(self):
        """Create the optimizer's and bilinear layers' variables (before a step, or a checkpoint fills them)."""
        with self.strategy.scope():
            self.objectives(tuple({k: v[:2] for k, v in b.items()} for b in self.batches(0, 0)), training=False)
            self.optimizer.build(self.objectives.variables)

    def step_function(self, training=True):
        """``step(batches) -> (loss, top1)`` on every replica (averaged); a training step also updates the weights."""
        replica = self._train_replica if training else lambda batches: self.objectives(batches, training=False)
        return distributed_step(self.strategy, replica, self.config["jit_compile"])

    def _train_replica(self, batches):
        with tf.GradientTape() as tape:
            loss, top1 = self.objectives(batches, training=True)
            scaled = loss / self.strategy.num_replicas_in_sync
            if self.config["mixed_precision"]:
                scaled = self.optimizer.scale_loss(scaled)
        variables = self.objectives.variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return loss, top1

    # -- checkpoints -----------------------------------------------------------------------
    def restore(self):
        """Continue from the newest checkpoint, if any; returns whether one was found."""
        latest = self.checkpoints.latest()
        check_same_position(self.strategy, self.checkpoints.position(latest))
        if latest is None:
            return False
        self.build()
        self.state, self.swa = self.checkpoints.restore(latest)
        set_learning_rate(self.optimizer, self.config["schedule"], self.state["learning_rate"])
        return True

    # -- the loop ----------------------------------------------------------------------------
    def fit(self, progress=True):
        """Train to ``config.epochs``, from the state restored or from scratch; returns the log."""
        if self.chief:
            (self.run_dir / "config.yaml").write_text(yaml.safe_dump(self.config, sort_keys=False))
            tensorboard = tf.summary.create_file_writer(str(self.run_dir / "tensorboard"))
        else:
            tensorboard = tf.summary.create_noop_writer()
        if not self.optimizer.built:
            self.build()
        train_step, validate_step = self.step_function(), self.step_function(training=False)
        while self.state["epoch"] < self.config["epochs"]:
            epoch, started = self.state["epoch"], time.time()
            train = self._train_epoch(epoch, train_step, progress)
            log_scalars(tensorboard, self._end_epoch(epoch, train, validate_step, time.time() - started))
            self.checkpoints.save(self.state, self.swa)
            self._write_run(final=self.state["epoch"] == self.config["epochs"])
        return history_frame(self.state["history"])

    def _train_epoch(self, epoch, train_step, progress):
        """Run ``epoch`` on from ``state.step``, checkpointed every ``checkpoint_steps``; its mean loss and top-1."""
        steps, every = self.steps(epoch), self.config["checkpoint_steps"]
        bar = progress_bar(
            total=steps,
            initial=self.state["step"],
            desc=f"epoch {epoch + 1}/{self.config['epochs']}",
            unit="step",
            disable=not progress,
        )
        totals = np.array(self.state.pop("partial", [0.0, 0.0]))
        for batches in distributed_batches(self.strategy, self.train_data, epoch, self.state["step"], steps):
            loss, top1 = train_step(batches)
            totals += (float(loss), float(top1))
            self.state["step"] += 1
            bar.update()
            bar.set_postfix(loss=f"{totals[0] / self.state['step']:.3f}", top1=f"{totals[1] / self.state['step']:.3f}")
            if every and self.state["step"] % every == 0 and self.state["step"] < steps:
                self.checkpoints.save(self.state | {"partial": totals.tolist()}, self.swa)
        bar.close()
        return totals / steps

    def _validate(self, validate_step):
        if not self.validation_data:
            return None, None
        steps = min(task.steps(0, partial=True) for task in self.validation_data)
        steps = min(steps, self.config["validation_steps"] or steps)
        if steps == 0:
            return None, None
        batches = distributed_batches(self.strategy, self.validation_data, 0, 0, steps, validation=True)
        return tuple(np.mean([tuple(map(float, validate_step(b))) for b in batches], axis=0))

    def _precise_batchnorm(self, epoch):
        if self.config["precise_bn"]:
            precise_batchnorm(
                self.objectives.audio_model, self.train_data[0], epoch, self.steps(epoch), self.config["precise_bn"]
            )

    def _end_epoch(self, epoch, train, validate_step, seconds):
        """Batch-norm statistics, validation, the log row, the learning rate and the weight average."""
        self._precise_batchnorm(epoch)
        val_loss, val_top1 = self._validate(validate_step)
        rate = float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))
        row = dict(zip(LOG_COLUMNS, (epoch + 1, float(train[0]), float(train[1]), val_loss, val_top1, rate, seconds)))
        self.state["history"].append(row)
        schedule = self.config["schedule"]
        if reduce_on_plateau(self.state, val_loss if val_loss is not None else float(train[0]), schedule):
            set_learning_rate(self.optimizer, schedule, self.state["learning_rate"])
        swa = self.config["swa"]
        if swa and epoch + 1 >= swa.get("start_epoch", 1):
            self.swa = running_average(self.swa, self.model.get_weights(), self.state["swa_count"])
            self.state["swa_count"] += 1
        self.state.update(epoch=epoch + 1, step=0)
        return row

    # -- outputs -----------------------------------------------------------------------------
    def _write_run(self, final):
        """The log and curves, and the run folder's model: the weight average (with its statistics) once final.

        Every worker swaps the average in and out (the same computation everywhere); the chief alone writes.
        """
        averaged = final and self.swa is not None
        if averaged:
            weights = self.model.get_weights()
            self.model.set_weights(self.swa)
            self._precise_batchnorm(self.state["epoch"] - 1)
        if self.chief:
            write_log(self.run_dir, self.state["history"])
            write_run(
                self.run_dir,
                self.model,
                self.config["model"],
                backbone=self.config["backbone"],
                head=self.head,
                metadata=self._metadata(),
                epochs=self.state["epoch"],
                replicas=self.strategy.num_replicas_in_sync,
            )
        if averaged:
            self.model.set_weights(weights)

    def _metadata(self):
        """Essentia metadata of the run: what it trained on (catalogue, tracks, hours, objectives, steps, seed, warm
        start), its last training metrics, and the tag classes."""
        last = self.state["history"][-1]
        metrics = {k: round(last[k], 4) for k in ("val_loss", "val_top1", "loss", "top1") if last[k] is not None}
        catalogue = Path(self.config["catalogue"])
        tracks = pd.concat([task.catalogue for task in self.train_data]).drop_duplicates("track_id")
        objectives = [{k: o[k] for k in ("loss", "pairs", "weight") if o.get(k)} for o in self.config["objectives"]]
        training = {
            "catalogue": str(catalogue),
            "tracks": len(tracks),
            "hours": round(float(tracks.duration.sum()) / 3600, 2),
            "objectives": objectives,
            "steps": int(self.optimizer.iterations.numpy()),
            "batch_size": self.config["batch_size"],
            "seed": self.config["seed"],
            "init": self.config["init"],
        }
        dataset = {
            "name": f"{catalogue.parent.name}/{catalogue.name} (musiczoo catalogue)",
            "size": f"{len(tracks)} training tracks",
            "metrics": metrics,
            "training": training,
        }
        return {"dataset": dataset, **({"classes": self.vocabulary} if self.vocabulary else {})}


def check_resumable(config, run_dir):
    """Refuse to resume ``run_dir`` with a config that would train otherwise than its ``config.yaml``.

    Free to change: ``checkpoint_steps``, and ``epochs`` unless a warm-up cosine schedule spans them.
    """
    saved = Path(run_dir) / "config.yaml"
    if not saved.is_file():
        return
    free = {"checkpoint_steps"} | ({"epochs"} if config["schedule"]["name"] != "warmup_cosine" else set())
    changes = config_changes(yaml.safe_load(saved.read_text()), config)
    listed = "; ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in changes.items() if key not in free)
    if listed:
        raise ConfigError(
            f"cannot resume {run_dir} with another config ({listed}): resume with the config in {saved}, "
            "or train into a new folder"
        )


def train(config, run_dir, resume=False, overrides=None, progress=True):
    """Train as ``config`` (a YAML path or a mapping) says into ``run_dir``; returns the log.

    The process's Keras precision policy is as it was afterwards, so that a model built later (an export)
    is not built in ``mixed_float16``."""
    from musiczoo.train.config import load_config, resolve

    config = resolve(config | (overrides or {})) if isinstance(config, dict) else load_config(config, overrides)
    if resume:
        check_resumable(config, run_dir)
    policy = keras.mixed_precision.global_policy()
    try:
        trainer = Trainer(config, run_dir)
        if resume and not trainer.restore():
            print(f"no checkpoint in {run_dir}: starting from scratch")
        elif not resume and (Path(run_dir) / CHECKPOINTS).exists():
            raise FileExistsError(f"{run_dir} already holds a run: pass --resume to continue it, or pick a new folder")
        return trainer.fit(progress=progress)
    finally:
        keras.mixed_precision.set_global_policy(policy)
