"""Weight averaging (SWA) and the batch-norm statistics that go with a model's weights (PreciseBN)."""

import numpy as np

from musiczoo.zoo.export import calibrate_batchnorm


def running_average(average, weights, count):
    """The mean of ``count`` averaged weight lists and ``weights`` (stochastic weight averaging, Izmailov 2018)."""
    if average is None:
        return weights
    return [(a * count + w) / (count + 1) for a, w in zip(average, weights)]


def precise_batchnorm(model, task, epoch, steps, patches):
    """Set the batch-norm statistics to those of ``patches`` training patches of ``task``'s epoch (Wu & Johnson 2021).

    The moving averages (momentum 0.99) lag far behind the weights early in training and after
    weight averaging: evaluated with them, a young model maps every patch to nearly the same
    embedding. Training itself uses batch statistics and is unaffected. ``steps``: the epoch's
    batches to draw from; ``patches`` 0 leaves the statistics as they are.
    """
    drawn, step = [], 0
    while patches and sum(map(len, drawn)) < patches and step < steps:
        batch = task.batch(epoch, step)
        drawn += [batch["anchor"], *([batch["positive"]] if "positive" in batch else [])]
        step += 1
    if drawn:
        calibrate_batchnorm(model, np.concatenate(drawn)[:patches])
