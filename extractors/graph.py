"""An exported model with its Essentia metadata, and the back-ends that run it on audio.

``essentia``: Essentia's own wrapper (TensorflowPredictEffnetDiscogs / MusiCNN / VGGish) on the
``.pb``, the call an Essentia user makes. ``tensorflow``: the same mel, patching and graph in
TensorFlow (batched, GPU-ready). ``onnx``: the ``.onnx`` beside the graph (``musiczoo export
--format onnx``) on onnxruntime (its CUDA provider when present), fed by the TensorFlow mel. All
take 16 kHz mono audio and return ``(patches, dim)``; :data:`BACKENDS` names them.
"""

import functools
from pathlib import Path

import numpy as np

from musiczoo.extractors.mel import frame_count
from musiczoo.zoo.frontends import FRONT_ENDS
from musiczoo.runtime import essentia_standard
from musiczoo.zoo.families import AUDIO_WRAPPERS
from musiczoo.zoo.resolve import read_metadata


def patch_count(frames, size, hop):
    """Whole patches Essentia cuts from ``frames`` mel frames (the last partial one is dropped)."""
    return (frames - size) // hop + 1 if frames >= size else 0


def find_output(metadata, purpose):
    """The schema output whose ``output_purpose`` is ``purpose`` (``embeddings``, ``predictions``), or None."""
    return next((o for o in metadata["schema"]["outputs"] if o.get("output_purpose") == purpose), None)


def node_name(metadata, node=None):
    """The graph node of ``node``: an output purpose (``embeddings``, the default, ``predictions``) or a name as is."""
    node = node or "embeddings"
    output = find_output(metadata, node)
    return output["name"] if output else node


class Graph:
    """A ``.pb`` (or an ONNX-only export's ``.onnx``) and the ``.json`` beside it: input, outputs, mel, patching."""

    def __init__(self, path, metadata=None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"graph not found: {self.path}")
        self.metadata = metadata = metadata or read_metadata(self.path)
        inference = metadata["inference"]
        self.algorithm = inference["algorithm"]
        family = AUDIO_WRAPPERS.get(self.algorithm)
        if family is None:
            raise ValueError(
                f"{self.path.name}: inference.algorithm {self.algorithm!r} runs no audio; "
                f"expected one of {sorted(AUDIO_WRAPPERS)}"
            )
        self.mel = FRONT_ENDS[family.mel]
        self.dropped_frames = family.dropped_frames
        self.input = metadata["schema"]["inputs"][0]["name"]
        frames = metadata["schema"]["inputs"][0]["shape"][-2]
        self.patch_size = inference.get("patch_size") or frames or family.patch_size
        self.patch_hop_size = inference.get("patch_hop_size") or family.patch_hop_size
        self.name = metadata.get("name") or self.path.stem

    def node_name(self, node=None):
        """The graph node of ``node``: an output purpose (``embeddings``, the default, ``predictions``) or a name.

        A name that is neither a schema output nor a node of the ``.pb`` is a ValueError naming the outputs.
        """
        name = node_name(self.metadata, node)
        outputs = self.metadata["schema"]["outputs"]
        known = name in {o["name"] for o in outputs} or not self.path.with_suffix(".pb").is_file()
        if not known and all(n.name != name.partition(":")[0] for n in self.graph_def.node):
            listed = ", ".join(f"{o['name']} ({o.get('output_purpose') or 'no purpose'})" for o in outputs)
            raise ValueError(
                f"{self.name} has no node {name!r}: give an output purpose (embeddings, predictions) or a node "
                f"name; its outputs: {listed}"
            )
        return name

    def frames_for(self, n_samples):
        """The mel frames the wrapper cuts patches from: Essentia's frame count, less the family's dropped ones."""
        return max(0, frame_count(self.mel, n_samples) - self.dropped_frames)

    def patches_for(self, n_samples):
        return patch_count(self.frames_for(n_samples), self.patch_size, self.patch_hop_size)

    def file(self, suffix):
        """The model's ``.pb`` or ``.onnx`` (``suffix``) beside its JSON; FileNotFoundError says how to export it."""
        path = self.path.with_suffix(suffix)
        if path.is_file():
            return path
        if suffix == ".onnx":
            raise FileNotFoundError(
                f"{self.name} has no ONNX graph {path}: convert it with `musiczoo export {self.path} --format onnx`"
            )
        raise FileNotFoundError(
            f"{self.name} has no frozen graph {path} (an ONNX-only export): export it again with --format both"
        )

    @functools.cached_property
    def graph_def(self):
        import tensorflow as tf

        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(self.file(".pb").read_bytes())
        return graph_def


