"""Published MusiCNN and VGG taggers, imported from the ``musicnn`` wheel as zoo models.

The wheel (``pip install --no-deps musicnn``: it declares TensorFlow 1-era requirements) ships the
TensorFlow 1 checkpoints of the models Essentia publishes as ``msd-musicnn-1``, ``mtt-musicnn-1``,
``msd-vgg-1`` and ``mtt-vgg-1``. Its Python code needs TensorFlow 1 and is never run: a checkpoint
is restored through ``tf.compat.v1`` and frozen for inference (the training switch folded to False,
so batch norm uses its moving statistics and dropout is gone; the label placeholder dropped; a
dynamic batch of ``(batch, 187, 96)`` mel patches in ``model/Placeholder``), keeping the node names
of Essentia's graphs. The registry entries (``"kind": "pretrained"`` in ``models.json``) name the
checkpoint, its labels and the outputs to keep.
"""

import importlib
import importlib.metadata

import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_from_session_graph
from tensorflow.python.grappler import tf_optimizer
from tensorflow.python.util import deprecation

from musiczoo.zoo import registry
from musiczoo.zoo.export import metadata, strip_default_attributes, write_export
from musiczoo.zoo.wheel import checkpoint_folder

INPUT = "model/Placeholder"
TRAINING_SWITCH = "model/Placeholder_2"  # bool placeholder: batch norm and dropout in training mode
LICENSE_FILE = "LICENSE.md"
FOLDER = "pretrained"  # under registry.home(): where models are imported on first use


def checkpoints():
    """Checkpoint name -> registry name for every pretrained entry (``MSD_musicnn`` -> ``msd-musicnn``)."""
    return {entry["musiczoo"]["checkpoint"]: name for name, entry in registry.pretrained().items()}


def _pretrained_entry(name):
    entry = registry.get(name)
    if not registry.is_pretrained(entry):
        raise ValueError(f"{name} is not a pretrained model; pretrained: {', '.join(registry.pretrained())}")
    return entry


def checkpoint_dir(name):
    """Folder of the installed checkpoint of pretrained model ``name``; FileNotFoundError says how to install it."""
    spec = _pretrained_entry(name)["musiczoo"]
    try:
        return checkpoint_folder(spec["checkpoint"], spec["package"])
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{name} is imported from {error}") from None


def labels(name):
    """The tag names of ``name``'s outputs, in order, from the package's ``configuration.py`` (no TensorFlow)."""
    spec = _pretrained_entry(name)["musiczoo"]
    checkpoint_dir(name)  # installed, or a clear error
    return list(getattr(importlib.import_module(f"{spec['package']}.configuration"), spec["labels"]))


def restore(name):
    """The TF1 checkpoint of ``name`` restored in a ``tf.compat.v1.Session`` on a graph of its own.

    Feed ``model/Placeholder`` (mel patches) and ``model/Placeholder_2`` (``False``: inference).
    """
    folder = checkpoint_dir(name)
    meta_graph = tf.compat.v1.MetaGraphDef.FromString((folder / ".meta").read_bytes())
    for node in meta_graph.graph_def.node:
        node.attr.pop("_output_shapes", None)  # a gradient node's recorded shape contradicts its inputs
        if "seed2" in node.attr and not (node.attr["seed"].i or node.attr["seed2"].i):
            # dropout's random ops (never run at inference) get a fixed seed, so that the session also runs
            # in a process that trained first: the trainer enables op determinism, which refuses unseeded ops
            node.attr["seed2"].i = 1
    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph)
    with graph.as_default():
        tf.compat.v1.train.import_meta_graph(meta_graph, clear_devices=True).restore(session, f"{folder}/")
    return session


def _fold_training_switch(graph_def, outputs):
    """``graph_def`` with the training switch a constant False and its dead branches folded away (grappler)."""
    switch = next(node for node in graph_def.node if node.name == TRAINING_SWITCH)
    switch.op = "Const"
    switch.attr.clear()
    switch.attr["dtype"].type = tf.bool.as_datatype_enum
    switch.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(False))
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
        meta_graph = tf.compat.v1.train.export_meta_graph(graph=graph)
    meta_graph.collection_def["train_op"].node_list.value.extend(outputs)  # the nodes grappler must keep
    config = config_pb2.ConfigProto()  # loop: drops the dead Switch branches; dependency: the Identity chains
    config.graph_options.rewrite_options.optimizers.extend(["constfold", "loop", "dependency"])
    config.graph_options.rewrite_options.min_graph_nodes = -1
    return tf_optimizer.OptimizeGraph(config, meta_graph)


def freeze_checkpoint(session, outputs):
    """Frozen inference ``GraphDef`` of a restored checkpoint, holding only what ``outputs`` need."""
    with deprecation.silence():  # it calls TF1 graph utilities, which warn
        graph_def = convert_variables_to_constants_from_session_graph(session, session.graph.as_graph_def(), outputs)
    graph_def = _fold_training_switch(graph_def, outputs)
    strip_default_attributes(graph_def)
    return graph_def


def import_model(name, out_dir=None, register=True):
    """Import pretrained model ``name`` (``msd-musicnn``...): ``<name>.pb`` + ``<name>.json`` in ``out_dir``.

    ``out_dir`` defaults to ``registry.home()/pretrained``; the export is registered so that
    ``musiczoo extract NAME`` finds it. Returns the ``.pb`` path.
    """
    entry = _pretrained_entry(name)
    spec = entry["musiczoo"]
    outputs = [output["name"] for output in entry["schema"]["outputs"]]
    with restore(name) as session:
        patch = session.graph.get_tensor_by_name(f"{INPUT}:0").shape.as_list()[1:]
        if patch != entry["schema"]["inputs"][0]["shape"]:
            raise ValueError(
                f"{spec['checkpoint']} takes {patch} mel patches, but models.json declares "
                f"{entry['schema']['inputs'][0]['shape']}"
            )
        graph_def = freeze_checkpoint(session, outputs)
    notice = importlib.metadata.distribution(spec["package"]).read_text(LICENSE_FILE)
    meta = metadata(entry, {"classes": labels(name), "license": {"name": spec["license"], "text": notice}})
    return write_export(name, graph_def, meta, out_dir or registry.home() / FOLDER, register)


def import_musicnn(names="all", out_dir=None, register=True):
    """Import checkpoints of the musicnn wheel (``MSD_musicnn``, ``MTT_musicnn``, ``MSD_vgg``, ``MTT_vgg``
    or ``"all"``) as zoo models; return the ``.pb`` paths."""
    known = checkpoints()
    names = [names] if isinstance(names, str) else list(names)
    names = list(known) if "all" in names else names
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(f"no musicnn checkpoint named {', '.join(unknown)}; expected {', '.join(known)} or all")
    return [import_model(known[name], out_dir, register) for name in names]
