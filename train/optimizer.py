"""The optimizer and its learning rate: Adam or AdamW, a warm-up cosine schedule or reduce-on-plateau."""

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
import keras


def make_optimizer(config, total_steps):
    """Adam (AdamW with ``optimizer.weight_decay``), loss-scaled under mixed precision.

    ``total_steps()``: the run's optimizer steps, asked only by the warm-up cosine schedule.
    """
    rate = config["optimizer"]["learning_rate"]
    if config["schedule"]["name"] == "warmup_cosine":
        warmup = config["schedule"].get("warmup_steps", 5000)
        total = max(total_steps(), warmup + 1)
        rate = keras.optimizers.schedules.CosineDecay(0.0, total - warmup, warmup_target=rate, warmup_steps=warmup)
    weight_decay = config["optimizer"].get("weight_decay")
    optimizer = keras.optimizers.AdamW(rate, weight_decay=weight_decay) if weight_decay else keras.optimizers.Adam(rate)
    return keras.optimizers.LossScaleOptimizer(optimizer) if config["mixed_precision"] else optimizer


def set_learning_rate(optimizer, schedule, rate):
    """Set the optimizer's rate, unless a schedule sets its own."""
    if schedule["name"] != "warmup_cosine":
        optimizer.learning_rate.assign(rate)


def reduce_on_plateau(state, monitored, schedule):
    """Track the best ``monitored`` value in ``state``; returns whether the rate was reduced.

    With the ``plateau`` schedule, ``state["learning_rate"]`` is multiplied by ``factor`` after
    ``patience`` epochs without improvement.
    """
    if state["best"] is None or monitored < state["best"]:
        state.update(best=monitored, wait=0)
        return False
    state["wait"] += 1
    if schedule["name"] == "plateau" and state["wait"] >= schedule.get("patience", 10):
        state.update(learning_rate=state["learning_rate"] * schedule.get("factor", 0.1), wait=0)
        return True
    return False
