"""Era labels (music-era paper): one class per year, or per decade, over a catalogue's range of years.

Class names are the years (``"1727"``) or the decades' first years (``"1720"``) as strings, the
Essentia metadata's ``classes``; a class's value (its number) is what ACC_x measures distances in.
"""

import sys

import numpy as np

UNITS = {"year": 1, "decade": 10}


def _unit(unit):
    if unit not in UNITS:
        raise ValueError(f"unknown era unit {unit!r}: year or decade")
    return UNITS[unit]


def _rows(frame, mask):
    bad = frame.track_id[mask].tolist()
    return f"{len(bad)} track(s), e.g. {bad[:5]}"


def _years(catalogue):
    """The catalogue's years, those it has; none at all is an error naming its rows."""
    if "year" not in catalogue or catalogue.year.isna().all():
        raise ValueError(
            f"era labels need a `year` for each track; the catalogue has none ({len(catalogue)} tracks, "
            f"e.g. {catalogue.track_id.tolist()[:5]})"
        )
    return catalogue.year.dropna()


def dated(catalogue):
    """The catalogue's tracks with a year (a note names those left out); a catalogue without any is an error."""
    _years(catalogue)
    undated = catalogue.year.isna().to_numpy()
    if undated.any():
        print(f"note: no year for {_rows(catalogue, undated)}: left out of the era classes", file=sys.stderr)
    return catalogue[~undated]


def era_values(years, unit="year"):
    """Years as era class values: the year itself, or the decade's first year."""
    step = _unit(unit)
    return np.asarray(years, np.int64) // step * step


def era_classes(catalogue, unit="year", years=None):
    """One class name per year (or decade) from the catalogue's first year to its last, or over ``years``
    (``[first, last]``: the same classes for catalogues of different ranges, e.g. a training and a test split)."""
    values = era_values(years if years else _years(catalogue), unit)
    return [str(v) for v in range(int(values.min()), int(values.max()) + 1, _unit(unit))]


def class_indices(catalogue, classes, unit="year"):
    """Each track's class index in ``classes``; a missing year or one outside the range is an error naming the rows."""
    missing = catalogue.year.isna().to_numpy()
    if missing.any():
        raise ValueError(f"no year for {_rows(catalogue, missing)}")
    values = era_values(catalogue.year, unit)
    first, step = int(classes[0]), _unit(unit)
    index = (values - first) // step
    outside = (index < 0) | (index >= len(classes))
    if outside.any():
        raise ValueError(
            f"year outside the classes {classes[0]}-{classes[-1]} ({unit}s) for {_rows(catalogue, outside)}: "
            f"years {sorted(set(catalogue.year[outside].astype(int)))[:5]}"
        )
    return index
