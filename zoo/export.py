"""Export a zoo model as a frozen TensorFlow graph plus Essentia's metadata JSON.

The graph takes a dynamic batch of rank-3 mel patches ``(batch, frames, bands)`` (``frames``
dynamic too where the backbone allows it) and carries the official node names of its Essentia
family (see :mod:`musiczoo.zoo.families`), so Essentia's own wrapper algorithms load it
unmodified. With ``format="both"`` (or ``"onnx"``) the graph is also (or only) written as ONNX
(see :mod:`musiczoo.zoo.onnx`), named in the JSON. Files are written atomically.
:mod:`musiczoo.zoo.convert` converts an exported graph to ONNX afterwards.
"""

import copy
import datetime
import json
from pathlib import Path

import tensorflow as tf
from tensorflow.python.framework import op_def_registry
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from musiczoo.zoo.frontends import FRONT_ENDS, store_front_end
from musiczoo.fileio import atomic_write
from musiczoo.zoo import heldout, onnx, registry
from musiczoo.zoo.backbones import any_length
from musiczoo.zoo.families import FAMILIES, wrapper_arguments
from musiczoo.zoo.heads import head_activation
from musiczoo.zoo.run import load_run


def strip_default_attributes(graph_def):
    """Drop attributes at their default value: TF 2.5 (in Essentia) rejects ones it lacks."""
    for node in graph_def.node:
        op_def = op_def_registry.get(node.op)
        if op_def is None:
            continue
        for attr in op_def.attr:
            if attr.HasField("default_value") and attr.name in node.attr and node.attr[attr.name] == attr.default_value:
                del node.attr[attr.name]


def _rename_node(graph_def, old, new):
    for node in graph_def.node:
        if node.name == old:
            node.name = new
        for index, name in enumerate(node.input):
            bare = name.lstrip("^").split(":")[0]
            if bare == old:
                node.input[index] = name.replace(old, new, 1)


def _add_output(graph_def, name, inputs):
    """An Identity (one input) or IdentityN (several: ``name:0``, ``name:1``) output node."""
    if any(node.name == name for node in graph_def.node):
        raise ValueError(f"node {name!r} already exists in the frozen graph")
    node = graph_def.node.add(name=name, op="IdentityN" if len(inputs) > 1 else "Identity")
    node.input.extend(inputs)
    if len(inputs) > 1:
        node.attr["T"].list.type.extend([tf.float32.as_datatype_enum] * len(inputs))
    else:
        node.attr["T"].type = tf.float32.as_datatype_enum


def freeze(model, family, activation="linear"):
    """Frozen ``GraphDef`` of a two-output model ``[predictions, embeddings]``, dynamic batch.

    Input and outputs carry the family's node names: mel patches ``(batch, frames, bands)`` for
    audio models, embeddings ``(batch, dim)`` for the ``head`` family (outputs: the activations
    and the penultimate layer).
    """
    family = FAMILIES[family] if isinstance(family, str) else family

    @tf.function(input_signature=[tf.TensorSpec([None, *model.input.shape[1:]], tf.float32, name="features")])
    def serve(features):
        predictions, embeddings = model(features, training=False)
        return predictions, embeddings

    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    graph_def = frozen.graph.as_graph_def()
    input_name = frozen.inputs[0].name.split(":")[0]
    predictions, embeddings = (tensor.name for tensor in frozen.outputs)
    _rename_node(graph_def, input_name, family.input)
    if family.predictions.startswith("PartitionedCall"):
        _add_output(graph_def, "PartitionedCall", [predictions, embeddings])
    else:
        _add_output(graph_def, family.predictions_node(activation), [predictions])
        _add_output(graph_def, family.embeddings.split(":")[0], [embeddings])
    strip_default_attributes(graph_def)
    return graph_def


def metadata(entry, updates=None):
    """Essentia metadata for an exported entry: the registry fields, updated from a run.

    When the wrapper of ``inference.algorithm`` needs more than the graph and the output node
    (a fixed patch length other than its default), the description says which argument.
    """
    meta = {field: copy.deepcopy(entry[field]) for field in registry.METADATA_FIELDS}
    for key, value in (updates or {}).items():
        if isinstance(value, dict) and isinstance(meta.get(key), dict):
            meta[key] = {**meta[key], **value}
        else:
            meta[key] = value
    meta["framework_version"] = tf.__version__
    if not meta["release_date"] and not registry.is_pretrained(entry):  # a zoo export: the day it is made
        meta["release_date"] = datetime.date.today().isoformat()  # (a pretrained import keeps its authors' date)
    extra = ", ".join(f"{key}={value}" for key, value in wrapper_arguments(meta).items())
    if extra:
        meta["description"] += (
            f". The graph takes {meta['schema']['inputs'][0]['shape'][0]}-frame patches only: "
            f"call {meta['inference']['algorithm']} with {extra}"
        )
    return meta


def check_essentia_input(model, entry):
    """Raise unless the mel patches Essentia's wrapper of the entry's family computes fit ``model``'s input.

    One input only (AudioArt-MMC also takes artist text); the bands must be those of the family's
    front-end (``FRONT_ENDS[family.mel]``); the frames those of the entry's schema where its graph takes
    one patch length only.
    """
    if len(model.inputs) > 1:
        raise ValueError(
            f"{entry['name']} takes {len(model.inputs)} inputs (audio and artist text), an Essentia graph only "
            "audio: it runs in Python, `musiczoo era predict --run RUN AUDIO... --artist-text T`"
        )
    family = FAMILIES[entry["musiczoo"]["family"]]
    if family.mel is None:  # a head on embeddings
        return
    frames, bands = model.input.shape[1:]
    wrapper, schema_frames = FRONT_ENDS[family.mel], entry["schema"]["inputs"][0]["shape"][0]
    if bands != wrapper.n_bands:
        trained = store_front_end(bands)
        raise ValueError(
            f"{entry['name']} was trained on {bands}-band{f' {trained.name}' if trained else ''} mels; Essentia's "
            f"{family.algorithm} computes {wrapper.n_bands}-band {wrapper.name} mels: not Essentia-exportable "
            "(an era run predicts in Python: `musiczoo era predict --run RUN AUDIO...`)"
        )
    if schema_frames is not None and frames != schema_frames:
        raise ValueError(
            f"{entry['name']} takes {frames}-frame patches; its Essentia metadata says {schema_frames}: "
            "not Essentia-exportable"
        )


