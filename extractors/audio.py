"""Audio loading: any format Essentia decodes, any sample rate, mixed down to mono 16 kHz."""

from pathlib import Path

import numpy as np

from musiczoo.runtime import essentia_standard

SAMPLE_RATE = 16000
AUDIO_EXTENSIONS = frozenset(".wav .flac .mp3 .ogg .oga .opus .m4a .aac .aif .aiff .wma .mp4 .webm .mka .au".split())
SILENCE = 1e-6  # peak amplitude below which a signal counts as silent


class AudioError(ValueError):
    """A file that cannot be used: unreadable, empty, silent or too short."""


def load_audio(path, sample_rate=SAMPLE_RATE):
    """Decode ``path`` to a mono float32 signal at ``sample_rate`` (Essentia's MonoLoader)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"not a file: {path}")
    try:
        audio = essentia_standard().MonoLoader(filename=str(path), sampleRate=sample_rate, resampleQuality=4)()
    except RuntimeError as error:
        raise AudioError(f"cannot decode: {str(error).strip().splitlines()[-1]}") from None
    if audio.size == 0:
        raise AudioError("empty: no audio samples")
    if not np.isfinite(audio).all():
        raise AudioError("corrupt: non-finite samples")
    if np.abs(audio).max() < SILENCE:
        raise AudioError("silent: every sample is zero")
    return audio


def find_audio(inputs):
    """Files named in ``inputs``, plus audio files found recursively in the folders named.

    Files named explicitly are kept whatever their extension (the loader decides); a path that
    does not exist raises FileNotFoundError before any work starts.
    """
    found = []
    for item in map(Path, inputs):
        if item.is_dir():
            found.extend(sorted(p for p in item.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()))
        elif item.exists():
            found.append(item)
        else:
            raise FileNotFoundError(f"no such file or folder: {item}")
    return list(dict.fromkeys(found))
