"""The catalogue's rows: every registry entry and every export registered here, as :class:`Model`, with what
each is (pretrained, trained, random-init, recipe, or a registered export whose files are gone) and, for a
recipe, the training configs and commands that would make it."""

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from musiczoo.extractors.graph import find_output
from musiczoo.zoo import registry
from musiczoo.zoo.families import FAMILIES
from musiczoo.zoo.resolve import read_metadata

STATUSES = ("pretrained", "trained", "random-init", "recipe", "metadata missing")
MODEL_FILES = (".pb", ".onnx", ".json")
FAMILY_OF_ALGORITHM = {family.algorithm: family.name for family in FAMILIES.values()}


@dataclass
class Model:
    """A row of the catalogue: a registry entry and/or a registered export."""

    name: str
    slug: str
    entry: dict | None  # the registry entry (for NAME-random-init: NAME's)
    graph: Path | None = None  # the registered export, when it and its metadata are readable
    metadata: dict | None = None
    note: str | None = None  # why a registered export is not usable

    @property
    def meta(self):
        """The metadata shown: the export's, else the registry's."""
        return self.metadata or (self.entry if self.name in registry.entries() else None)

    @property
    def status(self):
        dataset = (self.metadata or {}).get("dataset", {})
        if self.name.endswith("-random-init") or str(dataset.get("name", "")).startswith("none: random"):
            return "random-init"
        if self.entry and registry.is_pretrained(self.entry):
            return "pretrained"
        if self.metadata:
            return "trained"
        return "recipe" if self.name in registry.entries() else "metadata missing"

    @property
    def family(self):
        if self.meta:
            return FAMILY_OF_ALGORITHM.get(self.meta["inference"]["algorithm"], "–")
        return self.entry["musiczoo"]["family"] if self.entry else "–"

    @property
    def architecture(self):
        """The network: the entry's backbone (``vggish``, ``efficientnet_b0``...) or a pretrained architecture."""
        zoo = self.entry["musiczoo"] if self.entry else {}
        return (zoo.get("backbone") or {}).get("name") or zoo.get("architecture")

    @property
    def embedding_size(self):
        output = find_output(self.meta, "embeddings") if self.meta else None
        return output["shape"][-1] if output else "–"

    @property
    def recorded_benchmarks(self):
        """The ``benchmark`` block of the export's metadata: task set -> what ``musiczoo benchmark`` recorded."""
        blocks = (self.metadata or {}).get("benchmark")
        return blocks if isinstance(blocks, dict) else {}

    @property
    def metrics_source(self):
        """Whose numbers ``dataset.metrics`` are, where the metadata says (a pretrained import made before the
        registry said so: the registry's label)."""
        source = (self.meta or {}).get("dataset", {}).get("metrics_source")
        if not source and self.status == "pretrained":
            source = self.entry["dataset"].get("metrics_source")
        return source

    def files(self):
        """The model files of the export: ``.pb``, ``.onnx``, ``.json`` that exist."""
        return [p for p in (self.graph.with_suffix(s) for s in MODEL_FILES) if p.is_file()] if self.graph else []


def unique_slug(name, taken):
    """A file name for ``name``, unique (case-insensitively) among ``taken``, which it joins."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip(".") or "model"
    found, n = base, 2
    while found.lower() in taken:
        found, n = f"{base}-{n}", n + 1
    taken.add(found.lower())
    return found


def checked_metadata(graph):
    """The metadata of a registered export, or why it cannot be used."""
    if not graph.is_file():
        return None, f"registered export {graph} is missing: export it again"
    try:
        metadata = read_metadata(graph)
    except FileNotFoundError:
        return None, f"registered export {graph} has no metadata {graph.with_suffix('.json').name} beside it"
    except ValueError as error:
        return None, f"metadata of {graph} is not JSON ({error})"
    sound = isinstance(metadata, dict) and all(isinstance(metadata.get(k), dict) for k in ("schema", "dataset"))
    if not sound or "algorithm" not in metadata.get("inference", {}):
        return None, f"metadata of {graph} is not Essentia metadata (schema, dataset, inference.algorithm)"
    return metadata, None


def catalogue():
    """Every registry entry, then every registered export that is not a registry name, as :class:`Model` rows."""
    entries, exported, taken = registry.entries(), registry.exports(), set()
    others = sorted(name for name in exported if name not in entries)
    names = [n for name in entries for n in (name, registry.random_init_name(name)) if n in entries or n in others]
    names += [name for name in others if name not in names]  # each NAME-random-init after NAME, then the rest
    rows = []
    for name in names:
        base = name.removesuffix("-random-init")
        model = Model(name, unique_slug(name, taken), entries.get(name) or entries.get(base))
        if name in exported:
            metadata, model.note = checked_metadata(Path(exported[name]))
            if metadata:
                model.graph, model.metadata = Path(exported[name]), metadata
        rows.append(model)
    return rows


def objectives(found):
    """A run's objectives in a few words: ``loss on PAIRS pairs ×weight``, comma-separated."""
    return ", ".join(
        o.get("loss", "?")
        + (f" on {o['pairs']} pairs" if o.get("pairs") else "")
        + (f" ×{o['weight']}" if "weight" in o else "")
        for o in found
    )


def trained_on(model):
    """The training data in one line: the dataset, and the run's tracks, hours and objectives where recorded; a
    recipe says it is one (what it would train on), a pretrained model that its authors trained it."""
    if not model.meta:
        return "–"
    dataset = model.meta["dataset"]
    name = dataset.get("name") or "–"
    if model.status == "recipe":
        return f"recipe — not trained here (would train on: {name})"
    if model.status == "pretrained":
        return f"{name}, by its authors"
    training = dataset.get("training")
    if not training:
        return name
    return (
        f"{name}: {training.get('tracks', '?')} tracks, {training.get('hours', '?')} h; "
        f"{objectives(training.get('objectives', []))}"
    )


def configs(name):
    """``(config path relative to the checkout, the title of its leading comment)`` of every ``configs/*.yaml``
    that trains ``name``: the first comment line and the lines that continue it (lower case first)."""
    folder = registry.registry_path().parent / "configs"
    found = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
        text = path.read_text()
        if (yaml.safe_load(text) or {}).get("model") == name:
            title = []
            for line in text.splitlines():
                line = line.lstrip("# ")
                if not text.startswith("#") or (title and not line[:1].islower()):
                    break
                title.append(line)
            found.append((f"configs/{path.name}", re.split(r"(?<=\.)\s", " ".join(title))[0]))
    return found


def python_only(entry):
    """Whether a registry entry takes more than audio (AudioArt-MMC: artist text), so has no Essentia graph."""
    return entry["musiczoo"].get("head", {}).get("type") == "audio_art"


def training_commands(entry):
    """``(configs, commands)`` that train a recipe and export (or, Python-only, predict with) each run."""
    name = entry["name"]
    found = configs(name) or [("CONFIG.yaml", f"a training config whose model: is {name}")]
    then = (
        'musiczoo era predict audio.wav --run {run} --artist-text "..."'
        if python_only(entry)
        else "musiczoo export {run}"
    )
    commands = "\n".join(
        f"musiczoo train {path} -o {run}\n{then.format(run=run)}"
        for path, run in ((path, f"runs/{Path(path).stem}") for path, _ in found)
    )
    return found, commands
