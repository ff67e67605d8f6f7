"""tf.distribute for the training loop: the strategy, a step run on every replica, the batches fed to it.

Several machines train as one under ``MultiWorkerMirroredStrategy``: each worker process is told
the cluster by ``TF_CONFIG`` (:func:`cluster_config` writes it), feeds its replicas their parts of
every step's global batch, and only the chief (worker 0) writes the run folder.
"""

import json
import os

import numpy as np

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
import tensorflow as tf


def cluster_config(workers, index):
    """The ``TF_CONFIG`` of worker ``index`` of ``workers`` (``HOST:PORT`` each; worker 0 is the chief)."""
    if not 0 <= index < len(workers):
        raise ValueError(f"worker index {index} is not one of the {len(workers)} workers {workers}")
    return json.dumps({"cluster": {"worker": list(workers)}, "task": {"type": "worker", "index": index}})


def make_strategy(kind, cpu_devices=None):
    """The tf.distribute strategy: TF_CONFIG -> multi-worker; several devices -> mirrored.

    Made before anything starts TensorFlow's runtime (a multi-worker strategy configures it).
    """
    if cpu_devices:
        physical = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(physical, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
    if kind == "multiworker" or (kind == "auto" and "TF_CONFIG" in os.environ):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    if kind == "mirrored" or (kind == "auto" and len(devices) > 1):
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


def check_jit_compile(strategy, jit_compile):
    """Refuse ``jit_compile`` with several replicas on one process's CPUs: XLA runs every replica's step on the
    first CPU, away from the other replicas' variables (XLA's known issue "tf.Variable on a different device")."""
    devices = strategy.extended.worker_devices if jit_compile and strategy.num_replicas_in_sync > 1 else ()
    if len(devices) > 1 and all("CPU" in device.upper() for device in devices):
        raise ValueError(
            f"jit_compile cannot train {len(devices)} replicas on one machine's CPUs (XLA places every replica's "
            "step on the first CPU, away from the others' variables): set jit_compile: false, or train on GPUs"
        )


def distributed_step(strategy, replica_fn, jit_compile=False):
    """``step(batches) -> (loss, top1)``: ``replica_fn`` run on every replica, its values averaged over them."""
    replica_fn = tf.function(replica_fn, jit_compile=True) if jit_compile else replica_fn

    @tf.function
    def step(batches):
        loss, top1 = strategy.run(replica_fn, (batches,))
        return strategy.reduce("MEAN", loss, axis=None), strategy.reduce("MEAN", top1, axis=None)

    return step


def _task(strategy):
    """``(task type, index)`` of this process in a multi-worker cluster, or None outside one."""
    resolver = strategy.cluster_resolver
    return (resolver.task_type, resolver.task_id) if resolver is not None and resolver.task_type else None


def is_chief(strategy):
    """Whether this process writes the run's files: always, but under a multi-worker strategy only on the chief."""
    task = _task(strategy)
    return task is None or task[0] == "chief" or task == ("worker", 0)


def check_same_position(strategy, position):
    """Raise on every worker unless all resume from the same ``(epoch, step)``: else their collective ops hang."""
    if _task(strategy) is not None:
        positions = strategy.gather(strategy.run(lambda: tf.constant([position], tf.int64)), axis=0).numpy()
        if (positions != positions[0]).any():
            raise RuntimeError(
                f"the workers resume from different checkpoints ((epoch, step) per replica, -1 for none: "
                f"{positions.tolist()}): every worker must read the chief's (a run folder on shared storage)"
            )


def distributed_batches(strategy, tasks, epoch, start, steps, validation=False):
    """The batches of steps ``start`` to ``steps - 1`` (one per task each step), read in parallel, prefetched and
    split over replicas.

    Replica ``r`` of ``R`` trains on part ``r`` of every step's global batch (``numpy.array_split``), whichever
    worker it runs on: each worker's input pipeline reads only its own replicas' parts, so ``W`` workers of
    ``R / W`` replicas train exactly as one process of ``R`` replicas. Parts are read by tf.data's parallel
    map (NumPy's copies from the memory-mapped store release the GIL), in order.
    """
    replicas = strategy.num_replicas_in_sync
    first = tuple(task.batch(epoch, 0, validation, (0, replicas)) for task in tasks)  # also draws the epoch's pairs
    signature = tuple({k: tf.TensorSpec((None, *v.shape[1:]), tf.float32) for k, v in b.items()} for b in first)
    specs = tf.nest.flatten(signature)

    def read(step, part):
        batches = (task.batch(epoch, int(step), validation, (int(part), replicas)) for task in tasks)
        return [np.asarray(array, np.float32) for array in tf.nest.flatten(tuple(batches))]

    def load(step, part):
        arrays = tf.numpy_function(read, [step, part], [spec.dtype for spec in specs], stateful=False)
        for array, spec in zip(arrays, specs):
            array.set_shape(spec.shape)
        return tf.nest.pack_sequence_as(signature, arrays)

    def pipeline(context):
        local = replicas // context.num_input_pipelines
        parts = np.arange(context.input_pipeline_id * local, (context.input_pipeline_id + 1) * local)
        indices = np.array([(step, part) for step in range(start, steps) for part in parts], np.int64).reshape(-1, 2)
        dataset = tf.data.Dataset.from_tensor_slices((indices[:, 0], indices[:, 1]))
        return dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(2 * local)

    return strategy.distribute_datasets_from_function(pipeline)
