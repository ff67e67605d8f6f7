"""What a benchmark embeds with: models from any source, the two baselines, and the embedding cache.

A model is given as one of:

- ``mel-stats``: mean and standard deviation of the 96-band log-mel over the track (no model);
- ``random-init`` / ``random-init:NAME``: the registry model ``NAME`` untrained (seeded weights,
  batch norm calibrated), one graph per benchmark seed; without ``NAME``, the architecture of
  the first training run or zoo model named beside it (else the EfficientNet);
- a training run folder (``run.json`` + weights; exported once, beside the cache);
- an exported ``.pb`` (its ``.json`` beside it), a registry name or a pretrained import
  (``msd-musicnn``); every graph runs through Essentia's own wrapper algorithm;
- ``A,B,C``: several of those, one per training seed: benchmark seed ``i`` scores the ``i``-th
  (cycling), so the row's interval spans training seeds as well as splits and probes.

``NAME=MODEL`` gives a model its row name. Embeddings are cached as ``.npy`` under
``cache/<graph sha256>/`` per audio file (its path, size and modification time) and crop,
so a model already benchmarked on a file is never run on it again.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musiczoo.extractors.extract import embed_audio
from musiczoo.extractors.graph import DEFAULT_BACKEND, Graph, model_backend, predictor
from musiczoo.extractors.mel import essentia_melspectrogram
from musiczoo.zoo.frontends import MUSICNN
from musiczoo.fileio import atomic_save_npy, sha256
from musiczoo.zoo.heldout import MEL_STATS, RANDOM_INIT, is_pretrained_import, is_zoo_model
from musiczoo.zoo.run import RUN_FILE, WEIGHTS_FILE, is_run, read_record

DEFAULT_ARCHITECTURE = "discogs_track_embeddings-effnet"


class MelStats:
    """The no-model baseline: ``(1, 2 * bands)`` mean and standard deviation of the log-mel."""

    key = hashlib.sha256(repr(MUSICNN).encode()).hexdigest()[:16]

    def __call__(self, audio):
        mel = essentia_melspectrogram(audio, MUSICNN)
        return np.concatenate([mel.mean(axis=0), mel.std(axis=0)])[None]


class GraphEmbedder:
    """A frozen graph's embeddings output on ``backend`` (Essentia's wrapper by default): ``audio -> (patches, dim)``.

    The cache key is the graph's hash, and the back-end's name beside it when that is not Essentia.
    """

    def __init__(self, path, backend=None):
        self.graph = Graph(path)
        self.backend = model_backend(self.graph, backend)
        self.key = sha256(self.graph.path)[:16] + ("" if self.backend == DEFAULT_BACKEND else f"-{self.backend}")
        self._predict = None

    def __call__(self, audio):
        self._predict = self._predict or predictor(self.graph, backend=self.backend)
        return np.asarray(embed_audio(audio, self.graph, self._predict))


BASELINE, PRETRAINED, TRAINED = "baseline", "pretrained", "trained"  # what a row is


@dataclass
class Model:
    """A row of the benchmark: its name and one embedder, or one per seed (``random-init``, ``A,B,C``).

    ``kind``: ``baseline`` (mel-stats, random-init), ``pretrained`` (an import) or ``trained``;
    ``sources``: the zoo graph files and run folders it came from, where its held-out results are recorded.
    """

    name: str
    embedders: list
    spec: str
    kind: str = TRAINED
    sources: list = field(default_factory=list)

    def embedder(self, seed):
        return self.embedders[seed % len(self.embedders)]


def _architecture(specs):
    """``(registry name, backbone overrides)`` of the first run folder or zoo model in ``specs``."""
    from musiczoo.zoo import registry

    for spec in specs:
        path = spec.rpartition("=")[2].split(",")[0]
        if is_run(path):
            record = read_record(path)
            return record["model"], record.get("backbone", {})
        if path in registry.models():
            return path, {}
    return DEFAULT_ARCHITECTURE, {}


def _exported_run(run_dir, work):
    """The graph of a training run, exported once into ``work`` (again when the run changes)."""
    from musiczoo.zoo.export import export_run

    run_dir = Path(run_dir).resolve()
    weights = [run_dir / WEIGHTS_FILE, run_dir / RUN_FILE]  # not heldout.json, which a benchmark writes
    digest = hashlib.sha256("".join(f"{p.name}{p.stat().st_size}{p.stat().st_mtime_ns}" for p in weights).encode())
    out = Path(work) / "runs" / f"{run_dir.name}-{digest.hexdigest()[:12]}"
    found = sorted(out.glob("*.pb")) if out.is_dir() else []
    return found[0] if found else export_run(run_dir, out, register=False)


def _random_init(name, overrides, seeds, work):
    from musiczoo.zoo.export import export_random_init

    tag = "-".join(f"{k}{v}" for k, v in sorted(overrides.items()))
    graphs = []
    for seed in range(seeds):
        out = Path(work) / RANDOM_INIT / f"{name}{'-' + tag if tag else ''}" / f"seed{seed}"
        found = sorted(out.glob("*.pb")) if out.is_dir() else []
        graphs.append(found[0] if found else export_random_init(name, out, seed=seed, register=False, **overrides))
    return graphs


def resolve_model(spec, specs, seeds, work, backend=None):
    """The :class:`Model` for one ``[NAME=]MODEL`` string; ``specs``: all of them (for ``random-init``)."""
    from musiczoo.zoo.resolve import read_metadata, resolve_graph

    label, _, source = spec.rpartition("=")
    if "," in source:
        parts = [resolve_model(part, specs, seeds, work, backend) for part in source.split(",")]
        if any(len(part.embedders) > 1 or isinstance(part.embedders[0], MelStats) for part in parts):
            raise ValueError(f"{spec}: a list of training seeds takes runs, graphs or registry names, one model each")
        kinds = {part.kind for part in parts}
        kind = kinds.pop() if len(kinds) == 1 else TRAINED
        sources = [s for part in parts for s in part.sources]
        return Model(label or parts[0].name, [part.embedders[0] for part in parts], spec, kind, sources)
    if source == MEL_STATS:
        return Model(label or MEL_STATS, [MelStats()], spec, BASELINE)
    if source == RANDOM_INIT or source.startswith(RANDOM_INIT + ":"):
        name = source.partition(":")[2]
        name, overrides = (name, {}) if name else _architecture([s for s in specs if s != spec])
        graphs = _random_init(name, overrides, seeds, work)
        return Model(label or RANDOM_INIT, [GraphEmbedder(g, backend) for g in graphs], spec, BASELINE)
    if is_run(source):
        name, embedder = label or Path(source).resolve().name, GraphEmbedder(_exported_run(source, work), backend)
        return Model(name, [embedder], spec, TRAINED, [Path(source)])
    path = resolve_graph(source)
    embedder, meta = GraphEmbedder(path, backend), read_metadata(path)
    kind = PRETRAINED if is_pretrained_import(meta) else TRAINED
    return Model(label or Path(source).stem, [embedder], spec, kind, [path] if is_zoo_model(meta) else [])


def audio_key(path, seconds):
    """The cache name of a file's embeddings: its path, size, modification time and crop."""
    stat = Path(path).stat()
    return hashlib.sha256(f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{seconds}".encode()).hexdigest()[
        :24
    ]


class EmbeddingCache:
    """``(patches, dim)`` arrays on disk, one folder per embedder key."""

    def __init__(self, root):
        self.root = Path(root)

    def path(self, embedder, key):
        return self.root / embedder.key / f"{key}.npy"

    def get(self, embedder, key):
        path = self.path(embedder, key)
        return np.load(path) if path.is_file() else None

    def put(self, embedder, key, embeddings):
        atomic_save_npy(self.path(embedder, key), embeddings)
