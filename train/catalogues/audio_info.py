"""Facts about the user's own audio files that catalogue builders need: duration and embedded tags."""

import re
from pathlib import Path

import mutagen

from musiczoo.extractors.audio import SAMPLE_RATE, AudioError, load_audio
from musiczoo.runtime import essentia_standard

LEADING_YEAR = re.compile(r"\s*(\d{4})(?!\d)")  # ID3 / Vorbis dates: 2007, 2016-05-01, 2004-11-03T10:00


def audio_duration(path):
    """Seconds of audio in ``path``, from its header (Essentia's MetadataReader: whole seconds), or
    by decoding the file when the header tells none. Raises :class:`AudioError` with the reason
    for a file that is missing, undecodable, empty or silent."""
    try:
        seconds = essentia_standard().MetadataReader(filename=str(path), failOnError=True)()[-4]
    except RuntimeError:
        seconds = 0
    return float(seconds) if seconds > 0 else load_audio(path).size / SAMPLE_RATE


def checked_duration(path):
    """``(seconds, None)`` for a usable audio file, else ``(None, reason)``: "audio missing" or
    why it cannot be used."""
    if not Path(path).is_file():
        return None, "audio missing"
    try:
        return audio_duration(path), None
    except AudioError as error:
        return None, str(error)


def path_track_id(path, folder):
    """The default track id of a user's audio file: its path relative to ``folder`` when inside it."""
    path = Path(path)
    return path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)


def _values(tags, key):
    """The non-empty text values of ``key``, in order, once each."""
    values = tags.get(key) or []
    return list(dict.fromkeys(text for value in values if (text := str(value).strip())))


def audio_tags(path):
    """Catalogue fields from the tags embedded in an audio file, by mutagen's format-neutral keys
    (ID3 for MP3, Vorbis comments for Ogg/Opus/FLAC, MP4 atoms): ``artists`` (artist), ``releases``
    (album), ``tags`` (``genre---NAME`` per genre), ``year`` (the leading year of the date, else of
    a year tag) and ``title`` (its first value). Multi-valued tags give several list items.

    Only the fields a file tags are returned: ``{}`` for an untagged file, or one whose tags cannot
    be read (tags are best effort; decoding decides whether a file is usable).
    """
    try:
        file = mutagen.File(path, easy=True)
    except Exception:  # mutagen raises MutagenError, and on some damaged files IndexError and the like
        return {}
    if file is None or file.tags is None:
        return {}
    tags = file.tags
    years = [
        int(match.group(1))
        for text in _values(tags, "date") + _values(tags, "year")
        if (match := LEADING_YEAR.match(text))
    ]
    fields = {
        "artists": _values(tags, "artist"),
        "releases": _values(tags, "album"),
        "tags": [f"genre---{genre}" for genre in _values(tags, "genre")],
        "year": years[0] if years else None,
        "title": next(iter(_values(tags, "title")), None),
    }
    return {name: value for name, value in fields.items() if value}
