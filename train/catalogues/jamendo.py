"""MTG-Jamendo: its TSV files (``TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS...``, one tag per
extra tab-separated field, like ``genre---rock``) and the audio under ``audio_root``.

A track listed in several TSVs (the genre, instrument, mood/theme and top-50 splits) is one row
whose tags are the union. Artist and album ids become ``artists`` and ``releases``; ``duration``
is the TSV's. The audio is ``audio_root/PATH``, or the low-quality download's ``.low.mp3`` beside
it. A track whose audio is in neither place is excluded ("audio missing"), or kept with the
expected path when ``allow_missing_audio`` (metadata-only work).
"""

import csv
import os
from pathlib import Path

from musiczoo.train.catalogues.schema import write_build

HEADER = ("TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION")
TAG_SEPARATOR = "---"  # category---value


def read_jamendo_tsv(path):
    """Rows of one MTG-Jamendo TSV as ``(track, artist, album, path, duration, tags)`` (the one reader
    of the format: the catalogue builder and the downstream ground truth both use it)."""
    with open(path, newline="", encoding="utf-8") as file:
        lines = csv.reader(file, delimiter="\t")
        header = next(lines, ())
        if tuple(header[:5]) != HEADER:
            raise ValueError(
                f"{path} is not an MTG-Jamendo TSV: its header should start with {' '.join(HEADER)} "
                f"(found {' '.join(header[:5])})"
            )
        for fields in filter(None, lines):
            yield fields[0], fields[1], fields[2], fields[3], float(fields[4]), fields[5:]


def _audio_path(audio_root, relative):
    """The audio of a TSV ``PATH``: the file, or its ``.low.mp3`` version, or None."""
    path = os.path.join(audio_root, relative)
    low = path.removesuffix(".mp3") + ".low.mp3"
    return next((candidate for candidate in (path, low) if os.path.isfile(candidate)), None)


def build_jamendo(tsvs, out_dir, audio_root, allow_missing_audio=False):
    """Catalogue the tracks of MTG-Jamendo TSV files ``tsvs`` (see the module doc).

    Returns ``(catalogue, excluded)``, also written to ``out_dir``.
    """
    audio_root = str(Path(audio_root).resolve())
    tracks = {}
    for tsv in tsvs:
        name = Path(tsv).name
        for track, artist, album, relative, duration, tags in read_jamendo_tsv(tsv):
            if track not in tracks:
                tracks[track] = {
                    "track_id": f"jamendo/{track}",
                    "path": relative,
                    "duration": duration,
                    "artists": [artist],
                    "releases": [album],
                    "tags": [],
                    "source": f"{name}:{track}",
                }
            tracks[track]["tags"] = list(dict.fromkeys(tracks[track]["tags"] + tags))
    rows, excluded = [], []
    for row in tracks.values():
        found = _audio_path(audio_root, row["path"])
        if found is None and not allow_missing_audio:
            excluded.append((row["track_id"], os.path.join(audio_root, row["path"]), "audio missing"))
        else:
            rows.append(row | {"path": found or os.path.join(audio_root, row["path"])})
    return write_build(out_dir, rows, excluded)
