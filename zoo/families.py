"""Essentia model families: the node names, wrapper algorithm and wrapper defaults each one is loaded with.

A zoo model uses exactly the names of Essentia's official models of its family, so it is a
drop-in for them: the same call, the same ``output=`` strings.
"""

from dataclasses import dataclass

ACTIVATION_NODES = {"sigmoid": "Sigmoid", "softmax": "Softmax", "linear": "Identity"}


@dataclass(frozen=True)
class Family:
    name: str
    algorithm: str
    input: str
    embeddings: str
    predictions: str  # "{op}" is replaced by the head's activation node (Sigmoid, Softmax, ...)
    mel: str | None  # the wrapper's mel front-end (a ``MelSpec.name`` of extractors.mel); None: it takes embeddings
    patch_size: int  # the wrapper's default patchSize and patchHopSize, in frames (embeddings: rows)
    patch_hop_size: int
    dropped_frames: int = 0  # mel frames the wrapper leaves out at the end before it cuts patches

    def predictions_node(self, activation):
        return self.predictions.format(op=ACTIVATION_NODES[activation])


FAMILIES = {
    family.name: family
    for family in (
        # discogs-effnet: PartitionedCall:0 predictions/projection, PartitionedCall:1 embeddings. Its wrapper
        # cuts patches from all frames but the last (measured: 190 frames give 1 patch of 128 at hop 62, not 2).
        Family(
            "effnet",
            "TensorflowPredictEffnetDiscogs",
            "serving_default_melspectrogram",
            "PartitionedCall:1",
            "PartitionedCall:0",
            "musicnn",
            128,
            62,
            dropped_frames=1,
        ),
        # MusiCNN-style graphs on 96-band mels (the playlist VGGish/ResNet50, era CNN, MusiCNN).
        Family(
            "musicnn",
            "TensorflowPredictMusiCNN",
            "model/Placeholder",
            "model/dense/BiasAdd",
            "model/{op}",
            "musicnn",
            187,
            93,
        ),
        # Graphs on VGGish-style 64-band mels.
        Family(
            "vggish",
            "TensorflowPredictVGGish",
            "model/Placeholder",
            "model/dense/BiasAdd",
            "model/{op}",
            "vggish",
            96,
            93,
        ),
        # Classifier heads on embeddings (downstream).
        Family("head", "TensorflowPredict2D", "model/Placeholder", "model/dense/BiasAdd", "model/{op}", None, 1, 1),
    )
}
# The wrappers that run on audio, by algorithm; every other algorithm takes embeddings.
AUDIO_WRAPPERS = {family.algorithm: family for family in FAMILIES.values() if family.mel}


def wrapper_arguments(metadata):
    """What the metadata's wrapper needs beyond ``graphFilename`` and ``output``.

    ``patchSize`` where the graph's input is fixed at another length than the wrapper's default
    (the zoo's VGGish: 256 frames, a flatten layer); nothing for a graph that takes any length.
    """
    family = AUDIO_WRAPPERS.get(metadata["inference"]["algorithm"])
    frames = metadata["schema"]["inputs"][0]["shape"][-2] if family else None
    return {"patchSize": frames} if frames is not None and frames != family.patch_size else {}
