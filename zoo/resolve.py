"""A model as a command names it: a ``.pb`` or ``.onnx`` path, or a registry name, to its graph file and metadata.

The registry knows the models; this module finds their files: a path as given, an export registered in
``$MUSICZOO_HOME``, or a pretrained model imported there on first use (:mod:`musiczoo.zoo.pretrained`).
"""

import json
from pathlib import Path

from musiczoo.zoo import registry
from musiczoo.zoo.official import OFFICIAL_METADATA

GRAPH_SUFFIXES = (".pb", ".onnx")  # the model files a path may name: a frozen graph, or an ONNX-only export's


def is_model_file(model):
    """Whether ``model`` names a model file (by its suffix) rather than a registry name."""
    return Path(model).suffix in GRAPH_SUFFIXES


def resolve_graph(model):
    """The ``.pb`` (or ``.onnx``) of a model given as a path or as a registered (exported) name.

    A pretrained model not imported yet is imported into :func:`registry.home` on first use.
    """
    path = Path(model)
    if is_model_file(path):
        if not path.is_file():
            raise FileNotFoundError(f"graph not found: {path}")
        return path
    known = registry.exports()
    if model in known and Path(known[model]).exists():
        return Path(known[model])
    if registry.is_pretrained(registry.get(model)):  # an unknown name raises with suggestions
        from musiczoo.zoo.pretrained import import_model  # imports TensorFlow

        return import_model(model)
    raise FileNotFoundError(
        f"{model} is defined but not exported on this machine: train it and `musiczoo export RUN_DIR`, "
        f"or `musiczoo export --random-init {model}`"
    )


def read_metadata(path):
    """The Essentia metadata of a model file: the ``.json`` beside it, else an official model's (by file stem)."""
    path = Path(path)
    meta_path = path.with_suffix(".json")
    if meta_path.is_file():
        return json.loads(meta_path.read_text())
    if path.stem in OFFICIAL_METADATA:
        return OFFICIAL_METADATA[path.stem]
    if path.suffix == ".onnx":
        raise FileNotFoundError(
            f"{path.name} needs its metadata {meta_path.name} beside it: `musiczoo export RUN_DIR|MODEL.pb "
            "--format onnx` writes both"
        )
    raise FileNotFoundError(f"{path.name} needs its Essentia metadata beside it: {meta_path}")
