"""Heads on top of a backbone's embedding, and the two-output zoo model."""

import keras
from keras import layers


def classifier(classes, activation="sigmoid", name="classifier"):
    """Multi-label (sigmoid) or multi-class (softmax) predictions, e.g. the style-tag baseline."""
    return keras.Sequential([layers.Dense(classes, activation=activation, name="logits")], name=name)


def projection(hidden=(128,), dim=128, name="projection"):
    """SimCLR projector (playlist paper): ReLU hidden layers, then a linear D'-dim output."""
    stack = [layers.Dense(units, activation="relu", name=f"hidden{i + 1}") for i, units in enumerate(hidden)]
    return keras.Sequential([*stack, layers.Dense(dim, name="projection")], name=name)


def cola(dim=512, name="cola"):
    """COLA head (Discogs paper): Dense -> LayerNorm -> tanh."""
    return keras.Sequential(
        [layers.Dense(dim, name="dense"), layers.LayerNormalization(name="norm"), layers.Activation("tanh")],
        name=name,
    )


HEADS = {"classifier": classifier, "projection": projection, "cola": cola}


def head_activation(head):
    """The activation of a head config's output: names the Essentia predictions node."""
    return head.get("activation", "sigmoid") if head["type"] == "classifier" else "linear"


def head_name(task):
    return f"{task}_head"


def is_head(layer):
    """Whether a layer of a zoo model belongs to its heads (a task's head, or the multi-task concatenation)."""
    return layer.name.endswith("_head") or layer.name == "heads"


def build_model(backbone, head, name, tasks=("main",)):
    """Zoo model: one input, outputs ``[predictions, embeddings]`` (the export order).

    Multi-task models have one head per task (layers ``<task>_head``) on the shared embedding;
    their predictions are the heads' outputs concatenated in task order. An ``audio_art`` head
    makes the two-input AudioArt model of :mod:`musiczoo.zoo.fusion` instead.
    """
    options = {k: v for k, v in head.items() if k != "type"}
    if head["type"] == "audio_art":  # two inputs: mel patches and artist text (music-era paper)
        from musiczoo.zoo.fusion import audio_art

        return audio_art(backbone, **options, name=name)
    embeddings = backbone.output
    outputs = [HEADS[head["type"]](**options, name=head_name(task))(embeddings) for task in tasks]
    predictions = outputs[0] if len(outputs) == 1 else layers.Concatenate(name="heads")(outputs)
    return keras.Model(backbone.input, [predictions, embeddings], name=name)
