"""Heads on top of a backbone's embedding, and the two-output zoo model."""
import keras
from keras import layers


def classifier(classes, activation="sigmoid"):
    """Multi-label (sigmoid) or multi-class (softmax) predictions, e.g. the style-tag baseline."""
    return keras.Sequential([layers.Dense(classes, activation=activation, name="logits")], name="classifier")


def projection(hidden=(128,), dim=128):
    """SimCLR projector (playlist paper): ReLU hidden layers, then a linear D'-dim output."""
    stack = [layers.Dense(units, activation="relu", name=f"hidden{i + 1}") for i, units in enumerate(hidden)]
    return keras.Sequential([*stack, layers.Dense(dim, name="projection")], name="projection")


def cola(dim=512):
    """COLA head (Discogs paper): Dense -> LayerNorm -> tanh."""
    return keras.Sequential(
        [layers.Dense(dim, name="dense"), layers.LayerNormalization(name="norm"), layers.Activation("tanh")],
        name="cola",
    )


HEADS = {"classifier": classifier, "projection": projection, "cola": cola}


def head_activation(head):
    """The activation of a head config's output: names the Essentia predictions node."""
    return head.get("activation", "sigmoid") if head["type"] == "classifier" else "linear"


def build_model(backbone, head, name):
    """Zoo model: one input, outputs ``[predictions, embeddings]`` (the export order)."""
    embeddings = backbone.output
    predictions = HEADS[head["type"]](**{k: v for k, v in head.items() if k != "type"})(embeddings)
    return keras.Model(backbone.input, [predictions, embeddings], name=name)
