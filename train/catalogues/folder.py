"""The user's own audio: a folder of files, described by their embedded tags and/or a metadata table.

Every audio file of the folder (searched recursively) is a track. Its embedded tags
(:func:`~musiczoo.train.catalogues.audio_info.audio_tags`: ID3, Vorbis comments, MP4) give
``artists``, ``releases`` (the album name), ``year``, ``tags`` (``genre---NAME``) and ``title``,
so a tagged library needs no table; a file whose tags cannot be read has unknown metadata.

The table (CSV) has one row per track: ``path`` (or ``file``), relative to the audio folder or
absolute, and any of ``track_id``, ``title``, ``year`` and the list columns ``artists``,
``releases``, ``labels``, ``playlists``, ``tags`` with values separated by ``|``
(``Nina Simone|Duke Ellington``). A column of the table wins over the tags for every row (an
empty cell is unknown). The track id defaults to the path relative to the folder; a year that is
not an integer is left unknown.

Excluded: rows whose file is missing or unusable (the reason from decoding), repeated track ids,
and, with a table, audio files of the folder that it does not list.
"""

from pathlib import Path

import pandas as pd

from musiczoo.extractors.audio import find_audio
from musiczoo.train.catalogues.audio_info import audio_tags, checked_duration, path_track_id
from musiczoo.train.catalogues.schema import LIST_COLUMNS, write_build

SEPARATOR = "|"
TABLE_COLUMNS = ("track_id", "title", "year", *LIST_COLUMNS)


def _parse(column, text):
    """A table cell as its catalogue value: a list, an integer year or None, a string or None."""
    text = text.strip()
    if column in LIST_COLUMNS:
        return [item.strip() for item in text.split(SEPARATOR) if item.strip()]
    if column == "year":
        return int(text) if text.lstrip("-").isdigit() else None
    return text or None


def _read_table(folder, metadata):
    """``(path, values)`` per track: the path joined to ``folder`` and the table's catalogue columns
    parsed (every audio file of ``folder``, with no values, without a table)."""
    if metadata is None:
        return [(path, {}) for path in find_audio([folder])]
    table = pd.read_csv(metadata, dtype=str, keep_default_na=False)
    column = "path" if "path" in table.columns else "file"
    if column not in table.columns:
        raise ValueError(f"{metadata}: needs a 'path' or 'file' column (has {list(table.columns)})")
    given = [name for name in TABLE_COLUMNS if name in table.columns]
    return [
        (folder / row[column], {name: _parse(name, row[name]) for name in given}) for row in table.to_dict("records")
    ]


def build_folder(folder, out_dir, metadata=None, tags=True):
    """Catalogue the audio of ``folder`` from its embedded tags (unless not ``tags``) and the metadata
    table ``metadata`` (CSV, see the module doc).

    Returns ``(catalogue, excluded)``, also written to ``out_dir``.
    """
    folder = Path(folder).resolve()
    rows, excluded, seen = [], [], set()
    for path, values in _read_table(folder, metadata):
        path = str(path.resolve())
        track_id = values.pop("track_id", None) or path_track_id(path, folder)
        if track_id in seen:
            excluded.append((track_id, path, "repeated track id"))
            continue
        seen.add(track_id)
        duration, reason = checked_duration(path)
        if reason:
            excluded.append((track_id, path, reason))
        else:
            rows.append(
                {"track_id": track_id, "path": path, "duration": duration} | (audio_tags(path) if tags else {}) | values
            )
    listed = {row[1] for row in excluded} | {row["path"] for row in rows}
    excluded += [
        (None, str(path.resolve()), "not in the metadata table")
        for path in find_audio([folder])
        if str(path.resolve()) not in listed
    ]
    return write_build(out_dir, rows, excluded)
