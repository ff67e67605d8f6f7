"""The embedded default data set: the music21 package's corpus rendered to audio (PyPI only).

One track per score: each corpus file, or each tune of a multi-tune ABC book (``X:`` number).
Roman-numeral analyses (``.rntxt``) are not scores and are left out; a score present in several
formats is kept once (MusicXML, then Humdrum, then ABC) and its other copies are excluded.

Metadata:

- artists: the composer of the corpus folder (:data:`FOLDER_COMPOSERS`), else the score's own
  composer field; none for the traditional collections (:data:`TRADITIONAL`).
- releases: the work: the sub-folder of a multi-file work (``beethoven/opus18no1``), the book of
  a multi-tune ABC file, else the score itself.
- labels: the corpus collection (top folder), label-like.
- year: :func:`~musiczoo.train.catalogues.composers.work_year` of the composer, or the publication year of a
  traditional collection (:data:`COLLECTION_YEARS`); null when unknown.
- tags: ``format---abc|humdrum|musicxml``, ``genre---folk`` for traditional collections, and the
  General MIDI ``instrument---NAME`` of each part heard.
"""

import collections
import copy
import io
import re
from pathlib import Path

import mido
import pretty_midi
from music21 import corpus, meter, midi, stream

from musiczoo.train.catalogues.composers import find_composer, work_year
from musiczoo.train.catalogues.render import render_all, render_excerpt, seeded_rank
from musiczoo.train.catalogues.schema import AUDIO_DIR, write_build

FOLDER_COMPOSERS = {
    "bach": "Johann Sebastian Bach",
    "beach": "Amy Beach",
    "beethoven": "Ludwig van Beethoven",
    "chopin": "Frédéric Chopin",
    "ciconia": "Johannes Ciconia",
    "corelli": "Arcangelo Corelli",
    "cpebach": "Carl Philipp Emanuel Bach",
    "handel": "George Frideric Handel",
    "haydn": "Joseph Haydn",
    "johnson_j_r": "J. Rosamond Johnson",
    "joplin": "Scott Joplin",
    "josquin": "Josquin des Prez",
    "liliuokalani": "Liliuokalani",
    "monteverdi": "Claudio Monteverdi",
    "mozart": "Wolfgang Amadeus Mozart",
    "palestrina": "Giovanni Pierluigi da Palestrina",
    "schoenberg": "Arnold Schoenberg",
    "schubert": "Franz Schubert",
    "schumann_clara": "Clara Schumann",
    "schumann_robert": "Robert Schumann",
    "verdi": "Giuseppe Verdi",
    "weber": "Carl Maria von Weber",
    "webern": "Anton Webern",
}
TRADITIONAL = {"airdsAirs", "essenFolksong", "miscFolk", "nottingham-dataset", "oneills1850", "ryansMammoth"}
# Publication years: Ryan's Mammoth Collection (Boston, 1883); O'Neill's Music of Ireland (Chicago,
# 1903); Aird's Selection of Scotch, English, Irish and Foreign Airs (6 volumes, Glasgow, 1782-1803:
# the middle). The Essen and Nottingham collections and miscFolk have no single date.
COLLECTION_YEARS = {"ryansMammoth": 1883, "oneills1850": 1903, "airdsAirs": 1792}
FORMATS = {".mxl": "musicxml", ".musicxml": "musicxml", ".xml": "musicxml", ".krn": "humdrum", ".abc": "abc"}
PREFERENCE = ("musicxml", "humdrum", "abc")
ABC_TUNE = re.compile(r"^X:\s*(\d+)", re.MULTILINE)
TICKS_PER_QUARTER = 480


CORPUS = Path(corpus.__file__).parent


def corpus_scores():
    """``(track_id, relative path, tune number or None)`` of every score of the corpus, and the
    ``(track_id, path, reason)`` of the files left out."""
    files = sorted(Path(path).relative_to(CORPUS) for path in corpus.getPaths() if Path(path).suffix in FORMATS)
    files.sort(key=lambda path: PREFERENCE.index(FORMATS[path.suffix]))
    scores, excluded, kept = [], [], {}
    for relative in files:
        work = relative.with_suffix("").as_posix()
        if work in kept:
            excluded.append((f"music21/{work}", str(CORPUS / relative), f"same score as {kept[work]}"))
            continue
        kept[work] = relative.as_posix()
        tunes = ABC_TUNE.findall((CORPUS / relative).read_text("latin-1")) if relative.suffix == ".abc" else []
        if len(tunes) > 1:
            scores += [
                (f"music21/{work}/{number}", relative.as_posix(), int(number)) for number in dict.fromkeys(tunes)
            ]
        else:
            scores.append((f"music21/{work}", relative.as_posix(), None))
    return scores, excluded


