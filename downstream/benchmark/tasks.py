"""Benchmark tasks: a catalogue, the audio it points at, and what to measure on it.

A tasks file (YAML; relative paths are relative to it)::

    name: gamemusic                         # what a model's metadata calls these results (default: the file's stem)
    catalogue: ../../../shared/data/gamemusic/catalogue.csv  # a table with a `path` column (.csv or .parquet)
    audio: ../../../shared/data/gamemusic   # where relative paths start (default: the catalogue's folder)
    seconds: 60                             # audio per track, from its middle (default: the whole track)
    exclude: '\\.opus$'                      # paths left out (a regular expression; optional)
    tasks:
      artist:
        kind: classification                # frozen-embedding MLP, track-level averaging
        label: artist                       # a column; `artists[0]`: the first item of a list column;
                                            # a list column as is: multi-label
        group: package                      # no value of it in both train and test (optional)
        min_count: 3                        # classes with fewer tracks are left out (default 2;
                                            # similarity: 1, a lone track is a distractor)
        test_size: 0.3
      artist-similarity:
        kind: similarity                    # triplets and nearest neighbour by cosine
        label: artist
      era:
        kind: classification
        label: year
        bins: {Baroque: 1750, Classical: 1820, Romantic: 1910, Modern: 2100}  # upper bounds, exclusive

Every task is scored on the tracks that have its label. Splits are seeded: seed ``s`` of a
benchmark is split ``s`` of every task.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit

from musiczoo.config import read_config
from musiczoo.train.catalogues.schema import read_catalogue

KINDS = ("classification", "similarity")
KEYS = ("name", "catalogue", "audio", "seconds", "exclude", "tasks")
LABEL = re.compile(r"^(?P<column>[^\[\]]+?)(?:\[(?P<index>-?\d+)\])?$")


class TaskError(ValueError):
    """A task that cannot be scored on the tracks at hand (one class, no test track...)."""


def _is_list(value):
    return isinstance(value, (list, tuple, np.ndarray))


def _keep(values, mask):
    """``values`` (object dtype) with None where ``mask`` is False."""
    return pd.Series([v if m else None for v, m in zip(values, mask)], index=values.index, dtype=object)


def _known(value):
    if _is_list(value):
        return len(value) > 0
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and value is not pd.NA


@dataclass
class Task:
    """One thing to measure: a ``kind`` (:data:`KINDS`) on a ``label`` expression of the catalogue."""

    name: str
    kind: str
    label: str
    group: str = None
    bins: dict = None
    min_count: int = None  # None: 2 for classification, 1 for similarity
    test_size: float = 0.3
    triplets: int = 1000

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name}: kind must be one of {KINDS}, not {self.kind!r}")
        if self.min_count is None:
            self.min_count = 2 if self.kind == "classification" else 1
        for expression in filter(None, (self.label, self.group)):
            if not LABEL.match(expression):
                raise ValueError(f"task {self.name}: {expression!r} is not a column or column[index]")

    def _values(self, catalogue, expression):
        match = LABEL.match(expression)
        column, index = match["column"], match["index"]
        if column not in catalogue.columns:
            raise TaskError(f"the catalogue has no column {column!r} (it has {', '.join(catalogue.columns)})")
        values = catalogue[column]
        if index is not None:
            position = int(index)
            values = values.map(lambda v: v[position] if _is_list(v) and -len(v) <= position < len(v) else None)
        return values

    def labels(self, catalogue):
        """The label of every track (a string, or a list of strings for multi-label), None when unknown."""
        values = self._values(catalogue, self.label)
        if self.bins:
            edges = sorted(self.bins.items(), key=lambda item: item[1])
            numbers = pd.to_numeric(values, errors="coerce").astype(float)  # Int64 <NA> -> NaN
            values = numbers.map(
                lambda y: next((name for name, upper in edges if y < upper), None) if not np.isnan(y) else None
            )
        values = values.map(lambda v: [str(x) for x in v] if _is_list(v) else (str(v) if _known(v) else None))
        if self.kind == "similarity" and values.map(_is_list).any():
            raise TaskError(
                f"{self.label!r} is a list column: similarity needs one label per track (e.g. {self.label}[0])"
            )
        return self._frequent(_keep(values, values.map(_known)))

    def _frequent(self, values):
        """``values`` without the classes of fewer than ``min_count`` tracks."""
        flat = pd.Series([x for v in values.dropna() for x in (v if _is_list(v) else [v])], dtype=object)
        keep = set(flat.value_counts()[lambda counts: counts >= self.min_count].index)
        if _is_list(next(iter(values.dropna()), None)):
            values = values.map(lambda v: [x for x in v if x in keep] if _is_list(v) else None)
            return _keep(values, values.map(_known))
        return _keep(values, values.isin(keep))

    def check(self, labels):
        """Raise :class:`TaskError` unless ``labels`` give two classes (and, for similarity, a pair)."""
        counts = pd.Series([x for v in labels.dropna() for x in (v if _is_list(v) else [v])]).value_counts()
        if len(counts) < 2:
            raise TaskError(f"{self.label!r} has fewer than two classes with {self.min_count}+ tracks")
        if self.kind == "similarity" and counts.max() < 2:
            raise TaskError(f"no two tracks share a {self.label!r}: no triplet has a positive")

    def groups(self, catalogue):
        return None if self.group is None else self._values(catalogue, self.group).map(str)

    def split(self, labels, groups, seed):
        """``(train, test)`` positions into ``labels`` (known labels only) for seed ``seed``."""
        known = np.flatnonzero(labels.notna().to_numpy())
        single = [None if _is_list(v) else v for v in labels.iloc[known]]
        self.check(labels)
        if groups is not None:
            splitter = GroupShuffleSplit(1, test_size=self.test_size, random_state=seed)
            train, test = next(splitter.split(known, groups=groups.iloc[known].to_numpy()))
        elif None not in single and min(pd.Series(single).value_counts()) >= 2:
            splitter = StratifiedShuffleSplit(1, test_size=self.test_size, random_state=seed)
            train, test = next(splitter.split(known, single))
        else:
            train, test = next(ShuffleSplit(1, test_size=self.test_size, random_state=seed).split(known))
        train, test = known[train], known[test]
        seen = {x for v in labels.iloc[train] for x in (v if _is_list(v) else [v])}
        test = np.array(
            [i for i in test if (set(labels.iloc[i]) if _is_list(labels.iloc[i]) else {labels.iloc[i]}) <= seen],
            dtype=int,
        )
        if len(test) == 0:
            raise TaskError(f"split {seed} leaves no test track with a class seen in training")
        return train, test


@dataclass
class TaskSet:
    """The tracks (``catalogue`` with absolute ``path``), the audio per track and the tasks."""

    catalogue: pd.DataFrame
    tasks: list
    seconds: float = None
    source: str = None
    excluded: list = field(default_factory=list)  # (path, reason)
    name: str = "tasks"  # the results' name in a model's metadata (musiczoo.zoo.heldout)


def read_table(path):
    """A catalogue as pandas: a ``musiczoo data build`` Parquet (:func:`read_catalogue`) or a CSV / TSV."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"catalogue not found: {path}")
    if path.suffix == ".parquet":
        return read_catalogue(path)
    return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")


