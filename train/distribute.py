"""tf.distribute for the training loop: the strategy, a step run on every replica, the batches fed to it."""

import os

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
import tensorflow as tf


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


def distributed_step(strategy, replica_fn, jit_compile=False):
    """``step(batches) -> (loss, top1)``: ``replica_fn`` run on every replica, its values averaged over them."""
    replica_fn = tf.function(replica_fn, jit_compile=True) if jit_compile else replica_fn

    @tf.function
    def step(batches):
        loss, top1 = strategy.run(replica_fn, (batches,))
        return strategy.reduce("MEAN", loss, axis=None), strategy.reduce("MEAN", top1, axis=None)

    return step


def distributed_batches(strategy, tasks, epoch, start, steps, validation=False):
    """The batches of steps ``start`` to ``steps - 1`` (one per task each step), prefetched and split over replicas."""

    def generate():
        for step in range(start, steps):
            yield tuple(task.batch(epoch, step, validation) for task in tasks)

    first = tuple(task.batch(epoch, 0, validation) for task in tasks)
    signature = tuple({k: tf.TensorSpec((None, *v.shape[1:]), tf.float32) for k, v in b.items()} for b in first)
    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(2)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))
