"""The Keras networks: a shared hidden layer (optional) and one logits head per task.

Training works on logits (stable cross-entropies); :func:`head_model` gives the two-output
model ``[activations, penultimate]`` that ``zoo.export.freeze`` turns into an Essentia head.
"""

import keras
import numpy as np
from scipy.special import expit, softmax

HIDDEN = "hidden"


def logits_name(position):
    """Layer name of the ``position``-th task's logits (task names need not be valid layer names)."""
    return f"logits_{position}"


def attach_heads(features, hidden, outputs):
    """``{task: logits}`` on ``features``: Dense(hidden) -> ReLU (if ``hidden``), then a Dense per task.

    The hidden Dense layer is named ``hidden``: its pre-activation output is the penultimate
    layer of the exported head (``model/dense/BiasAdd`` of Essentia's classifier heads).
    """
    if hidden:
        features = keras.layers.ReLU(name="relu")(keras.layers.Dense(hidden, name=HIDDEN)(features))
    return {
        task: keras.layers.Dense(classes, name=logits_name(position))(features)
        for position, (task, classes) in enumerate(outputs.items())
    }


def mlp(dim, hidden, outputs):
    """Embeddings ``(batch, dim)`` -> ``{task: logits}``."""
    inputs = keras.Input((dim,), name="embeddings")
    return keras.Model(inputs, attach_heads(inputs, hidden, outputs), name="classifier")


def loss(task):
    if task == "multilabel":
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def activate(logits, task):
    """Sigmoid (multi-label) or softmax (multi-class) of numpy logits."""
    return (expit(logits) if task == "multilabel" else softmax(logits, axis=-1)).astype(np.float32)


def predict_logits(network, rows, batch_size=4096):
    """``{task: logits}`` of ``rows``, in eager batches (no retracing for each new input size)."""
    parts = [network(rows[start : start + batch_size], training=False) for start in range(0, len(rows), batch_size)]
    return {task: np.concatenate([np.asarray(part[task]) for part in parts]) for task in parts[0]}


def head_model(network, position, activation):
    """``[activations, penultimate]`` of the ``position``-th task: what Essentia runs (layers shared)."""
    output_layer = network.get_layer(logits_name(position))
    has_hidden = any(layer.name == HIDDEN for layer in network.layers)
    penultimate = network.get_layer(HIDDEN).output if has_hidden else output_layer.input
    logits = output_layer.output
    return keras.Model(
        network.input,
        [keras.layers.Activation(activation, name=activation)(logits), penultimate],
        name=f"head_{position}",
    )
