"""Facts about the user's own audio files that catalogue builders need."""
from pathlib import Path

from musiczoo.extractors.audio import SAMPLE_RATE, AudioError, load_audio
from musiczoo.runtime import essentia_standard


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
