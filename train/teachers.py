"""A teacher's per-patch outputs over a feature store, computed once and cached beside it (the ``distill`` objective).

The teacher is any exported or pretrained model on the store's mels (``msd-musicnn``, ``msd-vgg``...). Its
outputs are taken on a grid: row ``g`` of a track is the teacher's output for its patch centred on frame
``g * hop`` (moved inside the track at its ends), so a student patch of any length reads the row nearest its
centre (:func:`patch_row`). Cached as ``STORE/teachers/<teacher>-<output>-hop<hop>/<track>.npy`` (float16), one
file per track written as soon as it is computed: an interrupted computation resumes.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from musiczoo.fileio import atomic_save_npy, atomic_write, sha256
from musiczoo.progress import progress_bar

FOLDER = "teachers"
BATCH = 256  # teacher patches per forward pass


def patch_row(grid, offset, size, hop):
    """The row of ``grid`` (one per ``hop`` frames) nearest the centre of the ``size``-frame patch at ``offset``."""
    return grid[min(round((offset + size / 2) / hop), len(grid) - 1)]


def _centred_patches(mel, size, hop):
    """``(rows, size, bands)``: the patch centred on every ``hop``-th frame, moved inside the track at its ends."""
    frames = len(mel)
    if frames < size:
        mel = np.pad(mel, ((0, size - frames), (0, 0)))
    starts = np.clip(np.arange(0, frames, hop) - size // 2, 0, max(frames - size, 0))
    return np.stack([mel[start : start + size] for start in starts])


def _file_name(track_id):
    return hashlib.sha256(track_id.encode()).hexdigest()[:24] + ".npy"


def teacher_outputs(store, teacher, output="embeddings", hop=32, progress=True):
    """``{track id: (rows, dim) float16}``: ``teacher``'s ``output`` on the grid of every track of ``store``.

    Computes the tracks not cached yet. The teacher must take the store's mels (its front-end): a ValueError
    says which it takes otherwise.
    """
    from musiczoo.extractors.graph import Graph, graph_function
    from musiczoo.zoo.resolve import resolve_graph

    graph = Graph(resolve_graph(teacher))
    if graph.mel.name != store.meta["frontend"]:
        raise ValueError(
            f"teacher {teacher} takes {graph.mel.name} mels; {store.folder} holds {store.meta['frontend']} ones: "
            f"build a store with --frontend {graph.mel.name}"
        )
    folder = Path(store.folder) / FOLDER / f"{graph.name}-{output}-hop{hop}"
    record = {"teacher": graph.name, "graph_sha256": sha256(graph.path), "output": output, "hop": hop}
    _claim(folder, record)
    run = None
    missing = [t for t in store.index.track_id if not (folder / _file_name(t)).is_file()]
    with progress_bar(total=len(missing), desc=f"teacher {graph.name}", unit="track", disable=not progress) as bar:
        for track_id in missing:
            run = run or graph_function(graph, output)
            patches = _centred_patches(store.mel(track_id), graph.patch_size, hop)
            rows = [np.asarray(run(patches[i : i + BATCH])) for i in range(0, len(patches), BATCH)]
            atomic_save_npy(folder / _file_name(track_id), np.concatenate(rows).astype(np.float16))
            bar.update()
    return {t: np.load(folder / _file_name(t)) for t in store.index.track_id}


def _claim(folder, record):
    """Write the cache's record, or check that an existing cache holds the same teacher graph."""
    path = folder / "teacher.json"
    if path.is_file() and json.loads(path.read_text()) != record:
        raise ValueError(f"{folder} holds another teacher graph's outputs: remove it to compute them again")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(record, indent=2).encode())
