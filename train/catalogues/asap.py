"""ASAP: human piano performances (MIDI, from MAESTRO and others) rendered to audio.

Reads ASAP's ``metadata.csv``; one track per performance (``midi_performance``). Metadata:

- artists: the composer's full name (:data:`ASAP_COMPOSERS`) and the performer: the file stem up
  to its first digit (``Shi05M`` -> ``Shi``, ``Richardson_2013_03M`` -> ``Richardson``; ASAP's
  stems are not fully consistent, e.g. ``Lin`` / ``LinTami``, and are left as they are).
- releases: the work (ASAP's ``folder``, e.g. ``asap/Bach/Fugue/bwv_846``).
- playlists: the MAESTRO recital (:func:`maestro_recital`), for performances from MAESTRO.
- year: :func:`~musiczoo.train.catalogues.composers.work_year` of the composer, from ``composers`` (a
  GiantMIDI-Piano style TSV) or else the package's own table.
- tags: the General MIDI ``instrument---NAME`` heard (piano).
"""

import re
from pathlib import Path

import pandas as pd

from musiczoo.train.catalogues.composers import find_composer, read_composer_tsv, work_year
from musiczoo.train.catalogues.render import render_all, render_midi_file, seeded_rank
from musiczoo.train.catalogues.schema import AUDIO_DIR, write_build

ASAP_COMPOSERS = {
    "Bach": "Johann Sebastian Bach",
    "Balakirev": "Mily Balakirev",
    "Beethoven": "Ludwig van Beethoven",
    "Brahms": "Johannes Brahms",
    "Chopin": "Frédéric Chopin",
    "Debussy": "Claude Debussy",
    "Glinka": "Mikhail Glinka",
    "Haydn": "Joseph Haydn",
    "Liszt": "Franz Liszt",
    "Mozart": "Wolfgang Amadeus Mozart",
    "Prokofiev": "Sergey Prokofiev",
    "Rachmaninoff": "Sergei Rachmaninoff",
    "Ravel": "Maurice Ravel",
    "Schubert": "Franz Schubert",
    "Schumann": "Robert Schumann",
    "Scriabin": "Aleksandr Scriabin",
}
# {maestro}/YEAR/CAPTURE--RECORDING[piece index].midi: a MIDI capture file can hold several
# recitals, a recording one recital; the piece index (_NN_TrackNN_wav, _NN_WAV, _wav--N) is dropped.
MAESTRO_FILE = re.compile(
    r"\{maestro\}/(\d{4})/(.+?)--(.+?)"
    r"(?:_\d+_Track\d+_wav|_\d+_WAV|_wav--\d+|_Track\d+_wav)?\.midi$"
)
PERFORMER = re.compile(r"(.+?)_?\d")


def maestro_recital(maestro_path):
    """The recital (year, capture, recording) a MAESTRO performance was played in, as an id:
    pieces of one programme share it. None for a path not in MAESTRO's naming."""
    match = isinstance(maestro_path, str) and MAESTRO_FILE.match(maestro_path)
    return "maestro/" + "/".join(match.groups()) if match else None


def performer(stem):
    """ASAP's performer of a performance file stem: ``Shi05M`` -> ``Shi``."""
    match = PERFORMER.match(stem)
    return match.group(1) if match else stem


def _row(entry, dates, wav_path, result):
    composer = ASAP_COMPOSERS.get(entry.composer, entry.composer)
    known = find_composer(composer, dates)
    recital = maestro_recital(entry.maestro_midi_performance)
    return {
        "track_id": entry.track_id,
        "path": str(wav_path.resolve()),
        "duration": result["duration"],
        "artists": [composer, performer(Path(entry.midi_performance).stem)],
        "releases": [f"asap/{entry.folder}"],
        "playlists": [recital] if recital else [],
        "tags": [f"instrument---{name}" for name in result["instruments"]],
        "year": work_year(*known[1:]) if known else None,
        "title": entry.title.replace("_", " "),
        "source": entry.midi_performance,
    }


def build_asap(asap_dir, out_dir, composers=None, limit=None, seconds=30.0, seed=0, workers=1, timeout=120.0):
    """Render ASAP's performances (the first ``limit`` of a seeded order) into ``out_dir``.

    Returns ``(catalogue, excluded)``, also written to ``out_dir``.
    """
    asap_dir = Path(asap_dir).resolve()
    table = pd.read_csv(asap_dir / "metadata.csv")
    table["track_id"] = "asap/" + table.midi_performance.str.removesuffix(".mid")
    entries = sorted(table.itertuples(index=False), key=lambda entry: seeded_rank(seed, entry.track_id))[:limit]
    dates = read_composer_tsv(composers) if composers else None
    jobs, excluded = [], []
    for entry in entries:
        midi_path = asap_dir / entry.midi_performance
        if midi_path.is_file():
            jobs.append((entry.track_id, (str(midi_path), seconds, seed, entry.track_id)))
        else:
            excluded.append((entry.track_id, str(midi_path), "MIDI file missing"))
    results, failures = render_all(render_midi_file, jobs, Path(out_dir) / AUDIO_DIR, workers, timeout, "asap")
    rows = [_row(entry, dates, *results[entry.track_id]) for entry in entries if entry.track_id in results]
    excluded += [(track_id, arguments[0], failures[track_id]) for track_id, arguments in jobs if track_id in failures]
    return write_build(out_dir, rows, excluded)
