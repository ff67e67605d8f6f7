"""A run's per-epoch history: ``log.csv``, ``curves.png`` and TensorBoard scalars."""

from pathlib import Path

import pandas as pd

from musiczoo.fileio import atomic_save_png, atomic_write

LOG_COLUMNS = ["epoch", "loss", "top1", "val_loss", "val_top1", "learning_rate", "seconds"]
SCALARS = ("loss", "top1", "val_loss", "val_top1", "learning_rate")


def history_frame(history):
    """The history rows (dicts) as a frame of :data:`LOG_COLUMNS`."""
    return pd.DataFrame(history, columns=LOG_COLUMNS)


def write_log(run_dir, history):
    """``log.csv`` and ``curves.png`` of the history so far."""
    frame = history_frame(history)
    atomic_write(Path(run_dir) / "log.csv", frame.to_csv(index=False).encode())
    plot_curves(frame, Path(run_dir) / "curves.png")


def log_scalars(writer, row):
    """One epoch's row as TensorBoard scalars (the missing validation values left out)."""
    import tensorflow as tf

    with writer.as_default():
        for key in SCALARS:
            if row[key] is not None:
                tf.summary.scalar(key, row[key], step=row["epoch"])


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