def _unshare_time_signatures(score):
    """Give each measure its own TimeSignature: music21's ABC reader puts one object in several
    measures (a tune whose metre changes), which its MIDI export then rejects (StreamException)."""
    seen = set()
    for measure in list(score.recurse().getElementsByClass(stream.Measure)):
        for signature in list(measure.getElementsByClass(meter.TimeSignature)):
            if id(signature) in seen:
                measure.replace(signature, copy.deepcopy(signature))
            seen.add(id(signature))


def score_midi(score):
    """The score as ``pretty_midi.PrettyMIDI`` (repeats expanded by music21's MIDI export), at
    480 ticks per quarter: music21 writes 10,080, for which pretty_midi allocates an array entry
    per tick and refuses scores longer than ~1,000 quarters."""
    _unshare_time_signatures(score)
    file = mido.MidiFile(file=io.BytesIO(midi.translate.streamToMidiFile(score).writestr()))
    for track in file.tracks:
        ticks = written = 0
        for message in track:
            ticks += message.time
            rescaled = round(ticks * TICKS_PER_QUARTER / file.ticks_per_beat)
            message.time, written = rescaled - written, rescaled
    file.ticks_per_beat = TICKS_PER_QUARTER
    return pretty_midi.PrettyMIDI(mido_object=file)


def render_score(relative, number, seconds, seed, track_id, wav_path):
    """Worker: parse a corpus score, render an excerpt."""
    score = corpus.parse(relative, number=number)
    result = render_excerpt(score_midi(score), wav_path, seconds, seed, track_id)
    metadata = score.metadata
    title = metadata and (metadata.title or metadata.movementName)
    return result | {"title": title or None, "composer": (metadata and metadata.composer) or None}


def _row(track_id, relative, number, wav_path, result):
    parts = relative.split("/")
    folder = parts[0]
    composer = FOLDER_COMPOSERS.get(folder) or (None if folder in TRADITIONAL else result["composer"])
    known = find_composer(composer) if composer else None
    year = work_year(*known[1:]) if known else COLLECTION_YEARS.get(folder)
    if len(parts) > 2:
        release = "music21/" + "/".join(parts[:-1])
    elif number is not None:
        release = "music21/" + relative.rsplit(".", 1)[0]
    else:
        release = track_id
    tags = [f"format---{FORMATS[Path(relative).suffix]}"] + (["genre---folk"] if folder in TRADITIONAL else [])
    return {
        "track_id": track_id,
        "path": str(wav_path.resolve()),
        "duration": result["duration"],
        "artists": [composer] if composer else [],
        "releases": [release],
        "labels": [f"music21/{folder}"],
        "tags": tags + [f"instrument---{name}" for name in result["instruments"]],
        "year": year,
        "title": result["title"],
        "source": relative + (f"#{number}" if number is not None else ""),
    }


def balanced_order(scores, seed):
    """A seeded order that takes the corpus collections in turn (one score of each, then a second
    of each...), so that a small ``--limit`` spans composers and eras instead of drawing mostly
    from the ~8,500 Essen folk songs."""
    ranked = sorted(scores, key=lambda score: seeded_rank(seed, score[0]))
    turns = collections.Counter()
    rounds = []
    for track_id, *_ in ranked:
        collection = track_id.split("/")[1]
        turns[collection] += 1
        rounds.append(turns[collection])
    return [score for _, _, score in sorted(zip(rounds, range(len(ranked)), ranked))]


def build_music21(out_dir, limit=None, seconds=30.0, seed=0, workers=1, timeout=120.0):
    """Render the music21 corpus (the first ``limit`` scores of a seeded order) into ``out_dir``.

    Returns ``(catalogue, excluded)``, also written to ``out_dir``.
    """
    scores, excluded = corpus_scores()
    scores = balanced_order(scores, seed)[:limit]
    jobs = [(track_id, (relative, number, seconds, seed, track_id)) for track_id, relative, number in scores]
    results, failures = render_all(render_score, jobs, Path(out_dir) / AUDIO_DIR, workers, timeout, "music21")
    rows = [
        _row(track_id, relative, number, *results[track_id])
        for track_id, relative, number in scores
        if track_id in results
    ]
    excluded += [
        (track_id, str(CORPUS / relative), failures[track_id])
        for track_id, relative, _ in scores
        if track_id in failures
    ]
    return write_build(out_dir, rows, excluded)
