"""The user's own audio, described by a metadata table.

The table (CSV) has one row per track: ``path`` (or ``file``), relative to the audio folder or
absolute, and any of ``track_id``, ``title``, ``year`` and the list columns ``artists``,
``releases``, ``labels``, ``playlists``, ``tags`` with values separated by ``|``
(``Nina Simone|Duke Ellington``). Without a table, every audio file of the folder (searched
recursively) is a track with unknown metadata. The track id defaults to the path relative to the
folder; a year that is not an integer is left unknown.

Excluded: rows whose file is missing or unusable (the reason from decoding), repeated track ids,
and audio files of the folder that the table does not list.
"""
from pathlib import Path

import pandas as pd

from musiczoo.extractors.audio import find_audio
from musiczoo.train.audio_info import checked_duration, path_track_id
from musiczoo.train.catalogue import LIST_COLUMNS, write_build

SEPARATOR = "|"


def _split(value):
    return [item.strip() for item in value.split(SEPARATOR) if item.strip()]


def _read_table(folder, metadata):
    """Metadata rows as dicts of strings, with ``path`` joined to ``folder``."""
    if metadata is None:
        return [{"path": path} for path in find_audio([folder])]
    table = pd.read_csv(metadata, dtype=str, keep_default_na=False)
    column = "path" if "path" in table.columns else "file"
    if column not in table.columns:
        raise ValueError(f"{metadata}: needs a 'path' or 'file' column (has {list(table.columns)})")
    rows = table.to_dict("records")
    for row in rows:
        row["path"] = folder / row.pop(column)
    return rows


def _catalogue_row(folder, entry):
    path = Path(entry["path"]).resolve()
    track_id = entry.get("track_id") or path_track_id(path, folder)
    year = entry.get("year", "").strip()
    return {"track_id": track_id, "path": str(path), "year": int(year) if year.lstrip("-").isdigit() else None,
            "title": entry.get("title") or None} | {name: _split(entry.get(name, "")) for name in LIST_COLUMNS}


def build_folder(folder, out_dir, metadata=None):
    """Catalogue the audio of ``folder`` with the metadata table ``metadata`` (CSV, see the module doc).

    Returns ``(catalogue, excluded)``, also written to ``out_dir``.
    """
    folder = Path(folder).resolve()
    rows, excluded, seen = [], [], set()
    for entry in _read_table(folder, metadata):
        row = _catalogue_row(folder, entry)
        if row["track_id"] in seen:
            excluded.append((row["track_id"], row["path"], "repeated track id"))
            continue
        seen.add(row["track_id"])
        duration, reason = checked_duration(row["path"])
        if reason:
            excluded.append((row["track_id"], row["path"], reason))
        else:
            rows.append(row | {"duration": duration})
    listed = {row[1] for row in excluded} | {row["path"] for row in rows}
    excluded += [(None, str(path.resolve()), "not in the metadata table")
                 for path in find_audio([folder]) if str(path.resolve()) not in listed]
    return write_build(out_dir, rows, excluded)
