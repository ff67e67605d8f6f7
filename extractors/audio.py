"""Audio loading: any common format, any sample rate, mixed down to mono 16 kHz; the audio files of inputs.

:func:`load_audio` is the one loader of every command. Essentia's MonoLoader decodes the codecs it
reads in this build (:data:`ESSENTIA_CODECS`, each checked); any other codec (Opus: MonoLoader says
"Unsupported codec!", then the process crashes) goes to ffmpeg through PyAV, which gives the same
signal (:mod:`musiczoo.extractors.ffmpeg`).
"""

import os
import stat
import warnings
from pathlib import Path

import numpy as np

from musiczoo.extractors import ffmpeg
from musiczoo.runtime import essentia_standard

SAMPLE_RATE = 16000
RESAMPLE_QUALITY = 4  # MonoLoader's resampleQuality (Essentia's linear resampler), in every command
AUDIO_EXTENSIONS = frozenset(".wav .flac .mp3 .ogg .oga .opus .m4a .aac .aif .aiff .wma .mp4 .webm .mka .au".split())
# ffmpeg's decoder names (and every pcm_*) whose files MonoLoader decodes in this build, each checked
ESSENTIA_CODECS = frozenset("flac mp3float mp2 vorbis aac alac ac3 wmav1 wmav2".split())
SILENCE = 1e-6  # peak amplitude below which a signal counts as silent
TRUNCATION = (0.5, 0.02)  # seconds, fraction: a signal this much short of the stated duration is truncated


class AudioError(ValueError):
    """A file that cannot be used: unreadable, empty, silent or too short."""


class TruncatedAudioWarning(UserWarning):
    """A file decoded to well less than the duration its container states: damaged or cut short."""


def _decoded_by_essentia(codec):
    return codec is None or codec in ESSENTIA_CODECS or codec.startswith("pcm_")


def _probe(path):
    """``(codec, stated seconds)``; ``(None, None)`` when ffmpeg cannot read the header (MonoLoader then says why)."""
    try:
        return ffmpeg.probe(path)
    except (ffmpeg.FFmpegError, ValueError):
        return None, None


def load_audio(path, sample_rate=SAMPLE_RATE):
    """Decode ``path`` to a mono float32 signal at ``sample_rate``, as Essentia's MonoLoader does.

    Raises :class:`AudioError` for a file that is missing, empty, undecodable, non-finite or silent;
    warns :class:`TruncatedAudioWarning` when the signal is well short of the container's duration.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"not a file: {path}")
    if path.stat().st_size == 0:
        raise AudioError("empty: zero bytes")
    codec, stated = _probe(path)
    if _decoded_by_essentia(codec):
        try:
            audio = essentia_standard().MonoLoader(
                filename=str(path), sampleRate=sample_rate, resampleQuality=RESAMPLE_QUALITY
            )()
        except RuntimeError as error:
            raise AudioError(f"cannot decode: {str(error).strip().splitlines()[-1]}") from None
    else:
        audio = ffmpeg.decode(path, sample_rate, RESAMPLE_QUALITY)
    if audio.size == 0:
        raise AudioError("empty: no audio samples")
    if not np.isfinite(audio).all():
        raise AudioError("corrupt: non-finite samples")
    if np.abs(audio).max() < SILENCE:
        raise AudioError("silent: every sample is zero")
    seconds = audio.size / sample_rate
    if stated and stated - seconds > max(TRUNCATION[0], TRUNCATION[1] * stated):
        warnings.warn(
            TruncatedAudioWarning(f"truncated: {seconds:.1f} s decoded of the {stated:.1f} s its header states"),
            stacklevel=2,
        )
    elif ffmpeg.ogg_cut(path):
        warnings.warn(
            TruncatedAudioWarning(f"truncated: the Ogg stream breaks off without its last page after {seconds:.1f} s"),
            stacklevel=2,
        )
    return audio


def _file_kind(mode):
    """What a non-regular file is, in words (a FIFO, a socket...)."""
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a character device"}
    return next((name for test, name in kinds.items() if test(mode)), "a block device")


def _not_audio(entry):
    """Why an entry of an input folder is not an audio file to decode, or None when it is one."""
    if not entry.exists():
        return f"broken symbolic link (to {os.readlink(entry)})"
    mode = entry.stat().st_mode
    if entry.suffix.lower() not in AUDIO_EXTENSIONS:
        return f"not an audio file (extension {entry.suffix!r})" if entry.suffix else "not an audio file (no extension)"
    if stat.S_ISDIR(mode):
        return "a folder named like an audio file"
    return None if stat.S_ISREG(mode) else f"not a regular file: {_file_kind(mode)}"


def scan_audio(inputs):
    """``(files, skipped)``: the files of :func:`find_audio`, and ``(path, reason)`` for every other entry
    of the folders named (other files, folders named like audio, broken links, FIFOs...).

    Sub-folders are searched, not reported; a path of ``inputs`` that does not exist raises
    FileNotFoundError before any work starts.
    """
    files, skipped = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            for entry in sorted(item.rglob("*")):
                if entry.is_dir() and entry.suffix.lower() not in AUDIO_EXTENSIONS:
                    continue
                reason = _not_audio(entry)
                if reason:
                    skipped.append((entry, reason))
                else:
                    files.append(entry)
        elif item.exists():
            files.append(item)
        else:
            raise FileNotFoundError(f"no such file or folder: {item}")
    files = list(dict.fromkeys(files))
    named = set(files)  # a file named explicitly is decoded, even where its folder skips it
    return files, [(path, reason) for path, reason in dict.fromkeys(skipped) if path not in named]


def find_audio(inputs):
    """Files named in ``inputs``, plus audio files found recursively in the folders named.

    Files named explicitly are kept whatever their extension (the loader decides); a path that
    does not exist raises FileNotFoundError before any work starts.
    """
    return scan_audio(inputs)[0]
