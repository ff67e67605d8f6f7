"""A frozen graph with its Essentia metadata, and the two back-ends that run it on audio.

``essentia``: Essentia's own wrapper (TensorflowPredictEffnetDiscogs / MusiCNN / VGGish), the
call an Essentia user makes. ``tensorflow``: the same mel, patching and graph in TensorFlow
(batched, GPU-ready). Both take 16 kHz mono audio and return ``(patches, dim)``.
"""
import functools
import json
from pathlib import Path

import numpy as np

from musiczoo.extractors.mel import MUSICNN, VGGISH, frame_count
from musiczoo.extractors.official import OFFICIAL_METADATA
from musiczoo.runtime import essentia_standard

# Essentia's wrapper defaults: mel front-end, patch size, patch hop.
ALGORITHMS = {
    "TensorflowPredictEffnetDiscogs": (MUSICNN, 128, 62),
    "TensorflowPredictMusiCNN": (MUSICNN, 187, 93),
    "TensorflowPredictVGGish": (VGGISH, 96, 93),
}
BACKENDS = ("essentia", "tensorflow")


def patch_count(frames, size, hop):
    """Whole patches Essentia cuts from ``frames`` mel frames (the last partial one is dropped)."""
    return (frames - size) // hop + 1 if frames >= size else 0


def read_metadata(path):
    """The Essentia metadata of a ``.pb``: the ``.json`` beside it, else an official model's (by file stem)."""
    path = Path(path)
    meta_path = path.with_suffix(".json")
    if meta_path.is_file():
        return json.loads(meta_path.read_text())
    if path.stem in OFFICIAL_METADATA:
        return OFFICIAL_METADATA[path.stem]
    raise FileNotFoundError(f"{path.name} needs its Essentia metadata beside it: {meta_path}")


def find_output(metadata, purpose):
    """The schema output whose ``output_purpose`` is ``purpose`` (``embeddings``, ``predictions``), or None."""
    return next((o for o in metadata["schema"]["outputs"] if o.get("output_purpose") == purpose), None)


def output_node(metadata, node=None):
    """The node of an output purpose (``embeddings``, the default, or ``predictions``), or a node name as is."""
    node = node or "embeddings"
    output = find_output(metadata, node)
    return output["name"] if output else node


def wrapper_arguments(metadata):
    """What the metadata's wrapper needs beyond ``graphFilename`` and ``output``.

    ``patchSize`` where the graph's input is fixed at another length than the wrapper's default
    (the zoo's VGGish: 256 frames, a flatten layer); nothing for a graph that takes any length.
    """
    algorithm = metadata["inference"]["algorithm"]
    frames = metadata["schema"]["inputs"][0]["shape"][-2] if algorithm in ALGORITHMS else None
    return {"patchSize": frames} if frames is not None and frames != ALGORITHMS[algorithm][1] else {}


class Graph:
    """A ``.pb`` and the ``.json`` beside it: input, outputs, front-end, patching."""

    def __init__(self, path, metadata=None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"graph not found: {self.path}")
        self.metadata = metadata = metadata or read_metadata(self.path)
        inference = metadata["inference"]
        self.algorithm = inference["algorithm"]
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"{self.path.name}: inference.algorithm {self.algorithm!r} runs no audio; "
                             f"expected one of {sorted(ALGORITHMS)}")
        self.mel, default_size, default_hop = ALGORITHMS[self.algorithm]
        self.input = metadata["schema"]["inputs"][0]["name"]
        self.patch_size = inference.get("patch_size") or metadata["schema"]["inputs"][0]["shape"][-2] or default_size
        self.patch_hop_size = inference.get("patch_hop_size") or default_hop
        self.name = metadata.get("name") or self.path.stem

    def output(self, node=None):
        """The node for an output purpose (``embeddings``, ``predictions``) or a node name as is."""
        return output_node(self.metadata, node)

    def patches_for(self, n_samples):
        return patch_count(frame_count(self.mel, n_samples), self.patch_size, self.patch_hop_size)

    @functools.cached_property
    def graph_def(self):
        import tensorflow as tf

        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(self.path.read_bytes())
        return graph_def


def essentia_predictor(graph, output=None, batch_size=64):
    """Essentia's wrapper algorithm for ``graph``: ``audio -> (patches, dim)``."""
    params = dict(graphFilename=str(graph.path), input=graph.input, output=graph.output(output),
                  patchSize=graph.patch_size, patchHopSize=graph.patch_hop_size, batchSize=batch_size)
    return getattr(essentia_standard(), graph.algorithm)(**params)


def graph_function(graph, output=None):
    """The frozen graph as a TensorFlow function: mel patches ``(batch, frames, bands)`` -> ``output``."""
    import tensorflow as tf

    fetch = graph.output(output)
    fetch = fetch if ":" in fetch else f"{fetch}:0"
    imported = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph.graph_def, name=""), [])
    pruned = imported.prune(imported.graph.get_tensor_by_name(f"{graph.input}:0"),
                            imported.graph.get_tensor_by_name(fetch))
    return lambda patches: pruned(tf.convert_to_tensor(patches, tf.float32))


def tensorflow_predictor(graph, output=None, batch_size=64):
    """The same computation in TensorFlow: mel, patches and graph in one ``tf.function``."""
    import tensorflow as tf

    from musiczoo.extractors.mel import tf_melspectrogram

    run_graph = graph_function(graph, output)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def to_patches(audio):
        mel = tf_melspectrogram(audio, graph.mel)
        return tf.signal.frame(mel, graph.patch_size, graph.patch_hop_size, axis=0)

    def predict(audio):
        patches = to_patches(np.asarray(audio, np.float32))
        rows = [run_graph(patches[start:start + batch_size]) for start in range(0, int(patches.shape[0]), batch_size)]
        if not rows:
            return np.zeros((0, 0), np.float32)
        return np.concatenate([np.asarray(r).reshape(len(r), -1) for r in rows])

    return predict


def predictor(graph, output=None, batch_size=64, backend="essentia"):
    """``audio -> (patches, dim)`` for ``graph`` on the chosen back-end."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    if batch_size < 1:  # Essentia's batchSize -1 or 0 means "all at once", which crashes EffnetDiscogs
        raise ValueError(f"the batch size must be 1 or more, not {batch_size}")
    make = essentia_predictor if backend == "essentia" else tensorflow_predictor
    return make(graph, output, batch_size)
