"""Convert an exported model's frozen graph to ONNX (``musiczoo export MODEL --format onnx``)."""

import tensorflow as tf

from musiczoo.zoo.export import write_export
from musiczoo.zoo.resolve import read_metadata, resolve_graph


def export_graph(model, out_dir=None, format="onnx"):
    """Convert an exported graph (a ``.pb`` or ``.onnx`` with its JSON, a registered export, a pretrained import,
    an official Essentia graph) to ONNX.

    The ``.onnx`` lands beside the ``.pb``, whose JSON gains the ``onnx`` block; with ``out_dir``, the
    files ``format`` names land there instead. Returns the path :func:`write_export` returns.
    """
    if format == "pb":
        raise ValueError(f"{model} is exported already: --format onnx (or both) converts its frozen graph to ONNX")
    path = resolve_graph(model).with_suffix(".pb")
    if not path.is_file():
        raise FileNotFoundError(f"{model} is an ONNX-only export: there is no frozen graph {path} to convert")
    graph_def = tf.compat.v1.GraphDef.FromString(path.read_bytes())
    if out_dir is None:  # in place: the .pb stays, and the JSON says so
        out_dir, format = path.parent, "both"
    return write_export(path.stem, graph_def, read_metadata(path), out_dir, False, format)
