"""The catalogue: one row per track, the table every metadata-driven training step reads.

Schema (Parquet, :data:`SCHEMA`):

| column | type | meaning |
|---|---|---|
| `track_id` | str, unique | stable id, `SOURCE/...` for built-in sources (`music21/bach/bwv66.6`) |
| `path` | str | absolute path of the audio file |
| `duration` | float | seconds of audio; NaN when unknown |
| `artists` | list<str> | artist, composer or performer names; `[]` when unknown (as for every list) |
| `releases` | list<str> | ids of the releases / works the track belongs to |
| `labels` | list<str> | record labels, or label-like collections |
| `playlists` | list<str> | ids of playlists / sessions: tracks played together |
| `tags` | list<str> | free tags, `category---value` where a category is known (`genre---rock`) |
| `year` | int, nullable | year of the work or release |
| `title` | str, optional | human-readable title |
| `source` | str, optional | the original item the row comes from (score, MIDI file, TSV row, release) |

Two tracks are associated (for contrastive pairs) when they share a value of a list column.
:func:`read_catalogue` returns pandas with python lists in the list columns and `year` as Int64.

A build writes a folder: `catalogue.parquet`, `excluded.csv` (`track_id, path, reason`: every
input item left out and why: bad input never stops a build) and, for builders that render
audio, `audio/`. :func:`write_build` writes both tables, atomically.
"""

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from musiczoo.fileio import atomic_write

CATALOGUE_FILE = "catalogue.parquet"
EXCLUDED_FILE = "excluded.csv"
AUDIO_DIR = "audio"

LIST_COLUMNS = ("artists", "releases", "labels", "playlists", "tags")
OPTIONAL_COLUMNS = ("title", "source")
SCHEMA = pa.schema(
    [
        pa.field("track_id", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("duration", pa.float64()),
    ]
    + [pa.field(name, pa.list_(pa.string())) for name in LIST_COLUMNS]
    + [pa.field("year", pa.int32())]
    + [pa.field(name, pa.string()) for name in OPTIONAL_COLUMNS]
)
COLUMNS = tuple(SCHEMA.names)
REQUIRED_COLUMNS = tuple(name for name in COLUMNS if name not in OPTIONAL_COLUMNS)
EXCLUDED_COLUMNS = ("track_id", "path", "reason")


class CatalogueError(ValueError):
    """A frame that does not follow the catalogue schema."""


def _is_missing(value):
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _bad_rows(frame, column, is_valid):
    """Track ids (first five) of the rows whose ``column`` value fails ``is_valid``."""
    bad = [track for track, value in zip(frame.track_id.tolist(), frame[column].tolist()) if not is_valid(value)]
    return f"{len(bad)} row(s), e.g. {bad[:5]}" if bad else None


def _is_string_list(value):
    return isinstance(value, (list, tuple, np.ndarray)) and all(isinstance(item, str) for item in value)


def _is_year(value):
    return (
        _is_missing(value)
        or (isinstance(value, (int, np.integer)) and not isinstance(value, bool))
        or (isinstance(value, (float, np.floating)) and float(value).is_integer())
    )


def _is_duration(value):
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and (math.isnan(value) or value >= 0)
    )


def validate(frame):
    """Raise :class:`CatalogueError` listing every way ``frame`` breaks the schema."""
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    unknown = [name for name in frame.columns if name not in COLUMNS]
    if missing or unknown:
        raise CatalogueError(f"catalogue columns: missing {missing}, unknown {unknown} (allowed: {list(COLUMNS)})")
    problems = []
    ids = frame.track_id
    if not all(isinstance(value, str) and value for value in ids.tolist()):
        problems.append("track_id: every row needs a non-empty string")
    elif ids.duplicated().any():
        problems.append(f"track_id: duplicated {sorted(set(ids[ids.duplicated()]))[:5]}")
    checks = {
        "path": lambda value: isinstance(value, str) and os.path.isabs(value),
        "duration": _is_duration,
        "year": _is_year,
    }
    checks |= {name: _is_string_list for name in LIST_COLUMNS}
    checks |= {
        name: lambda value: _is_missing(value) or isinstance(value, str)
        for name in OPTIONAL_COLUMNS
        if name in frame.columns
    }
    expected = {"path": "an absolute path string", "duration": "seconds >= 0 or NaN", "year": "an integer or null"} | {
        name: "a list of strings ([] when unknown)" for name in LIST_COLUMNS
    }
    for name, is_valid in checks.items():
        if bad := _bad_rows(frame, name, is_valid):
            problems.append(f"{name}: expected {expected.get(name, 'a string or null')}: {bad}")
    if problems:
        raise CatalogueError("invalid catalogue:\n  " + "\n  ".join(problems))


