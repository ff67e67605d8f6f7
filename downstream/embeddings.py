"""Labelled embeddings: ``musiczoo extract``'s ``summary.csv`` matched to ground-truth ids.

An id matches an embedded file by its stem (``id`` = ``song`` for ``.../song.mp3``) or, for
sources with paths (MTG-Jamendo ``PATH``, a catalogue's ``path``), by the path's last components
(up to three) without the extension: ``14/214.mp3`` matches ``/data/audio/14/214.mp3`` and
Jamendo's low-quality ``/data/audio/14/214.low.mp3``.
"""

import warnings
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np
import pandas as pd

from musiczoo.downstream.stack import concatenate
from musiczoo.extractors.extract import SUMMARY_COLUMNS, SUMMARY_FILE
from musiczoo.progress import progress_bar

MATCHES = ("auto", "stem", "path")
PATH_DEPTH = 3  # path components compared at most: absolute and relative paths of a file still match


def read_summary(path):
    """The files ``musiczoo extract`` embedded (status ok), ``embeddings`` as absolute ``.npy`` paths."""
    path = Path(path)
    path = path / SUMMARY_FILE if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"embedding summary not found: {path} (the summary.csv of `musiczoo extract`)")
    summary = pd.read_csv(path)
    missing = set(SUMMARY_COLUMNS) - set(summary.columns)
    if missing:
        raise ValueError(f"{path} is not a `musiczoo extract` summary: no column {', '.join(sorted(missing))}")
    ok = summary[summary.status == "ok"].copy()
    ok["embeddings"] = [str(path.parent / name) for name in ok.embeddings]
    return ok


def _parts(path):
    """Path components without the root: ``/data/x.wav`` -> ``("data", "x.wav")``."""
    path = PurePath(path)
    return path.parts[1:] if path.anchor else path.parts


def _depth(path):
    return min(len(_parts(path)), PATH_DEPTH)


def _path_key(path, depth):
    parts = _parts(path)[-depth:]
    return "/".join((*parts[:-1], PurePath(parts[-1]).stem.removesuffix(".low")))


def match_embeddings(truth, summary, by="auto"):
    """``id -> .npy path`` for the ground-truth ids found in ``summary`` (ground-truth order)."""
    if by not in MATCHES:
        raise ValueError(f"match must be one of {MATCHES}, not {by!r}")
    by = ("path" if truth.paths is not None else "stem") if by == "auto" else by
    if by == "path":
        if truth.paths is None:
            raise ValueError(f"{truth.source} has no audio paths to match by; match by stem")
        keys = truth.paths.map(lambda p: _path_key(p, _depth(p)))
        pairs = sorted(
            {
                (_path_key(path, depth), npy)
                for depth in set(truth.paths.map(_depth))  # a file once a key
                for path, npy in zip(summary.path, summary.embeddings)
            }
        )
        files = pd.Series([npy for _, npy in pairs], index=[key for key, _ in pairs], dtype=object)
    else:
        keys = pd.Series(truth.labels.index, index=truth.labels.index)
        files = pd.Series(summary.embeddings.values, index=summary.path.map(lambda p: PurePath(p).stem))
    duplicated = files.index[files.index.duplicated()]
    if len(duplicated):
        raise ValueError(f"several embedded files match {duplicated[0]!r} by {by}: ids would be ambiguous")
    found = keys.map(files).dropna()
    if found.empty:
        raise ValueError(
            f"no track of {truth.source} matches an embedded file by {by} (ids like "
            f"{', '.join(keys.iloc[:3])}; files like {', '.join(files.index[:3])}); "
            f"try matching by {'stem' if by == 'path' else 'path'}"
        )
    return found


def load_embeddings(paths, progress=True, desc="load"):
    """The ``(patches, dim)`` arrays of ``.npy`` files; every file must have the same dim."""
    arrays = []
    for path in progress_bar(list(paths), desc=desc, unit="file", disable=not progress, leave=False):
        array = np.load(path)
        if array.ndim != 2 or len(array) == 0:
            raise ValueError(f"{path}: expected embeddings (patches, dim), got shape {array.shape}")
        if arrays and array.shape[1] != arrays[0].shape[1]:
            raise ValueError(
                f"{path}: dim {array.shape[1]}, but other files have {arrays[0].shape[1]} "
                "(embeddings of different models or nodes in one set?)"
            )
        arrays.append(array)
    return arrays


@dataclass
class LabelledSet:
    """Tracks with embeddings from one or several models and their labels (one column per task)."""

    ids: pd.Index
    embeddings: dict  # name -> list of (patches, dim) arrays, in ``ids`` order
    labels: pd.DataFrame

    def X(self, names=None, align="auto"):
        """Per-track inputs: one embedding set, or several concatenated (a stack)."""
        return concatenate([self.embeddings[name] for name in names or self.embeddings], align)

    def y(self, task=None):
        """Labels of one task (the only one by default), or ``{task: labels}`` with ``task="all"``."""
        if task == "all":
            return {name: list(column) for name, column in self.labels.items()}
        return list(self.labels[task or self.labels.columns[0]])


def load_labelled(truth, summaries, match="auto", progress=True):
    """The tracks of ``truth`` with embeddings in every summary (``{name: summary.csv}``).

    Ids without embeddings are left out with a warning naming them; none found is an error.
    """
    matched = {name: match_embeddings(truth, read_summary(path), match) for name, path in summaries.items()}
    ids = truth.labels.index
    for name, files in matched.items():
        missing = ids.difference(files.index, sort=False)
        if len(missing):
            warnings.warn(
                f"{truth.source}: {len(missing)} of {len(truth)} tracks have no embeddings in {name} "
                f"(e.g. {', '.join(missing[:3])}); they are left out",
                stacklevel=2,
            )
        ids = ids.intersection(files.index, sort=False)
    if ids.empty:
        raise ValueError(f"{truth.source}: no track has embeddings in every set ({', '.join(summaries)})")
    embeddings = {name: load_embeddings(files.loc[ids], progress, f"load {name}") for name, files in matched.items()}
    return LabelledSet(ids, embeddings, truth.labels.loc[ids])