def read_tasks(spec):
    """A :class:`TaskSet` from a tasks file (YAML path) or the same mapping."""
    source = None if isinstance(spec, dict) else str(spec)
    if source:
        spec = read_config(source, keys=KEYS, paths=("catalogue", "audio"))
    unknown = set(spec) - set(KEYS)
    if unknown:
        raise ValueError(f"unknown keys in the tasks file: {', '.join(sorted(unknown))}")
    if "catalogue" not in spec or not spec.get("tasks"):
        raise ValueError("a tasks file needs `catalogue` and at least one entry under `tasks`")
    catalogue_path = Path(spec["catalogue"])
    catalogue = read_table(catalogue_path)
    if "path" not in catalogue.columns:
        raise ValueError(f"{catalogue_path} has no `path` column")
    root = Path(spec["audio"]) if spec.get("audio") else catalogue_path.parent
    catalogue["path"] = [str((root / p).resolve()) for p in catalogue.path]
    excluded = []
    if spec.get("exclude"):
        left_out = catalogue.path.str.contains(spec["exclude"], regex=True)
        excluded = [(p, f"matches exclude {spec['exclude']!r}") for p in catalogue.path[left_out]]
        catalogue = catalogue[~left_out]
    tasks = [Task(name, **options) for name, options in spec["tasks"].items()]
    name = spec.get("name") or (Path(source).stem if source else "tasks")
    return TaskSet(catalogue.reset_index(drop=True), tasks, spec.get("seconds"), source, excluded, name)