def catalogue_frame(rows):
    """A schema-ordered frame from row dicts; absent fields get their 'unknown' value."""
    columns = {name: [row.get(name) for row in rows] for name in COLUMNS}
    for name in LIST_COLUMNS:
        columns[name] = [[] if value is None else value for value in columns[name]]
    frame = pd.DataFrame(columns)
    frame["duration"] = frame.duration.astype(float)  # None -> NaN
    frame["year"] = frame.year.astype("Int64")
    return frame


def _to_table(frame):
    """The frame as an Arrow table of :data:`SCHEMA` (absent optional columns become nulls)."""
    columns = {name: frame[name].tolist() if name in frame.columns else [None] * len(frame) for name in COLUMNS}
    columns["year"] = [None if _is_missing(value) else int(value) for value in columns["year"]]
    columns["duration"] = [float(value) for value in columns["duration"]]
    for name in LIST_COLUMNS:
        columns[name] = [list(value) for value in columns[name]]
    for name in OPTIONAL_COLUMNS:
        columns[name] = [None if _is_missing(value) else value for value in columns[name]]
    return pa.table(columns, schema=SCHEMA)


def write_catalogue(frame, path):
    """Validate ``frame`` and write it as Parquet, atomically."""
    validate(frame)
    sink = pa.BufferOutputStream()
    pq.write_table(_to_table(frame), sink)
    atomic_write(path, sink.getvalue().to_pybytes())


def read_catalogue(path):
    """The catalogue at ``path`` as pandas: python lists in list columns, ``year`` as Int64."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"catalogue not found: {path} (`musiczoo data build ... -o DIR` writes one)")
    table = pq.read_table(path)
    frame = pd.DataFrame({name: table.column(name).to_pylist() for name in table.column_names})
    frame["year"] = frame.year.astype("Int64")
    validate(frame)
    return frame


def write_build(out_dir, rows, excluded):
    """Write ``OUT/catalogue.parquet`` and ``OUT/excluded.csv``; return both as frames."""
    out_dir = Path(out_dir)
    catalogue = catalogue_frame(rows)
    excluded = pd.DataFrame(excluded, columns=list(EXCLUDED_COLUMNS))
    write_catalogue(catalogue, out_dir / CATALOGUE_FILE)
    atomic_write(out_dir / EXCLUDED_FILE, excluded.to_csv(index=False).encode())
    return catalogue, excluded


def hold_out(frame, fraction, by=None, seed=0):
    """``(kept, held_out)`` rows of a catalogue: about ``fraction`` held out, seeded.

    ``by``: a list column whose first value keeps its tracks together (``releases``: no work on
    both sides), so that a model trained on ``kept`` never heard what it is evaluated on.
    """
    keys = frame[by].map(lambda v: v[0] if len(v) else None) if by else pd.Series(range(len(frame)), index=frame.index)
    keys = keys.where(keys.notna(), frame.track_id)
    groups = keys.unique()
    held = set(np.random.default_rng(seed).permutation(groups)[: round(fraction * len(groups))])
    mask = keys.isin(held).to_numpy()
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)


TRAIN_FILE, HELD_OUT_FILE = "train.parquet", "held_out.parquet"


def split_catalogue(path, out_dir, fraction=0.3, by=None, seed=0):
    """:func:`hold_out` of the catalogue at ``path`` into ``out_dir/train.parquet`` and ``held_out.parquet``."""
    kept, held = hold_out(read_catalogue(path), fraction, by=by, seed=seed)
    write_catalogue(kept, Path(out_dir) / TRAIN_FILE)
    write_catalogue(held, Path(out_dir) / HELD_OUT_FILE)
    return kept, held
