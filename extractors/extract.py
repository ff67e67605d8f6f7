"""Batch extraction: one ``.npy`` of embeddings per audio file, and one summary table per output folder.

Files are embedded in worker processes that hold the model (:func:`musiczoo.isolation.run_isolated`):
a file that crashes or hangs its decoder or the model costs that file (an error row), the worker is
replaced and the batch goes on. Each ``.npy`` is written atomically as soon as it is computed and
each row as soon as it is known (:mod:`.summary`), so a run killed at any moment loses only the
files it was on. A re-run into the same folder is incremental: a file whose row is ``ok`` for its
present size and modification time is not computed again, a changed one is, and a file that turned
bad or vanished loses its ``.npy`` and says why in its row. ``shard=(i, n)`` takes the i-th of n
parts of the inputs (by a hash of each file's path under the inputs), so n machines or processes
split one catalogue into one folder.
"""

import dataclasses
import functools
import hashlib
import json
import multiprocessing
import os
import warnings
from pathlib import Path

import numpy as np

from musiczoo.extractors import summary as outputs
from musiczoo.extractors.audio import SAMPLE_RATE, AudioError, TruncatedAudioWarning, load_audio, scan_audio
from musiczoo.extractors.graph import Graph, model_backend, predictor
from musiczoo.extractors.summary import PROVENANCE_FILE, SUMMARY_COLUMNS, SUMMARY_FILE  # noqa: F401 (imported from here)
from musiczoo.fileio import atomic_save_npy, sha256
from musiczoo.isolation import run_isolated
from musiczoo.progress import progress_bar
from musiczoo.runtime import quiet_tensorflow_start
from musiczoo.zoo.resolve import resolve_graph

FILE_TIMEOUT = 1800.0  # seconds a worker may spend on one file before it is given up (and the worker replaced)
FILE_ERRORS = (AudioError, RuntimeError, ValueError)  # what an unusable file raises, decoded or embedded: its row
MODEL_ERRORS = (OSError, RuntimeError, ValueError, ImportError)  # what a model that cannot be set up raises


def load_graph(model, metadata=None):
    """A :class:`Graph` from a registry name or a ``.pb`` (metadata beside it or given)."""
    if metadata is not None and not isinstance(metadata, dict):
        metadata = json.loads(Path(metadata).read_text())
    return Graph(resolve_graph(model), metadata)


def parse_shard(shard):
    """``"I/N"`` or ``(I, N)`` -> ``(I, N)``: the I-th of N shards, 1 <= I <= N."""
    try:
        index, count = map(int, shard.split("/") if isinstance(shard, str) else shard)
    except ValueError:
        raise ValueError(f"a shard is I/N, the I-th of N (e.g. 2/8), not {shard!r}") from None
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: I must be 1 to N")
    return index, count


def in_shard(key, shard):
    """Whether the file at ``key`` (its path under the inputs) is in ``shard``: the same on every run and machine."""
    if shard is None:
        return True
    index, count = shard
    digest = hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()
    return int(digest[:12], 16) % count == index - 1


def _absolute(path):
    """``path`` made absolute, symbolic links kept (a link farm keeps its names)."""
    return Path(os.path.abspath(path))


def _input_root(inputs):
    """The folder that the output tree mirrors: the common folder of the inputs (of a file: its folder)."""
    return Path(os.path.commonpath([str(p if p.is_dir() else p.parent) for p in map(_absolute, inputs)]))


def embed_audio(audio, graph, predict):
    """``predict(audio)`` of 16 kHz audio; AudioError when it is shorter than one of ``graph``'s patches
    (:meth:`Graph.patches_for`: for EfficientNet, one patch and a frame)."""
    embeddings = predict(audio) if graph.patches_for(audio.size) else []
    if not len(embeddings):
        seconds = (graph.patch_size * graph.mel.hop_size) / SAMPLE_RATE
        raise AudioError(
            f"too short: {audio.size / SAMPLE_RATE:.2f} s is less than one {graph.patch_size}-frame patch "
            f"(~{seconds:.2f} s)"
        )
    return np.asarray(embeddings)


def embed_file(path, graph, predict):
    """``(duration_s, predict(audio))`` of one file; AudioError when it is unusable or shorter than a patch."""
    audio = load_audio(path, SAMPLE_RATE)
    return audio.size / SAMPLE_RATE, embed_audio(audio, graph, predict)


@functools.cache
def _model(graph_path, metadata, node, batch_size, backend):
    """A worker's graph and predictor, loaded on its first file (``metadata``: JSON text)."""
    if multiprocessing.parent_process():  # a worker: its TensorFlow start-up lines are noise in the batch's output
        quiet_tensorflow_start()
    graph = Graph(graph_path, json.loads(metadata))
    return graph, predictor(graph, node, batch_size, backend)


