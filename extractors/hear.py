"""The HEAR 2021 API (https://hearbenchmark.com/hear-api.html) for every zoo model.

``hear-validator musiczoo.extractors.hear --model MODEL`` and ``python -m heareval.embeddings.runner
musiczoo.extractors.hear --model MODEL`` take MODEL as ``musiczoo extract`` does: a registry name (an
export, or a pretrained model imported on first use) or a ``.pb``/``.onnx`` with its ``.json`` beside it
(heareval's ``--model`` must be an existing file); none: :data:`DEFAULT_MODEL`. The embeddings are
``musiczoo extract``'s own (the same back-end, mel and patches), one row per patch, stamped in
milliseconds at the patch's centre. A batch shorter than one patch (``patch_size`` mel hops) is
zero-padded at its end to that length: one patch, where ``extract`` may give none (too short), and the
same numbers where it gives one (its frames are zero-padded too).

The model is a ``tf.Module`` (the validator takes a PyTorch or a TensorFlow module): audio comes in and
embeddings go out as TensorFlow tensors, float32 (numpy arrays and torch tensors are taken too).
"""

import numpy as np
import tensorflow as tf

from musiczoo.extractors.extract import load_graph
from musiczoo.extractors.graph import find_output, predictor

DEFAULT_MODEL = "msd-musicnn"  # the pretrained MusiCNN (``pip install --no-deps musicnn``), for no model path
SHAPE = "(n_sounds, n_samples)"


class HearModel(tf.Module):
    """A zoo model for the HEAR API: ``sample_rate``, ``scene_embedding_size``, ``timestamp_embedding_size``."""

    def __init__(self, graph, batch_size=64, backend=None):
        super().__init__(name="musiczoo_hear")
        output = find_output(graph.metadata, "embeddings")
        if output is None:
            raise ValueError(f"{graph.name} has no output whose output_purpose is embeddings")
        self.graph = graph
        self.sample_rate = int(graph.metadata["inference"]["sample_rate"])
        self.timestamp_embedding_size = self.scene_embedding_size = int(output["shape"][-1])
        self.predict = predictor(graph, "embeddings", batch_size, backend)

    def __repr__(self):
        return f"HearModel({self.graph.name}, {self.sample_rate} Hz, {self.timestamp_embedding_size}-d)"


def load_model(model_file_path="", batch_size=64, backend=None):
    """The :class:`HearModel` of ``model_file_path`` (anything ``musiczoo extract`` takes as MODEL).

    ``backend``: as ``musiczoo extract --backend`` (default: essentia; onnx for a ``.onnx``).
    """
    model = HearModel(load_graph(str(model_file_path or DEFAULT_MODEL)), batch_size, backend)
    _check_rate(model)
    return model


def _check_rate(model):
    rate = model.graph.mel.sample_rate
    if model.sample_rate != rate:
        raise ValueError(
            f"{model.graph.name} takes audio {SHAPE} at {rate} Hz (its mel front-end), "
            f"but its sample_rate is {model.sample_rate}"
        )


def patch_samples(graph):
    """The span of one patch, ``patch_size`` mel hops: every wrapper cuts one patch from it (its frames are one
    more than a patch, the one EffnetDiscogs drops: :meth:`Graph.frames_for`)."""
    return graph.patch_size * graph.mel.hop_size


def patch_centres_ms(graph, patches):
    """The centre of each of ``patches`` patches, in ms: the midpoint of its first and last frames' centres."""
    frames = np.arange(patches) * graph.patch_hop_size + (graph.patch_size - 1) / 2
    return frames * graph.mel.hop_size * 1000.0 / graph.mel.sample_rate


def _audio_batch(audio, model):
    """``audio`` (TF or torch tensor, array) as float32 ``(n_sounds, n_samples)``; ValueError otherwise."""
    _check_rate(model)
    if hasattr(audio, "detach"):  # torch
        audio = audio.detach().cpu()
    audio = np.asarray(audio.numpy() if hasattr(audio, "numpy") else audio, np.float32)
    if audio.ndim != 2:
        raise ValueError(
            f"HEAR audio is a batch {SHAPE} of mono audio at {model.sample_rate} Hz; got shape {audio.shape}"
        )
    return audio


def get_timestamp_embeddings(audio, model):
    """``(embeddings (n_sounds, n_timestamps, dim), timestamps (n_sounds, n_timestamps) in ms)``, as TF tensors."""
    audio = _audio_batch(audio, model)
    graph = model.graph
    audio = np.pad(audio, ((0, 0), (0, max(0, patch_samples(graph) - audio.shape[1]))))
    rows = [np.asarray(model.predict(np.ascontiguousarray(sound)), np.float32) for sound in audio]
    patches = len(rows[0]) if rows else graph.patches_for(audio.shape[1])  # Essentia's count, as extract writes
    embeddings = np.stack(rows) if rows else np.zeros((0, patches, model.timestamp_embedding_size), np.float32)
    timestamps = np.broadcast_to(patch_centres_ms(graph, patches), (len(audio), patches))
    return tf.constant(embeddings, tf.float32), tf.constant(timestamps, tf.float32)


def get_scene_embeddings(audio, model):
    """``(n_sounds, dim)``: the mean of each sound's timestamp embeddings, as a TF tensor."""
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return tf.reduce_mean(embeddings, axis=1)
