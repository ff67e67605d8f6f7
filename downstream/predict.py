"""Exported heads at work: Essentia's TensorflowPredict2D on embeddings, and on audio files.

``predict_files`` runs the pipeline an Essentia user runs: the embedding model named in the
head's JSON (``musiczoo extract``), then the head, per patch and averaged per track.
"""

import functools
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from musiczoo.downstream.estimator import LABELS, TrackPredictor
from musiczoo.downstream.targets import TargetEncoder
from musiczoo.extractors.extract import extract
from musiczoo.extractors.graph import node_name
from musiczoo.fileio import sha256
from musiczoo.runtime import essentia_standard
from musiczoo.zoo import onnx
from musiczoo.zoo.resolve import read_metadata, resolve_graph

TRACK_ROW = "mean"  # the ``patch`` value of a track's averaged activations


class Head(TrackPredictor):
    """An exported classifier head (``.pb`` or ``.onnx``, and its ``.json``), with the track-level predictor API.

    ``predict_proba``, ``predict``, ``evaluate`` and ``score`` run the ``.pb`` in Essentia, so official
    heads (``TensorflowPredict2D`` on embeddings) are evaluated the same way; a ``.onnx`` runs on onnxruntime.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"head not found: {self.path}")
        self.metadata = read_metadata(self.path)
        inference = self.metadata["inference"]
        if inference.get("algorithm") != "TensorflowPredict2D":
            raise ValueError(
                f"{self.path.name} is not a classifier head: inference.algorithm is "
                f"{inference.get('algorithm')!r}, not TensorflowPredict2D"
            )
        schema = self.metadata["schema"]
        self.input = schema["inputs"][0]["name"]
        self.output = node_name(self.metadata, "predictions")
        self.features_ = (int(schema["inputs"][0]["shape"][-1]),)
        multiclass = self.output.endswith("Softmax") or self.metadata.get("type", "").startswith("multi-class")
        task = "multiclass" if multiclass else "multilabel"
        self.encoders_ = {LABELS: TargetEncoder.from_dict({"task": task, "classes": self.metadata["classes"]})}

    def embedding_graph(self):
        """The ``.pb`` of the embedding model in the JSON: its recorded path, else its name (an export, a pretrained).

        A missing graph, or one whose SHA-256 is not the recorded one, is a one-line error naming it.
        """
        record = self.metadata["inference"].get("embedding_model")
        if not record:
            raise ValueError(
                f"{self.path.name} names no embedding model (inference.embedding_model): give --embedding-model MODEL"
            )
        name, path, digest = record.get("model_name"), record.get("graph"), record.get("sha256")
        if path and Path(path).is_file():
            graph = Path(path)
        else:
            try:
                graph = resolve_graph(name)
            except (KeyError, FileNotFoundError):
                missing = f"{path or 'no graph'} not found, no export named {name} here"
                raise FileNotFoundError(
                    f"{self.path.name}: its embedding model {name} is missing ({missing}); give --embedding-model MODEL"
                ) from None
        if digest and sha256(graph) != digest:
            raise ValueError(
                f"{self.path.name}: its embedding graph {graph} changed since the head was exported "
                "(SHA-256 differs); re-export the head or give --embedding-model MODEL"
            )
        return graph

    @functools.cached_property
    def _algorithm(self):
        if self.path.suffix == onnx.SUFFIX:
            session = onnx.session(self.path)
            output, feed = onnx.tensor_name(self.output), session.get_inputs()[0].name
            return lambda rows: session.run([output], {feed: rows})[0]
        return essentia_standard().TensorflowPredict2D(
            graphFilename=str(self.path), input=self.input, output=self.output, dimensions=self.features_[0]
        )

    def _patch_activations(self, rows):
        return {LABELS: self._algorithm(np.ascontiguousarray(rows, np.float32))}


def predict_files(
    head,
    inputs,
    embedding_model=None,
    per_patch=False,
    embeddings_dir=None,
    batch_size=64,
    progress=True,
    backend=None,
):
    """Run the embedding model and ``head`` on the audio files of ``inputs`` (files or folders).

    Returns ``(predictions, summary)``: one row per file (``patch`` = ``"mean"``, the track
    average), plus one per patch with ``per_patch``, a column per class; and the extraction
    summary (files that failed have their error there). ``embedding_model``: a registry name
    or ``.pb`` (default: the head's, see :meth:`Head.embedding_graph`);
    ``embeddings_dir``: keep the embeddings there; ``backend``: what runs the embedding model
    (``musiczoo.extractors.graph.BACKENDS``).
    """
    head = head if isinstance(head, Head) else Head(head)
    model = embedding_model or head.embedding_graph()
    with tempfile.TemporaryDirectory() as scratch:
        out_dir = Path(embeddings_dir or scratch)
        summary = extract(model, inputs, out_dir, batch_size=batch_size, backend=backend, progress=progress)
        frames = []
        for row in summary[summary.status == "ok"].itertuples():
            embeddings = np.load(out_dir / row.embeddings)
            if embeddings.shape[1] != head.features_[0]:
                raise ValueError(
                    f"{model} gives {embeddings.shape[1]}-d embeddings; {head.path.name} takes "
                    f"{head.features_[0]}-d (another embedding model?)"
                )
            activations = head._patch_activations(embeddings)[LABELS]
            table = activations.mean(axis=0, keepdims=True)
            patches = [TRACK_ROW]
            if per_patch:
                table, patches = np.concatenate([table, activations]), [TRACK_ROW, *range(len(activations))]
            frame = pd.DataFrame(table, columns=[str(c) for c in head.classes_])
            frame.insert(0, "patch", patches)
            frame.insert(0, "path", row.path)
            frames.append(frame)
    columns = ["path", "patch", *map(str, head.classes_)]
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)), summary