def decode(source):
    """``(audio, warning)``: ``source`` at 16 kHz and what its decoding warned (truncation), or None.

    Raises AudioError for an unusable file.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TruncatedAudioWarning)
        audio = load_audio(source, SAMPLE_RATE)
    notes = [str(w.message) for w in caught if issubclass(w.category, TruncatedAudioWarning)]
    return audio, "; ".join(notes) or None


def save_embeddings(target, duration, embeddings, warning=None):
    """Write ``embeddings`` to the ``.npy`` ``target``; returns the fields of the file's ``ok`` row."""
    atomic_save_npy(target, embeddings)
    patches, dim = embeddings.shape
    return {"status": "ok", "duration_s": duration, "patches": patches, "dim": dim, "warning": warning}


def model_failure(error):
    """What embedding returns when the model cannot be set up: ``{"fatal": reason}``; the run stops on it."""
    return {"fatal": str(error).strip().splitlines()[0]}


def embed_job(model, source, target):
    """One file, in a worker: embed ``source`` into the ``.npy`` ``target``; returns the fields of its row.

    ``model``: ``(graph path, metadata JSON, node, batch size, back-end)``. An unusable file gives
    status ``error``; a model that cannot be set up gives :func:`model_failure`.
    """
    try:
        graph, predict = _model(*model)
    except MODEL_ERRORS as error:
        return model_failure(error)
    try:
        audio, warning = decode(source)
        embeddings = embed_audio(audio, graph, predict)
    except FILE_ERRORS as error:
        return {"status": "error", "error": str(error)}
    return save_embeddings(target, audio.size / SAMPLE_RATE, embeddings, warning)


def _known_rows(out_dir):
    """The folder's rows by path, empty cells as None."""
    table = outputs.read_table(out_dir)
    return {row["path"]: row for row in table.astype(object).where(table.notna(), None).to_dict("records")}


def _current(row, stat, out_dir):
    """Whether ``row`` (a file's recorded row) still stands for the file as ``stat`` finds it."""
    return (
        row is not None
        and row["status"] == "ok"
        and (row["size"], row["mtime_ns"]) == (stat.st_size, stat.st_mtime_ns)
        and (out_dir / row["embeddings"]).is_file()
    )


def _output_name(key, path, taken):
    """``KEY.npy`` (the input tree mirrored), with a hash of ``path`` when another file has that name."""
    name = f"{key}.npy"
    if name in taken:
        name = f"{key}.{hashlib.sha1(str(path).encode('utf-8', 'surrogateescape')).hexdigest()[:8]}.npy"
    taken.add(name)
    return name


@dataclasses.dataclass
class _Plan:
    """What a run does in its folder: its files (as found), those to embed ``(path, .npy name, stat)``, the
    rows of those that are current, entries to skip ``(path, reason)``, recorded files gone from its
    folders, and every recorded row by path."""

    files: list
    jobs: list
    current: list
    skipped: list
    gone: list
    known: dict


def _plan(inputs, files, skipped, out_dir, shard):
    """The :class:`_Plan` of ``shard`` of the ``files`` and ``skipped`` entries found in ``inputs``."""
    root = _input_root(inputs)

    def mine(path):
        return in_shard(Path(path).relative_to(root).as_posix(), shard)

    known = _known_rows(out_dir)
    taken = {row["embeddings"] for row in known.values() if row["embeddings"]}
    files = [path for path in map(_absolute, files) if mine(path)]
    skipped = [(path, reason) for path, reason in ((_absolute(p), r) for p, r in skipped) if mine(path)]
    seen = {str(path) for path in files} | {str(path) for path, _ in skipped}
    folders = tuple(f"{_absolute(item)}{os.sep}" for item in inputs if Path(item).is_dir())
    gone = [
        path
        for path, row in known.items()
        if path.startswith(folders) and path not in seen and row["status"] != "missing" and mine(path)
    ]
    jobs, current = [], []
    for path in files:
        stat, earlier = path.stat(), known.get(str(path))
        if _current(earlier, stat, out_dir):
            current.append(earlier)
        else:
            key = path.relative_to(root).as_posix()
            name = earlier["embeddings"] if earlier and earlier["embeddings"] else _output_name(key, path, taken)
            jobs.append((path, name, stat))
    return _Plan(files, jobs, current, skipped, gone, known)


