"""Essentia model families: the node names and wrapper algorithm each one is loaded with.

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

    def predictions_node(self, activation):
        return self.predictions.format(op=ACTIVATION_NODES[activation])


FAMILIES = {
    family.name: family
    for family in (
        # discogs-effnet: PartitionedCall:0 predictions/projection, PartitionedCall:1 embeddings.
        Family("effnet", "TensorflowPredictEffnetDiscogs", "serving_default_melspectrogram",
               "PartitionedCall:1", "PartitionedCall:0"),
        # MusiCNN-style graphs on 96-band mels (the playlist VGGish/ResNet50, era CNN, MusiCNN).
        Family("musicnn", "TensorflowPredictMusiCNN", "model/Placeholder",
               "model/dense/BiasAdd", "model/{op}"),
        # Graphs on VGGish-style 64-band mels.
        Family("vggish", "TensorflowPredictVGGish", "model/Placeholder",
               "model/dense/BiasAdd", "model/{op}"),
        # Classifier heads on embeddings (downstream).
        Family("head", "TensorflowPredict2D", "model/Placeholder",
               "model/dense/BiasAdd", "model/{op}"),
    )
}
