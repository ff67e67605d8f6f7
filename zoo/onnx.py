"""ONNX exports of frozen graphs (tf2onnx), and the onnxruntime sessions that run them.

A frozen graph converts as it is (tf2onnx from the ``GraphDef``, opset 17): the same input and
output tensors under their TensorFlow names (``model/Placeholder:0`` in, ``model/dense/BiasAdd:0``
or ``PartitionedCall:1`` out), the dynamic batch (and time axis) kept as the symbolic dimensions
``batch_size`` (and ``frames``). The ``.onnx`` sits beside the ``.pb`` and the metadata JSON names
its tensors in an ``onnx`` block laid out like the JSON's ``schema``: ``{"opset", "converter",
"schema": {"inputs": [...], "outputs": [...]}}``, each output with the ``output_purpose`` of the
frozen graph's. Needs the ``onnx`` extra.
"""

import importlib

INSTALL = 'pip install "musiczoo[onnx]"'
FORMATS = ("pb", "onnx", "both")  # what an export writes beside its JSON: the frozen graph, ONNX, or both
OPSET = 17
SUFFIX = ".onnx"
PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")  # onnxruntime's, in order of preference


def require(module):
    """Import ``module`` (``tf2onnx``, ``onnxruntime``); an ImportError naming the install command if it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"ONNX support needs {module}: {INSTALL}") from None


def tensor_name(node):
    """The tensor of a graph node, as TensorFlow and ONNX name it: ``model/Sigmoid`` -> ``model/Sigmoid:0``."""
    return node if ":" in node else f"{node}:0"


def _shape(value):
    return [dim.dim_param or dim.dim_value for dim in value.type.tensor_type.shape.dim]


def convert(graph_def, metadata):
    """``(ONNX model, the metadata's onnx block)`` of a frozen graph described by Essentia ``metadata``.

    Every input and output of ``metadata["schema"]`` is kept; nothing else of the graph is.
    """
    tf2onnx = require("tf2onnx")
    from tensorflow.python.util import deprecation

    outputs = {tensor_name(output["name"]): output for output in metadata["schema"]["outputs"]}
    with deprecation.silence():  # tf2onnx calls TF1 graph utilities, which warn
        model, _ = tf2onnx.convert.from_graph_def(
            graph_def,
            name=metadata["name"],
            input_names=[tensor_name(spec["name"]) for spec in metadata["schema"]["inputs"]],
            output_names=list(outputs),
            opset=OPSET,
        )
    for value in [*model.graph.input, *model.graph.output]:  # tf2onnx's unk__N -> readable names
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if not dim.HasField("dim_value"):
                dim.dim_param = "batch_size" if axis == 0 else "frames"
    schema = {
        "inputs": [{"name": value.name, "type": "float", "shape": _shape(value)} for value in model.graph.input],
        "outputs": [outputs[value.name] | {"name": value.name, "shape": _shape(value)} for value in model.graph.output],
    }
    block = {"opset": OPSET, "converter": f"tf2onnx {tf2onnx.__version__}", "schema": schema}
    return model, block


def session(path):
    """An onnxruntime session of the ``.onnx`` at ``path``: on CUDA when this onnxruntime has it, else the CPU."""
    onnxruntime = require("onnxruntime")
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: no notices about the providers it did not pick
    available = onnxruntime.get_available_providers()
    return onnxruntime.InferenceSession(
        str(path), options, providers=[provider for provider in PROVIDERS if provider in available]
    )
