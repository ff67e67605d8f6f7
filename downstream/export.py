"""Classifier heads for Essentia: a frozen graph ``TensorflowPredict2D`` runs, and its metadata.

The graph takes embeddings ``model/Placeholder`` ``(batch, dim)`` and gives ``model/Sigmoid``
or ``model/Softmax`` (the activations) and ``model/dense/BiasAdd`` (the hidden layer before
its ReLU, as in Essentia's official heads), as a frozen graph, ONNX or both (``format``). The JSON
names the embedding model, with the path and SHA-256 of its graph, so that ``musiczoo predict`` (or
an Essentia user) knows what to run first.
"""

import datetime

import tensorflow as tf

from musiczoo.extractors.graph import Graph, find_output
from musiczoo.fileio import sha256
from musiczoo.zoo import registry
from musiczoo.zoo.resolve import resolve_graph
from musiczoo.zoo.export import freeze, write_export
from musiczoo.zoo.families import FAMILIES

HEAD = FAMILIES["head"]
TYPES = {"multilabel": "multi-label classifier", "multiclass": "multi-class classifier"}


def embedding_model_graph(model, dim=None):
    """``(metadata, .pb path)`` of an embedding model: a registry name or a ``.pb`` (an official graph too).

    The path is None for a registry model not exported on this machine. With ``dim``: a
    ValueError unless the model's embeddings have that size.
    """
    try:
        graph = Graph(resolve_graph(model))
        metadata, path = graph.metadata, graph.path.resolve()
    except FileNotFoundError:
        if str(model).endswith(".pb"):
            raise
        metadata, path = registry.get(model), None
    output = find_output(metadata, "embeddings") or {}
    expected = (output.get("shape") or [None])[-1]
    if dim is not None and expected and expected != dim:
        raise ValueError(
            f"the classifier takes {dim}-d embeddings but {metadata['name']} gives {expected}-d: "
            "are they another model's embeddings (or a stack)?"
        )
    return metadata, path


def embedding_model_metadata(model, dim=None):
    """Essentia metadata of the embedding model (see :func:`embedding_model_graph`)."""
    return embedding_model_graph(model, dim)[0]


def embedding_model_record(metadata, graph):
    """``inference.embedding_model``: Essentia's fields, plus the graph's path and SHA-256 when it is known."""
    record = {
        "algorithm": metadata["inference"]["algorithm"],
        "model_name": metadata["name"],
        "link": metadata.get("link", ""),
    }
    return record | ({"graph": str(graph), "sha256": sha256(graph)} if graph else {})


def head_metadata(classifier, name, embedding_model, task=None, dataset=None, description=None, version="1"):
    """Essentia's metadata for one task's head of ``classifier`` on ``embedding_model``'s embeddings."""
    model = classifier.head_model(task)
    encoder = classifier.encoders_[classifier.resolve_task(task)]
    dim, hidden = int(model.input.shape[-1]), int(model.outputs[1].shape[-1])
    embedding, graph = embedding_model_graph(embedding_model, dim)
    predictions = HEAD.predictions_node(encoder.activation)
    classes = [str(c) for c in encoder.classes_]
    return {
        "name": name,
        "type": TYPES[encoder.task_],
        "link": f"classification-heads/{name.split('-')[0]}/{name}.pb",
        "version": version,
        "description": description
        or f"{TYPES[encoder.task_]} of {len(classes)} classes on {embedding['name']} embeddings",
        "author": "musiczoo",
        "email": "",
        "release_date": datetime.date.today().isoformat(),
        "framework": "tensorflow",
        "framework_version": tf.__version__,
        "classes": classes,
        "model_types": ["frozen_model"],
        "dataset": {
            "name": "",
            "citation": "",
            "size": f"{classifier.n_tracks_} tracks",
            "metrics": {},
            **(dataset or {}),
        },
        "schema": {
            "inputs": [{"name": HEAD.input, "type": "float", "shape": ["batch_size", dim]}],
            "outputs": [
                {
                    "name": predictions,
                    "type": "float",
                    "shape": ["batch_size", len(classes)],
                    "op": predictions.split("/")[-1],
                    "output_purpose": "predictions",
                },
                {
                    "name": HEAD.embeddings,
                    "type": "float",
                    "shape": ["batch_size", hidden],
                    "op": "fully connected",
                    "description": "penultimate layer",
                    "output_purpose": "",
                },
            ],
        },
        "citation": embedding.get("citation", ""),
        "inference": {
            "sample_rate": embedding["inference"]["sample_rate"],
            "algorithm": HEAD.algorithm,
            "embedding_model": embedding_model_record(embedding, graph),
        },
    }


def export_head(classifier, out_dir, name, embedding_model, task=None, dataset=None, description=None, format="pb"):
    """Write ``name.pb`` (and/or ``name.onnx``: ``format``) and ``name.json`` for one task of a fitted classifier.

    ``embedding_model``: the registry name (or ``.pb``) of the model whose embeddings the
    classifier was fitted on. ``dataset``: ``name``, ``citation``, ``size``, ``metrics``. Returns the
    ``.pb`` (the ``.onnx`` for an ONNX-only export).
    """
    metadata = head_metadata(classifier, name, embedding_model, task, dataset, description)
    activation = classifier.encoders_[classifier.resolve_task(task)].activation
    graph_def = freeze(classifier.head_model(task), HEAD, activation)
    return write_export(name, graph_def, metadata, out_dir, register=False, format=format)
