"""`musiczoo train`: a registry model, its objectives, and a resumable, distributable loop.

A run folder holds::

    config.yaml           the resolved config
    checkpoints/          the full training state (weights, optimizer, loop state), per epoch
    log.csv, curves.png   per-epoch losses, top-1 accuracies, learning rate; tensorboard/
    run.json + model.weights.h5   what `musiczoo export RUN_DIR` reads
"""
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
import keras
import tensorflow as tf

from musiczoo.fileio import atomic_save_png, atomic_write
from musiczoo.progress import progress_bar
from musiczoo.train.catalogue import read_catalogue
from musiczoo.train.pipeline import TaskData, split_tracks, tag_vocabulary
from musiczoo.train.store import FeatureStore
from musiczoo.zoo import export, losses, registry
from musiczoo.zoo.heads import head_name

CHECKPOINTS = "checkpoints"
STATE_FILE = "state.json"
LOG_COLUMNS = ["epoch", "loss", "top1", "val_loss", "val_top1", "learning_rate", "seconds"]


def make_strategy(kind, cpu_devices=None):
    """The tf.distribute strategy: TF_CONFIG -> multi-worker; several devices -> mirrored."""
    if cpu_devices:
        physical = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(physical, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    if kind == "multiworker" or (kind == "auto" and "TF_CONFIG" in os.environ):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "mirrored" or (kind == "auto" and len(devices) > 1):
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


def _cosine_top1(a, b):
    """Top-1 accuracy of the cosine-similarity matrix (rows: a, targets on the diagonal)."""
    a, b = keras.ops.normalize(a, axis=-1), keras.ops.normalize(b, axis=-1)
    return losses.top1_accuracy(keras.ops.matmul(a, keras.ops.transpose(b)))


class Trainer:
    """Train one registry model on a catalogue and feature store, as a config describes."""

    def __init__(self, config, run_dir):
        self.config, self.run_dir = config, Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        keras.utils.set_random_seed(config["seed"])
        tf.config.experimental.enable_op_determinism()
        self.strategy = make_strategy(config["distribute"], config.get("cpu_devices"))
        self.entry = registry.get(config["model"])
        store = FeatureStore(config["store"])
        catalogue = read_catalogue(config["catalogue"])
        train, validation = split_tracks(catalogue[catalogue.track_id.isin(store.index.track_id)],
                                         config["validation_fraction"], config["seed"])
        patch_size = self.entry["inference"]["patch_size"]
        head = dict(config["head"])
        self.vocabulary = None
        if any(o["loss"] == "multilabel" for o in config["objectives"]):
            self.vocabulary = tag_vocabulary(train, head.get("classes", self.entry["musiczoo"]["head"]["classes"]))
            head["classes"] = len(self.vocabulary)

        def data(frame, seed):
            return [TaskData(o, frame, store, patch_size, config["batch_size"], seed, self.vocabulary,
                             config["mixing"]) for o in config["objectives"]]

        self.train_data = data(train, config["seed"])
        self.validation_data = data(validation, config["seed"] + 1) if len(validation) else []
        self.head = head
        keras.mixed_precision.set_global_policy("mixed_float16" if config["mixed_precision"] else "float32")
        with self.strategy.scope():
            self.model = registry.build(self.entry, head=head, **config["backbone"])
            self.encoder = keras.Model(self.model.input, self.model.outputs[1])
            self.heads = [self.model.get_layer(head_name(o["task"])) for o in config["objectives"]]
            self.bilinear = [losses.BilinearSimilarity(name=f"{o['task']}_bilinear") if o["loss"] == "cola" else None
                             for o in config["objectives"]]
            self.optimizer = self._optimizer()
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                              **{f"bilinear{i}": b for i, b in enumerate(self.bilinear) if b})
        self.state = {"epoch": 0, "step": 0, "history": [], "best": None, "wait": 0,
                      "learning_rate": config["optimizer"]["learning_rate"], "swa_count": 0}
        self.swa = None

    # -- model pieces ----------------------------------------------------------------------
    @property
    def variables(self):
        """What the optimizer trains: the zoo model's weights and the COLA bilinear matrices."""
        return self.model.trainable_variables + [v for b in self.bilinear if b for v in b.trainable_variables]

    def _optimizer(self):
        config = self.config
        rate = config["optimizer"]["learning_rate"]
        if config["schedule"]["name"] == "warmup_cosine":
            warmup = config["schedule"].get("warmup_steps", 5000)
            total = max(config["epochs"] * (config["steps_per_epoch"] or self._steps(0)), warmup + 1)
            rate = keras.optimizers.schedules.CosineDecay(0.0, total - warmup, warmup_target=rate, warmup_steps=warmup)
        weight_decay = config["optimizer"].get("weight_decay")
        optimizer = keras.optimizers.AdamW(rate, weight_decay=weight_decay) if weight_decay else keras.optimizers.Adam(rate)
        return keras.optimizers.LossScaleOptimizer(optimizer) if config["mixed_precision"] else optimizer

    def _steps(self, epoch):
        steps = min(task.steps(epoch) for task in self.train_data)
        if steps == 0:
            short = [f"{t.objective['task']}: {t.counts()}" for t in self.train_data if t.steps(epoch) == 0]
            raise ValueError(f"fewer pairs than batch_size={self.config['batch_size']} ({'; '.join(short)}): "
                             "lower batch_size or give a larger catalogue")
        return min(steps, self.config["steps_per_epoch"] or steps)

    def _task_loss(self, index, batch, training):
        objective, head = self.config["objectives"][index], self.heads[index]
        kind = objective["loss"]
        if kind in ("cola", "ntxent"):
            both = keras.ops.concatenate([batch["anchor"], batch["positive"]], axis=0)
            anchor, positive = keras.ops.split(head(self.encoder(both, training=training), training=training), 2)
            if kind == "cola":
                similarity = self.bilinear[index](anchor, positive)
                return losses.contrastive_cross_entropy(similarity), losses.top1_accuracy(similarity)
            return losses.nt_xent(anchor, positive, self.config["temperature"]), _cosine_top1(anchor, positive)
        outputs = head(self.encoder(batch["anchor"], training=training), training=training)
        if kind == "w2v":
            targets = batch["target"]
            return losses.word2vec_nt_xent(outputs, targets, self.config["temperature"]), _cosine_top1(outputs, targets)
        hit = keras.ops.take_along_axis(batch["labels"], keras.ops.argmax(outputs, axis=-1)[:, None], axis=1)
        return losses.multilabel_bce(batch["labels"], outputs), keras.ops.mean(hit)

    def _losses(self, batches, training):
        """Weighted total loss and mean top-1 over the tasks."""
        total, top1 = 0.0, 0.0
        for index, batch in enumerate(batches):
            loss, accuracy = self._task_loss(index, batch, training)
            total += self.config["objectives"][index]["weight"] * loss
            top1 += accuracy / len(batches)
        return total, top1

    # -- steps -------------------------------------------------------------------------------
    def _distributed(self, replica_fn):
        strategy = self.strategy
        replica_fn = tf.function(replica_fn, jit_compile=True) if self.config["jit_compile"] else replica_fn

        @tf.function
        def run(batches):
            loss, top1 = strategy.run(replica_fn, (batches,))
            return (strategy.reduce("MEAN", loss, axis=None), strategy.reduce("MEAN", top1, axis=None))

        return run

    def _train_replica(self, batches):
        with tf.GradientTape() as tape:
            loss, top1 = self._losses(batches, training=True)
            scaled = loss / self.strategy.num_replicas_in_sync
            if self.config["mixed_precision"]:
                scaled = self.optimizer.scale_loss(scaled)
        gradients = tape.gradient(scaled, self.variables)
        self.optimizer.apply_gradients(zip(gradients, self.variables))
        return loss, top1

    def _validate_replica(self, batches):
        return self._losses(batches, training=False)

    def _dataset(self, tasks, epoch, start, steps, validation=False):
        def generate():
            for step in range(start, steps):
                yield tuple(task.batch(epoch, step, validation) for task in tasks)

        first = tuple(task.batch(epoch, 0, validation) for task in tasks)
        signature = tuple({k: tf.TensorSpec((None, *v.shape[1:]), tf.float32) for k, v in b.items()} for b in first)
        dataset = tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(2)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return self.strategy.experimental_distribute_dataset(dataset.with_options(options))

    # -- checkpoints -----------------------------------------------------------------------
    def _save(self):
        """The whole training state, written to a fresh folder renamed into place."""
        folder = self.run_dir / CHECKPOINTS
        final = folder / f"ckpt-{self.state['epoch']:04d}-{self.state['step']:06d}"
        temporary = folder / f".{final.name}.part"
        shutil.rmtree(temporary, ignore_errors=True)
        self.checkpoint.write(str(temporary / "ckpt"))
        if self.swa is not None:
            np.savez(temporary / "swa.npz", *self.swa)
        (temporary / STATE_FILE).write_text(json.dumps(self.state))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(temporary, final)
        for old in sorted(p for p in folder.glob("ckpt-*"))[:-2]:
            shutil.rmtree(old)

    def restore(self):
        """Continue from the newest checkpoint, if any; returns whether one was found."""
        found = sorted((self.run_dir / CHECKPOINTS).glob("ckpt-*"))
        if not found:
            return False
        latest = found[-1]
        self._build_variables()
        self.checkpoint.read(str(latest / "ckpt")).assert_existing_objects_matched()
        self.state = json.loads((latest / STATE_FILE).read_text())
        if (latest / "swa.npz").exists():
            with np.load(latest / "swa.npz") as saved:
                self.swa = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        self._set_learning_rate(self.state["learning_rate"])
        return True

    def _build_variables(self):
        """Create the optimizer's and bilinear layers' variables so a checkpoint can fill them."""
        batches = tuple(task.batch(0, 0) for task in self.train_data)
        with self.strategy.scope():
            self._losses(tuple({k: v[:2] for k, v in b.items()} for b in batches), training=False)
            self.optimizer.build(self.variables)

    def _set_learning_rate(self, rate):
        if self.config["schedule"]["name"] != "warmup_cosine":  # a schedule sets its own rate
            self.optimizer.learning_rate.assign(rate)

    # -- the loop ----------------------------------------------------------------------------
    def fit(self, progress=True):
        """Train to ``config.epochs``, from the state restored or from scratch."""
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(self.config, sort_keys=False))
        if not self.optimizer.built:
            self._build_variables()
        train_step = self._distributed(self._train_replica)
        validate_step = self._distributed(self._validate_replica)
        writer = tf.summary.create_file_writer(str(self.run_dir / "tensorboard"))
        while self.state["epoch"] < self.config["epochs"]:
            epoch, started = self.state["epoch"], time.time()
            steps = self._steps(epoch)
            totals = np.zeros(2)
            bar = progress_bar(total=steps, initial=self.state["step"], desc=f"epoch {epoch + 1}/{self.config['epochs']}",
                       unit="step", disable=not progress)
            totals += self.state.pop("partial", [0.0, 0.0])
            for batches in self._dataset(self.train_data, epoch, self.state["step"], steps):
                loss, top1 = train_step(batches)
                totals += (float(loss), float(top1))
                self.state["step"] += 1
                bar.update()
                bar.set_postfix(loss=f"{totals[0] / self.state['step']:.3f}", top1=f"{totals[1] / self.state['step']:.3f}")
                if self.config["checkpoint_steps"] and self.state["step"] % self.config["checkpoint_steps"] == 0 \
                        and self.state["step"] < steps:
                    self.state["partial"] = totals.tolist()
                    self._save()
                    self.state.pop("partial")
            bar.close()
            row = self._end_epoch(epoch, totals / steps, validate_step, time.time() - started)
            with writer.as_default():
                for key in ("loss", "top1", "val_loss", "val_top1", "learning_rate"):
                    if row[key] is not None:
                        tf.summary.scalar(key, row[key], step=epoch + 1)
            self._save()
            self._write_outputs(final=self.state["epoch"] == self.config["epochs"])
        return pd.DataFrame(self.state["history"], columns=LOG_COLUMNS)

    def _validate(self, validate_step):
        if not self.validation_data:
            return None, None
        steps = min(task.steps(0, partial=True) for task in self.validation_data)
        steps = min(steps, self.config["validation_steps"] or steps)
        if steps == 0:
            return None, None
        values = [tuple(map(float, validate_step(b))) for b in self._dataset(self.validation_data, 0, 0, steps, True)]
        return tuple(np.mean(values, axis=0))

    def _precise_batchnorm(self, epoch):
        """Batch-norm statistics of this epoch's training patches (PreciseBN, Wu & Johnson 2021).

        The moving averages (momentum 0.99) lag far behind the weights early in training and after
        weight averaging: evaluated with them, a young model maps every patch to nearly the same
        embedding. Training itself uses batch statistics and is unaffected.
        """
        wanted, patches, step = self.config["precise_bn"], [], 0
        while wanted and sum(map(len, patches)) < wanted and step < self._steps(epoch):
            batch = self.train_data[0].batch(epoch, step)
            patches += [batch["anchor"], *([batch["positive"]] if "positive" in batch else [])]
            step += 1
        if patches:
            export.calibrate_batchnorm(self.model, np.concatenate(patches)[:wanted])

    def _end_epoch(self, epoch, train, validate_step, seconds):
        self._precise_batchnorm(epoch)
        val_loss, val_top1 = self._validate(validate_step)
        rate = float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))
        row = dict(zip(LOG_COLUMNS, (epoch + 1, float(train[0]), float(train[1]), val_loss, val_top1, rate, seconds)))
        self.state["history"].append(row)
        self._plateau(val_loss if val_loss is not None else float(train[0]))
        swa = self.config["swa"]
        if swa and epoch + 1 >= swa.get("start_epoch", 1):
            weights = self.model.get_weights()
            count = self.state["swa_count"]
            self.swa = weights if self.swa is None else [(a * count + w) / (count + 1) for a, w in zip(self.swa, weights)]
            self.state["swa_count"] = count + 1
        self.state.update(epoch=epoch + 1, step=0)
        return row

    def _plateau(self, monitored):
        """Reduce-on-plateau: the learning rate times ``factor`` after ``patience`` flat epochs."""
        schedule = self.config["schedule"]
        if self.state["best"] is None or monitored < self.state["best"]:
            self.state.update(best=monitored, wait=0)
            return
        self.state["wait"] += 1
        if schedule["name"] == "plateau" and self.state["wait"] >= schedule.get("patience", 10):
            self.state.update(learning_rate=self.state["learning_rate"] * schedule.get("factor", 0.1), wait=0)
            self._set_learning_rate(self.state["learning_rate"])

    # -- outputs -----------------------------------------------------------------------------
    def _write_outputs(self, final):
        history = pd.DataFrame(self.state["history"], columns=LOG_COLUMNS)
        atomic_write(self.run_dir / "log.csv", history.to_csv(index=False).encode())
        plot_curves(history, self.run_dir / "curves.png")
        weights = self.model.get_weights()
        if final and self.swa is not None:
            self.model.set_weights(self.swa)
            self._precise_batchnorm(self.state["epoch"] - 1)  # averaged weights need their own statistics
        temporary = self.run_dir / f".{export.WEIGHTS_FILE}"
        self.model.save_weights(temporary)
        os.replace(temporary, self.run_dir / export.WEIGHTS_FILE)
        if final and self.swa is not None:
            self.model.set_weights(weights)
        last = self.state["history"][-1]
        metrics = {k: round(last[k], 4) for k in ("val_loss", "val_top1", "loss", "top1") if last[k] is not None}
        catalogue = Path(self.config["catalogue"])
        run = {
            "model": self.config["model"], "backbone": self.config["backbone"], "head": self.head,
            "epochs": self.state["epoch"], "replicas": self.strategy.num_replicas_in_sync,
            "metadata": {"dataset": {"name": catalogue.parent.name or catalogue.stem,
                                     "size": f"{sum(len(t.catalogue) for t in self.train_data)} training tracks",
                                     "metrics": metrics},
                         **({"classes": self.vocabulary} if self.vocabulary else {})},
        }
        atomic_write(self.run_dir / export.RUN_FILE, json.dumps(run, indent=2).encode())


def plot_curves(history, path):
    """Loss and top-1 accuracy per epoch, training and validation, as a PNG."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(10, 3.6), layout="constrained")
    for axis, key, title in zip(figure.subplots(1, 2), ("loss", "top1"), ("loss", "top-1 accuracy")):
        axis.plot(history.epoch, history[key], marker="o", label="training")
        if history[f"val_{key}"].notna().any():
            axis.plot(history.epoch, history[f"val_{key}"], marker="o", label="validation")
        axis.set(title=title, xlabel="epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend()
    atomic_save_png(path, figure)


def train(config, run_dir, resume=False, overrides=None, progress=True):
    """Train as ``config`` (a YAML path or a mapping) says into ``run_dir``; returns the log."""
    from musiczoo.train.config import load_config, resolve

    config = resolve(config | (overrides or {})) if isinstance(config, dict) else load_config(config, overrides)
    trainer = Trainer(config, run_dir)
    if resume and not trainer.restore():
        print(f"no checkpoint in {run_dir}: starting from scratch")
    elif not resume and (Path(run_dir) / CHECKPOINTS).exists():
        raise FileExistsError(f"{run_dir} already holds a run: pass --resume to continue it, or pick a new folder")
    return trainer.fit(progress=progress)
