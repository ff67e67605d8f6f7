"""Ground truth: MTG-Jamendo split TSVs, ``id,label[,label...]`` tables, catalogue columns.

Every reader returns a :class:`GroundTruth`: one row per track id, one column of labels per
task (a list of labels for multi-label sources, one label for single-label ones), and the
audio path of each id where the source has one (Jamendo's ``PATH``). Tracks without a label
are dropped with a warning; a source with no label at all is an error.
"""

import csv
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from musiczoo.train.catalogues.jamendo import HEADER as JAMENDO_HEADER, TAG_SEPARATOR, read_jamendo_tsv


LABELS = "labels"
ID_HEADERS = {"id", "track_id", "track"}


@dataclass
class GroundTruth:
    """``labels``: DataFrame indexed by track id (str), one column per task; ``paths``: id -> audio path."""

    labels: pd.DataFrame
    paths: pd.Series = None
    source: str = ""

    @property
    def tasks(self):
        return list(self.labels.columns)

    def __len__(self):
        return len(self.labels)


def _has_label(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        return len(value) > 0
    return not pd.isna(value) and value != ""


def _finish(labels, source, paths=None):
    """Drop unlabelled tracks (warning), refuse an empty label set."""
    labels.index = labels.index.astype(str)
    labels.index.name = "id"
    if labels.index.has_duplicates:
        raise ValueError(f"{source}: duplicate ids, e.g. {labels.index[labels.index.duplicated()][0]!r}")
    labelled = labels.apply(lambda column: column.map(_has_label)).all(axis=1)
    if not labelled.any():
        raise ValueError(f"{source}: the label set is empty (no track has a label in {', '.join(labels.columns)})")
    if not labelled.all():
        dropped = labels.index[~labelled]
        warnings.warn(
            f"{source}: {len(dropped)} of {len(labels)} tracks have no label and are dropped "
            f"(e.g. {', '.join(dropped[:3])})",
            stacklevel=3,
        )
    labels = labels[labelled]
    return GroundTruth(labels, None if paths is None else paths.loc[labels.index], source)


def read_jamendo(path, category=None, strip_category=False):
    """An MTG-Jamendo split TSV: ``TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS...`` (tabs).

    Tags look like ``genre---rock``. ``category`` keeps one kind (``genre``, ``instrument``,
    ``mood/theme``) of a mixed file such as top50; ``strip_category`` drops the ``genre---``
    prefix from the class names.
    """
    path = Path(path)
    rows = list(read_jamendo_tsv(path))
    prefix = f"{category}{TAG_SEPARATOR}" if category else ""
    tags = [[t for t in row[5] if t.startswith(prefix)] for row in rows]
    if strip_category:
        tags = [[t.split(TAG_SEPARATOR, 1)[-1] for t in track] for track in tags]
    ids = [row[0] for row in rows]
    labels = pd.DataFrame({LABELS: tags}, index=ids)
    return _finish(labels, path.name, pd.Series([row[3] for row in rows], index=labels.index.astype(str)))


def read_label_table(path):
    """A table ``id,label[,label...]`` (comma or tab separated; a header row ``id,...`` is skipped).

    Rows with the same id add labels to it. Single-label files give one label per track
    (multi-class), files with several labels on a row give label lists (multi-label).
    """
    path = Path(path)
    text = path.read_text()
    delimiter = "\t" if path.suffix == ".tsv" or "\t" in text.partition("\n")[0] else ","
    rows = [[cell.strip() for cell in row] for row in csv.reader(text.splitlines(), delimiter=delimiter) if row]
    if rows and rows[0][0].lower() in ID_HEADERS:
        rows = rows[1:]
    if not rows:
        raise ValueError(f"{path}: no rows (expected id{delimiter}label[{delimiter}label...])")
    labels = {}
    for row in rows:
        labels.setdefault(row[0], []).extend(cell for cell in row[1:] if cell)
    single = all(len(values) <= 1 for values in labels.values())
    column = [(values[0] if values else None) if single else values for values in labels.values()]
    return _finish(pd.DataFrame({LABELS: column}, index=list(labels)), path.name)


def read_catalogue_labels(path, columns, id_column="track_id"):
    """Columns of a Parquet catalogue as tasks: list-valued (``tags``, ``artists``) or scalar (``year``).

    The catalogue's ``path`` column (audio files), if any, lets ids match embedded files by path.
    """
    path = Path(path)
    columns = [columns] if isinstance(columns, str) else list(columns)
    if not columns:
        raise ValueError(f"{path}: name the catalogue column(s) to use as labels")
    table = pd.read_parquet(path)
    if id_column in table.columns:
        table = table.set_index(id_column)
    elif table.index.name != id_column:
        raise ValueError(f"{path}: no id column {id_column!r}; columns: {', '.join(map(str, table.columns))}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing)}; columns: {', '.join(map(str, table.columns))}")
    labels = table[columns].apply(lambda column: column.map(lambda v: list(v) if isinstance(v, np.ndarray) else v))
    paths = table["path"].set_axis(labels.index.astype(str)) if "path" in table.columns else None
    truth = _finish(labels, path.name, paths)
    for name, column in truth.labels.items():  # years as plain ints (read as floats or Int64 beside gaps)
        if pd.api.types.is_numeric_dtype(column) and (column == column.round()).all():
            truth.labels[name] = column.astype(int)
    return truth


def read_ground_truth(path, columns=None, id_column="track_id", category=None, strip_category=False):
    """Any supported source, by its form: Parquet catalogue, Jamendo TSV, or an id/label table."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ground truth not found: {path}")
    if path.suffix == ".parquet":
        return read_catalogue_labels(path, columns, id_column)
    if columns:
        raise ValueError(f"{path.name}: columns apply to a Parquet catalogue only")
    with path.open() as file:
        header = file.readline()
    if header.startswith("\t".join(JAMENDO_HEADER)):
        return read_jamendo(path, category, strip_category)
    if category:
        raise ValueError(f"{path.name}: category applies to MTG-Jamendo TSVs only")
    return read_label_table(path)