def export_model(model, entry, out_dir, updates=None, register=True, format="pb"):
    """Write ``<name>.pb`` (and/or ``.onnx``, see :func:`write_export`) and ``<name>.json`` into ``out_dir``, the
    name the metadata's (``updates`` may give another than the entry's).

    An entry whose schema input is ``[null, bands]`` (a global-pooling backbone) is exported
    with a dynamic time axis: Essentia's wrapper runs it at its default patch size, or any other.
    """
    spec = entry["musiczoo"]
    check_essentia_input(model, entry)
    graph_def = freeze(
        any_length(model) if registry.takes_any_length(entry) else model, spec["family"], head_activation(spec["head"])
    )
    meta = metadata(entry, updates)
    predictions, embeddings = (int(output.shape[-1]) for output in model.outputs)
    for output in meta["schema"]["outputs"]:
        output["shape"] = [1, embeddings if output["output_purpose"] == "embeddings" else predictions]
    return write_export(meta["name"], graph_def, meta, out_dir, register, format)


def write_export(name, graph_def, meta, out_dir, register=True, format="pb"):
    """Write ``<name>.json`` and, by ``format``, ``<name>.pb``, ``<name>.onnx`` or both into ``out_dir`` (atomically).

    The ONNX graph is converted from ``graph_def`` before anything is written, and named in the JSON's
    ``onnx`` block. Returns the ``.pb`` path, or the ``.onnx`` one for an ONNX-only export.
    """
    if format not in onnx.FORMATS:
        raise ValueError(f"unknown export format {format!r}; expected one of {', '.join(onnx.FORMATS)}")
    out_dir = Path(out_dir)
    files = {".pb": graph_def.SerializeToString()} if format != "onnx" else {}
    if format != "pb":
        model, block = onnx.convert(graph_def, meta)
        meta = meta | {"model_types": ["frozen_model"] * bool(files) + ["onnx"], "onnx": block}
        files[onnx.SUFFIX] = model.SerializeToString()
    atomic_write(out_dir / f"{name}.json", json.dumps(meta, indent=2, ensure_ascii=False).encode())
    for suffix, data in files.items():
        atomic_write(out_dir / f"{name}{suffix}", data)
    graph_path = out_dir / f"{name}{next(iter(files))}"
    if register:
        registry.register_export(name, graph_path)
    return graph_path


def calibrate_batchnorm(model, patches):
    """Set every BatchNormalization's moving statistics to those of ``patches``.

    At initialisation the moving statistics are (0, 1), so inference-mode activations of a
    deep untrained network shrink towards zero (EfficientNet-B0: ~1e-5 embeddings). One
    training-mode pass with momentum 0 makes an untrained model's activations O(1).
    """
    import keras

    layers = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(patches, training=True)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum


def export_random_init(name, out_dir, seed=0, register=True, format="pb", **backbone_overrides):
    """Export an untrained registry model (integration tests, pipeline checks, the benchmark's baseline) as
    :func:`~musiczoo.zoo.registry.random_init_name`, its metadata saying so (description, no training data).

    Weights are random (seeded); batch-norm statistics are calibrated on log-mel-like noise
    (random levels plus gamma noise) so that the graph's outputs have a useful scale.
    """
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    entry = registry.get(name)
    untrained = {"weights": None} if "weights" in entry["musiczoo"]["backbone"] else {}  # not a preset's weights
    model = registry.build(entry, **untrained | backbone_overrides)
    frames, bands = model.input.shape[1:]
    rng = np.random.default_rng(seed)
    levels = rng.uniform(0.0, 3.0, size=(64, 1, 1))  # log-mel patches sit anywhere in ~[0, 4]
    calibrate_batchnorm(model, (levels + rng.gamma(2.0, 0.5, size=(64, frames, bands))).astype("float32"))
    untrained = registry.random_init_name(name)
    updates = {
        "name": untrained,
        "link": f"{entry['link'].rpartition('/')[0]}/{untrained}.pb",
        "description": f"Untrained: {name} at a random initialisation (seed {seed}), for pipeline checks and as a "
        f"baseline. The trained model would be: {entry['description']}",
        "dataset": {"name": "none: random initialisation, no training data", "citation": "", "size": "", "metrics": {}},
    }
    return export_model(model, entry, out_dir, updates, register=register, format=format)


def export_run(run_dir, out_dir=None, register=True, format="pb"):
    """Export a training run folder (see :mod:`musiczoo.zoo.run`): its trained model, with the run's metadata
    and the held-out results benchmarks recorded in it (:mod:`musiczoo.zoo.heldout`)."""
    run = load_run(run_dir)
    out_dir = out_dir or Path(run_dir) / "export"
    graph = export_model(run.model, run.entry, out_dir, run.metadata, register=register, format=format)
    for task_set, found in heldout.run_blocks(run_dir).items():
        heldout.record(graph, task_set, found)
    return graph
