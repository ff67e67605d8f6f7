"""Batch extraction: one ``.npy`` of embeddings per audio file, and a summary table.

A file that cannot be used (unreadable, empty, silent, shorter than one patch) gets its error
in the summary and the batch goes on; each good file's ``.npy`` is written (atomically) as soon
as it is computed, so nothing done is lost.
"""

import json
import os
from pathlib import Path

import pandas as pd

from musiczoo.extractors.audio import SAMPLE_RATE, AudioError, find_audio, load_audio
from musiczoo.extractors.graph import Graph, predictor
from musiczoo.fileio import atomic_save_npy, atomic_write
from musiczoo.progress import progress_bar
from musiczoo.zoo.registry import resolve_graph

SUMMARY_FILE = "summary.csv"
PROVENANCE_FILE = "extract.json"  # which model and node made the embeddings
SUMMARY_COLUMNS = ["path", "status", "duration_s", "patches", "dim", "embeddings", "error"]


def load_graph(model, metadata=None):
    """A :class:`Graph` from a registry name or a ``.pb`` (metadata beside it or given)."""
    if metadata is not None and not isinstance(metadata, dict):
        metadata = json.loads(Path(metadata).read_text())
    return Graph(resolve_graph(model), metadata)


def _relative_names(files):
    """Output names that keep the input tree and never collide (``a/x.ogg`` -> ``a/x.ogg.npy``)."""
    parents = [str(f.resolve().parent) for f in files]
    root = Path(os.path.commonpath(parents)) if parents else Path()
    return [f.resolve().relative_to(root).with_name(f.name + ".npy") for f in files]


def embed_audio(audio, graph, predict):
    """``predict(audio)`` of 16 kHz audio; AudioError when it is shorter than one of ``graph``'s patches."""
    if graph.patches_for(audio.size) == 0:
        seconds = (graph.patch_size * graph.mel.hop_size) / SAMPLE_RATE
        raise AudioError(
            f"too short: {audio.size / SAMPLE_RATE:.2f} s is less than one {graph.patch_size}-frame patch "
            f"(~{seconds:.2f} s)"
        )
    return predict(audio)


def embed_file(path, graph, predict):
    """``(duration_s, predict(audio))`` of one file; AudioError when it is unusable or shorter than a patch."""
    audio = load_audio(path, SAMPLE_RATE)
    return audio.size / SAMPLE_RATE, embed_audio(audio, graph, predict)


def extract(model, inputs, out_dir, node=None, batch_size=64, backend="essentia", metadata=None, progress=True):
    """Embed every audio file of ``inputs`` (files or folders, recursive) into ``out_dir``.

    ``node`` is the graph node to read: an output purpose (``embeddings``, the default, or
    ``predictions``) or a node name. Returns the summary (also written to ``out_dir/summary.csv``):
    one row per file with its status, duration, patch count, embedding size and ``.npy`` location,
    or its error; ``out_dir/extract.json`` records the model, graph, node and patching.
    """
    graph = load_graph(model, metadata)
    files = find_audio(inputs)
    out_dir = Path(out_dir)
    predict = predictor(graph, node, batch_size, backend)
    rows = []
    for path, name in progress_bar(
        list(zip(files, _relative_names(files))), desc=f"extract {graph.name}", unit="file", disable=not progress
    ):
        row = {
            "path": str(path.resolve()),
            "status": "ok",
            "duration_s": None,
            "patches": 0,
            "dim": None,
            "embeddings": None,
            "error": None,
        }
        try:
            row["duration_s"], embeddings = embed_file(path, graph, predict)
            atomic_save_npy(out_dir / name, embeddings)
            row.update(patches=embeddings.shape[0], dim=embeddings.shape[1], embeddings=str(name))
        except (AudioError, RuntimeError, ValueError) as error:
            row.update(status="error", error=str(error))
        rows.append(row)
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    atomic_write(out_dir / SUMMARY_FILE, summary.to_csv(index=False).encode())
    provenance = {
        "model": graph.name,
        "graph": str(graph.path.resolve()),
        "node": graph.node_name(node),
        "backend": backend,
        "patch_size": graph.patch_size,
        "patch_hop_size": graph.patch_hop_size,
    }
    atomic_write(out_dir / PROVENANCE_FILE, json.dumps(provenance, indent=2).encode())
    return summary