def essentia_predictor(graph, node=None, batch_size=64):
    """Essentia's wrapper algorithm for ``graph``: ``audio -> (patches, dim)``."""
    params = dict(
        graphFilename=str(graph.file(".pb")),
        input=graph.input,
        output=graph.node_name(node),
        patchSize=graph.patch_size,
        patchHopSize=graph.patch_hop_size,
        batchSize=batch_size,
    )
    return getattr(essentia_standard(), graph.algorithm)(**params)


def graph_function(graph, node=None):
    """The frozen graph as a TensorFlow function: mel patches ``(batch, frames, bands)`` -> ``node``."""
    import tensorflow as tf

    from musiczoo.zoo.onnx import tensor_name

    fetch = tensor_name(graph.node_name(node))
    imported = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph.graph_def, name=""), [])
    pruned = imported.prune(
        imported.graph.get_tensor_by_name(f"{graph.input}:0"), imported.graph.get_tensor_by_name(fetch)
    )
    return lambda patches: pruned(tf.convert_to_tensor(patches, tf.float32))


def batched_predictor(graph, run, batch_size):
    """``audio -> (patches, dim)``: the TensorFlow mel and patches of ``graph``, ``run`` on ``batch_size`` at a time."""
    import tensorflow as tf

    from musiczoo.extractors.mel import tf_melspectrogram

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def to_patches(audio):
        mel = tf_melspectrogram(audio, graph.mel)
        mel = mel[: tf.shape(mel)[0] - graph.dropped_frames]  # as the wrapper does
        return tf.signal.frame(mel, graph.patch_size, graph.patch_hop_size, axis=0)

    def predict(audio):
        patches = to_patches(np.asarray(audio, np.float32)).numpy()
        rows = [np.asarray(run(patches[start : start + batch_size])) for start in range(0, len(patches), batch_size)]
        if not rows:
            return np.zeros((0, 0), np.float32)
        return np.concatenate([r.reshape(len(r), -1) for r in rows])

    return predict


def tensorflow_predictor(graph, node=None, batch_size=64):
    """The same computation in TensorFlow: mel and patches in one ``tf.function``, then the graph."""
    return batched_predictor(graph, graph_function(graph, node), batch_size)


def onnx_predictor(graph, node=None, batch_size=64):
    """The model's ``.onnx`` on onnxruntime, fed by the TensorFlow mel and patches.

    ``node`` must be one of the ONNX graph's outputs: those of the metadata's schema.
    """
    from musiczoo.zoo import onnx

    session = onnx.session(graph.file(onnx.SUFFIX))
    output = onnx.tensor_name(graph.node_name(node))
    outputs = [value.name for value in session.get_outputs()]
    if output not in outputs:
        raise ValueError(
            f"{graph.name}: {output} is not an output of its ONNX graph ({', '.join(outputs)}); "
            "--backend tensorflow reads any node"
        )
    feed = session.get_inputs()[0].name
    return batched_predictor(graph, lambda patches: session.run([output], {feed: patches})[0], batch_size)


BACKENDS = {  # back-end name -> make(graph, node, batch_size) -> (audio -> (patches, dim))
    "essentia": essentia_predictor,
    "tensorflow": tensorflow_predictor,
    "onnx": onnx_predictor,
}
DEFAULT_BACKEND = "essentia"


def model_backend(graph, backend=None):
    """``backend``, else the model's own: ``onnx`` for a model given as its ``.onnx``, else :data:`DEFAULT_BACKEND`."""
    return backend or ("onnx" if graph.path.suffix == ".onnx" else DEFAULT_BACKEND)


def predictor(graph, node=None, batch_size=64, backend=None):
    """``audio -> (patches, dim)`` for ``graph`` on the back-end ``backend`` (default: :func:`model_backend`),
    read at ``node`` (default: the embeddings)."""
    backend = model_backend(graph, backend)
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if batch_size < 1:  # Essentia's batchSize -1 or 0 means "all at once", which crashes EffnetDiscogs
        raise ValueError(f"the batch size must be 1 or more, not {batch_size}")
    return BACKENDS[backend](graph, node, batch_size)