class _Rows:
    """The rows a run decides, each added to its part as it comes."""

    def __init__(self, out_dir, part, known):
        self.out_dir, self.part, self.known = out_dir, part, known
        self.rows = []

    def add(self, path, status, stat=None, **fields):
        """A row for ``path``; the ``.npy`` of its earlier row goes when the file is no longer ``ok``."""
        row = {"path": str(path), "status": status, "patches": 0} | fields
        if stat is not None:
            row |= {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        earlier = self.known.get(str(path))
        if status != "ok" and earlier and earlier["embeddings"]:
            (self.out_dir / earlier["embeddings"]).unlink(missing_ok=True)
        self.part.add(row)
        self.rows.append(row)


def extract(
    model,
    inputs,
    out_dir,
    node=None,
    batch_size=64,
    backend=None,
    metadata=None,
    progress=True,
    shard=None,
    workers=1,
    timeout=FILE_TIMEOUT,
    runner=None,
):
    """Embed every audio file of ``inputs`` (files or folders, recursive) into ``out_dir``.

    ``node`` is the graph node to read: an output purpose (``embeddings``, the default, or
    ``predictions``) or a node name. ``shard``: ``(i, n)`` or ``"i/n"``, the part of the inputs
    this run takes; ``workers``: processes embedding files side by side (0: this process, without
    the isolation); ``timeout``: seconds a worker may spend on one file. ``runner``: another engine for the
    files, ``runner(jobs)`` yielding ``(job, ok, outcome)`` for each ``(job, arguments)`` as
    :func:`~musiczoo.isolation.run_isolated` does for :func:`embed_job` (e.g. a Ray cluster's,
    :func:`musiczoo.extractors.ray_engine.extract_on_ray`); ``workers`` and ``timeout`` are then unused.

    Returns this run's rows: its files (current ones included), the other entries of its folders
    (``skipped``) and the recorded files gone from them (``missing``), with status, duration, patch
    count, embedding size, ``.npy`` location, error, warning (e.g. truncated audio), and the
    source's size and mtime; ``.attrs["current"]`` counts the files that were current.
    ``out_dir/summary.csv`` holds the rows of every file ever given (merged from every run);
    ``out_dir/extract.json`` the model, graph (and its SHA-256), node and patching, which a later
    run into the folder must share (ValueError otherwise).
    """
    if workers < 0:
        raise ValueError(f"workers must be 0 (this process) or more, not {workers}")
    graph = load_graph(model, metadata)
    backend = model_backend(graph, backend)
    files, skipped = scan_audio(inputs)
    if not files:
        others = f": {len(skipped)} other entries, e.g. {skipped[0][0]} ({skipped[0][1]})" if skipped else ""
        raise ValueError(f"no audio files in {', '.join(map(str, inputs))}{others}")
    out_dir, shard = Path(out_dir), shard and parse_shard(shard)
    provenance = {
        "model": graph.name,
        "graph": str(graph.path.resolve()),
        "graph_sha256": sha256(graph.path),
        "node": graph.node_name(node),
        "backend": backend,
        "patch_size": graph.patch_size,
        "patch_hop_size": graph.patch_hop_size,
    }
    outputs.claim(out_dir, provenance)
    plan = _plan(inputs, files, skipped, out_dir, shard)
    model_args = (str(graph.path), json.dumps(graph.metadata), provenance["node"], batch_size, backend)
    jobs = [((path, name, stat), (model_args, str(path), str(out_dir / name))) for path, name, stat in plan.jobs]
    try:
        with outputs.Part(out_dir, f"shard-{shard[0]}-of-{shard[1]}." if shard else "") as part:
            recorded = _Rows(out_dir, part, plan.known)
            for path, reason in plan.skipped:
                recorded.add(path, "skipped", error=reason)
            for path in plan.gone:
                recorded.add(path, "missing", error="the file is gone from its folder")
            with progress_bar(total=len(jobs), desc=f"extract {graph.name}", unit="file", disable=not progress) as bar:
                if runner:
                    outcomes = runner(jobs)
                elif workers:
                    outcomes = run_isolated(embed_job, jobs, workers, timeout)
                else:
                    outcomes = ((job, True, embed_job(*arguments)) for job, arguments in jobs)
                for (path, name, stat), ok, outcome in outcomes:
                    if ok and "fatal" in outcome:
                        raise ValueError(f"{graph.name}: {outcome['fatal']}")
                    if not ok:
                        outcome = {"status": "error", "error": f"{outcome} (a crash or hang decoding or embedding it)"}
                    recorded.add(path, stat=stat, embeddings=name if outcome["status"] == "ok" else None, **outcome)
                    bar.update()
    finally:
        outputs.merge(out_dir)
    order = {str(path): index for index, path in enumerate(plan.files)}  # the files first, as found
    rows = sorted(plan.current + recorded.rows, key=lambda row: order.get(row["path"], len(order)))
    summary = outputs.summary_frame(rows)
    summary.attrs["current"] = len(plan.current)
    return summary
