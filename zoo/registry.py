"""The model registry: ``models.json`` defines every zoo model, in Essentia's metadata schema.

Each entry is the Essentia metadata of the model plus a ``musiczoo`` block: family, backbone,
head and objective for a model the zoo trains, or ``"kind": "pretrained"`` and the checkpoint to
import for a published model. Exported graphs are recorded in a user registry (``$MUSICZOO_HOME``,
default ``~/.musiczoo``); :mod:`musiczoo.zoo.resolve` finds a model's files from its name.
"""

import difflib
import functools
import json
import os
from pathlib import Path

from musiczoo.fileio import atomic_write
from musiczoo.zoo.families import FAMILIES

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]
METADATA_FIELDS = (
    "name",
    "type",
    "link",
    "version",
    "description",
    "author",
    "email",
    "release_date",
    "framework",
    "framework_version",
    "classes",
    "model_types",
    "dataset",
    "schema",
    "citation",
    "inference",
)
PRETRAINED_KEYS = ("architecture", "package", "checkpoint", "labels", "license", "release_date_source")
AUTHORS = "authors"  # how a pretrained entry's dataset.metrics_source begins: the numbers are its authors', not ours


def registry_path():
    """``models.json``: beside the sources in a checkout, inside the package when installed."""
    for candidate in (_PACKAGE_ROOT / "models.json", _PACKAGE_ROOT / "musiczoo" / "models.json"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"models.json not found under {_PACKAGE_ROOT}")


@functools.cache
def entries():
    """Every registry entry, by name: the models the zoo trains, then the pretrained ones."""
    return {entry["name"]: entry for entry in json.loads(registry_path().read_text())}


def is_pretrained(entry):
    """Whether an entry is a published model imported from a checkpoint (nothing to train or build)."""
    return entry["musiczoo"].get("kind") == "pretrained"


def models():
    """The entries the zoo trains (backbone, head, objective), by name."""
    return {name: entry for name, entry in entries().items() if not is_pretrained(entry)}


def pretrained():
    """The pretrained entries, by name."""
    return {name: entry for name, entry in entries().items() if is_pretrained(entry)}


def get(name):
    """The registry entry ``name``; a KeyError suggests close names."""
    try:
        return entries()[name]
    except KeyError:
        close = difflib.get_close_matches(name, entries(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `musiczoo models list`"
        raise KeyError(f"no model named {name!r} in the registry{hint}") from None


def validate(entry):
    """Problems with one entry (an empty list when it is sound)."""
    problems = [f"missing field {field!r}" for field in METADATA_FIELDS if field not in entry]
    spec = entry.get("musiczoo", {})
    family = FAMILIES.get(spec.get("family"))
    if family is None:
        return problems + [f"unknown family {spec.get('family')!r}"]
    inference = entry.get("inference", {})
    if inference.get("algorithm") != family.algorithm:
        problems.append(f"inference.algorithm should be {family.algorithm}")
    for key in ("patch_size", "patch_hop_size"):
        if not isinstance(inference.get(key), int) or inference[key] <= 0:
            problems.append(f"inference.{key} must be a positive integer")
    schema = entry.get("schema", {})
    if [i["name"] for i in schema.get("inputs", [])] != [family.input]:
        problems.append(f"schema input must be {family.input}")
    purposes = {o.get("output_purpose"): o["name"] for o in schema.get("outputs", [])}
    if is_pretrained(entry):  # a published graph keeps its own output names
        problems += [f"pretrained entries need musiczoo.{key}" for key in PRETRAINED_KEYS if key not in spec]
        if not entry.get("release_date"):
            problems.append("pretrained entries need the authors' release_date (musiczoo.release_date_source: whence)")
        dataset = entry.get("dataset", {})
        if dataset.get("metrics") and not str(dataset.get("metrics_source", "")).startswith(AUTHORS):
            problems.append(f"a pretrained entry's dataset.metrics need dataset.metrics_source '{AUTHORS}: ...'")
        problems += [
            f"an output must have output_purpose {purpose}"
            for purpose in ("predictions", "embeddings")
            if purpose not in purposes
        ]
        return problems
    if purposes.get("embeddings") != family.embeddings:
        problems.append(f"embeddings output must be {family.embeddings}")
    backbone = spec.get("backbone", {})
    if backbone.get("frames") != inference.get("patch_size"):
        problems.append("backbone frames must equal inference.patch_size")
    shapes = ([None, backbone.get("bands")], [backbone.get("frames"), backbone.get("bands")])
    if schema.get("inputs") and schema["inputs"][0].get("shape") not in shapes:
        problems.append("schema input shape must be [frames or null (any length), bands]")
    return problems


def takes_any_length(entry):
    """Whether the entry's graph takes patches of any length: its schema input shape is ``[null, bands]``.

    Backbones with global pooling export so; the trained length stays ``inference.patch_size``.
    """
    return entry["schema"]["inputs"][0]["shape"][0] is None


def tasks(entry):
    """The tasks a model trains: one head each (the pair kinds of a multi-task model)."""
    pairs = entry["musiczoo"].get("pairs", [])
    return tuple(pairs) if len(pairs) > 1 else ("main",)


def build(entry, head=None, **backbone_overrides):
    """A fresh (randomly initialised) Keras model for a registry entry or name.

    ``head`` updates the entry's head config (e.g. ``{"classes": 50}``); other keyword
    arguments override the backbone's (``width``, ``blocks``...).
    """
    from musiczoo.zoo.backbones import BACKBONES
    from musiczoo.zoo.heads import build_model

    entry = get(entry) if isinstance(entry, str) else entry
    if is_pretrained(entry):
        raise ValueError(
            f"{entry['name']} is a pretrained model: nothing to build or train; `musiczoo import` writes its graph"
        )
    spec = entry["musiczoo"]
    args = {k: v for k, v in spec["backbone"].items() if k != "name"} | backbone_overrides
    backbone = BACKBONES[spec["backbone"]["name"]](**args)
    return build_model(backbone, spec["head"] | (head or {}), entry["name"].replace("-", "_"), tasks(entry))


def random_init_name(name):
    """What an untrained export of model ``name`` is called: never the registry name, which stands for the trained
    model."""
    return f"{name}-random-init"


def home():
    """The user's musiczoo folder (``$MUSICZOO_HOME`` or ``~/.musiczoo``)."""
    return Path(os.environ.get("MUSICZOO_HOME", Path.home() / ".musiczoo"))


def _exports_file():
    return home() / "exports.json"


def exports():
    """Exported graphs known to this user: name -> path of the ``.pb``."""
    path = _exports_file()
    return json.loads(path.read_text()) if path.exists() else {}


def register_export(name, graph_path):
    """Record where the graph of model ``name`` was exported (atomically)."""
    known = exports() | {name: str(Path(graph_path).resolve())}
    atomic_write(_exports_file(), json.dumps(known, indent=2, sort_keys=True).encode())
