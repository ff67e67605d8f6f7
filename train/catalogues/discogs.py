"""Discogs: the user's audio matched to Discogs releases, described by the monthly XML dumps.

``match`` is a CSV with ``path`` (audio, relative to the CSV's folder or absolute) and
``release_id`` columns, and optionally ``track_position`` (``A1``, ``3``: the track on the
release) and ``track_id``. The dump folder holds ``discogs_YYYYMMDD_releases.xml[.gz]`` and,
optionally, ``..._masters.xml[.gz]`` (the latest of each is read).

Metadata is pooled over every release linked to a track: the matched release and every other
release of the same master (the versions of one record). So a track matched to one release gets
the artists and labels of all versions:

- artists: the matched track's own artists when the release credits them per track, plus the
  release artists of the pool (``Various`` left out).
- releases: the pooled release ids (``discogs/release/ID``).
- labels: the labels of the pool (``Not On Label ...`` left out).
- year: the master's year, else the earliest release year of the pool.
- tags: ``genre---NAME`` and ``style---NAME`` of the pool and master.

The dumps are streamed (``iterparse``, each element cleared once read): memory holds only the
matched and pooled releases. The releases dump is read once, and a second time when a matched
release has a master (its other versions can be anywhere in the file).

Excluded: rows whose audio is missing or unusable, whose release is not in the dump, or whose
``track_position`` is not on the release; repeated track ids.
"""

import gzip
from pathlib import Path
from xml.etree.ElementTree import iterparse

import pandas as pd

from musiczoo.train.catalogues.audio_info import checked_duration, path_track_id
from musiczoo.train.catalogues.schema import write_build

VARIOUS_ARTISTS = "194"  # Discogs' artist id of "Various" (compilations)
NO_LABEL = "Not On Label"  # Discogs' label names for self-released records start with this


def latest_dump(dump_dir, kind, required=True):
    """The newest ``discogs_*_{kind}.xml[.gz]`` of ``dump_dir`` (None when absent and not ``required``)."""
    dumps = sorted(Path(dump_dir).glob(f"discogs_*_{kind}.xml*"))
    if not dumps and required:
        raise FileNotFoundError(f"no discogs_*_{kind}.xml[.gz] in {dump_dir}")
    return dumps[-1] if dumps else None


def iter_elements(path, tag):
    """Stream the ``tag`` elements of a (gzipped) dump; each is cleared once the caller has it."""
    with gzip.open(path) if path.suffix == ".gz" else open(path, "rb") as file:
        events = iterparse(file, events=("start", "end"))
        _, root = next(events)
        for event, element in events:
            if event == "end" and element.tag == tag:
                yield element
                root.clear()  # drops the element and its finished siblings: memory stays flat


def _year(text):
    return int(text[:4]) if text and text[:4].isdigit() and int(text[:4]) > 0 else None


def _artists(parent):
    return [(artist.findtext("id"), artist.findtext("name")) for artist in parent.findall("artists/artist")]


def release_record(element, with_tracks):
    """The fields of a ``<release>`` that the catalogue pools (and its tracklist if ``with_tracks``)."""
    master = element.find("master_id")
    record = {
        "id": element.get("id"),
        "master": master.text if master is not None else None,
        "title": element.findtext("title"),
        "artists": _artists(element),
        "labels": [label.get("name") for label in element.findall("labels/label")],
        "genres": [g.text for g in element.findall("genres/genre")],
        "styles": [s.text for s in element.findall("styles/style")],
        "year": _year(element.findtext("released")),
    }
    if with_tracks:
        record["tracks"] = {
            track.findtext("position", "").strip(): (track.findtext("title"), _artists(track))
            for track in element.findall("tracklist/track")
        }
    return record


def read_releases(dump, release_ids):
    """Records of the releases ``release_ids`` (with tracklists) and of every other release of
    their masters, in at most two passes over the dump."""
    matched = {
        element.get("id"): release_record(element, True)
        for element in iter_elements(dump, "release")
        if element.get("id") in release_ids
    }
    masters = {record["master"] for record in matched.values() if record["master"]}
    pooled = {}
    if masters:
        for element in iter_elements(dump, "release"):
            master = element.findtext("master_id")
            if master in masters and element.get("id") not in matched:
                pooled[element.get("id")] = release_record(element, False)
    return matched, pooled


def read_masters(dump, master_ids):
    """``{master id: (year, genres, styles)}`` for ``master_ids``."""
    return {
        element.get("id"): (
            _year(element.findtext("year")),
            [g.text for g in element.findall("genres/genre")],
            [s.text for s in element.findall("styles/style")],
        )
        for element in iter_elements(dump, "master")
        if element.get("id") in master_ids
    }


def pooled_metadata(record, position, versions, master):
    """Catalogue fields of the track at ``position`` (or None) of release ``record``, pooled over
    the master's ``versions`` (records) and the ``master`` facts ``(year, genres, styles)`` or None."""
    pool = [record] + sorted(versions, key=lambda version: int(version["id"]))
    title, track_artists = record["tracks"][position] if position else (record["title"], [])
    artists = track_artists + [artist for version in pool for artist in version["artists"]]
    years = [version["year"] for version in pool if version["year"]]
    master_year, master_genres, master_styles = master or (None, [], [])
    genres = [g for version in pool for g in version["genres"]] + master_genres
    styles = [s for version in pool for s in version["styles"]] + master_styles
    return {
        "artists": list(dict.fromkeys(name for artist_id, name in artists if artist_id != VARIOUS_ARTISTS)),
        "releases": [f"discogs/release/{version['id']}" for version in pool],
        "labels": list(
            dict.fromkeys(label for version in pool for label in version["labels"] if not label.startswith(NO_LABEL))
        ),
        "year": master_year or (min(years) if years else None),
        "tags": list(dict.fromkeys([f"genre---{g}" for g in genres] + [f"style---{s}" for s in styles])),
        "title": title,
    }


def _read_match(match):
    table = pd.read_csv(match, dtype=str, keep_default_na=False)
    missing = {"path", "release_id"} - set(table.columns)
    if missing:
        raise ValueError(f"{match}: missing column(s) {sorted(missing)} (has {list(table.columns)})")
    folder = Path(match).resolve().parent
    table["path"] = [str((folder / path).resolve()) for path in table.path]
    given = table.track_id if "track_id" in table.columns else [""] * len(table)
    table["track_id"] = [track_id or path_track_id(path, folder) for track_id, path in zip(given, table.path)]
    if "track_position" not in table.columns:
        table["track_position"] = ""
    return table


def build_discogs(dump_dir, out_dir, match):
    """Catalogue the audio listed in ``match`` with metadata from the Discogs dumps in ``dump_dir``.

    Returns ``(catalogue, excluded)``, also written to ``out_dir``.
    """
    table = _read_match(match)
    matched, pooled = read_releases(latest_dump(dump_dir, "releases"), set(table.release_id))
    masters_dump = latest_dump(dump_dir, "masters", required=False)
    master_ids = {record["master"] for record in matched.values() if record["master"]}
    masters = read_masters(masters_dump, master_ids) if masters_dump and master_ids else {}
    versions = {}
    for record in [*matched.values(), *pooled.values()]:
        versions.setdefault(record["master"], []).append(record)
    rows, excluded = [], []
    for entry in table.drop_duplicates("track_id").itertuples(index=False):
        record, position = matched.get(entry.release_id), entry.track_position.strip()
        if record is None:
            duration, reason = None, f"release {entry.release_id} not in the dump"
        elif position and position not in record["tracks"]:
            duration, reason = None, f"no track {position} on release {entry.release_id}"
        else:
            duration, reason = checked_duration(entry.path)
        if reason:
            excluded.append((entry.track_id, entry.path, reason))
            continue
        others = [v for v in versions.get(record["master"], []) if v["id"] != record["id"]] if record["master"] else []
        rows.append(
            {
                "track_id": entry.track_id,
                "path": entry.path,
                "duration": duration,
                "source": f"discogs release {entry.release_id}" + (f" track {position}" if position else ""),
            }
            | pooled_metadata(record, position, others, masters.get(record["master"]))
        )
    excluded += [
        (entry.track_id, entry.path, "repeated track id")
        for entry in table[table.track_id.duplicated()].itertuples(index=False)
    ]
    return write_build(out_dir, rows, excluded)
