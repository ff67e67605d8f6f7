"""Shared fixtures: the real data in ../shared/data (skipped when absent) and an isolated home."""

from pathlib import Path

import numpy as np
import pytest

import musiczoo  # noqa: F401  (loads Essentia before TensorFlow)
from musiczoo.extractors.audio import SAMPLE_RATE, load_audio
from musiczoo.runtime import essentia_standard

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CLIPS = SHARED_DATA / "clips"
MUSICNN_GRAPH = SHARED_DATA / "essentia-models" / "genre_dortmund_musicnn_msd.pb"


def require(path):
    """Skip the test with a clear reason when a piece of ../shared/data is absent."""
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data beside the checkout)")
    return path


def write_wav(path, audio, sample_rate=SAMPLE_RATE):
    """A mono float32 wav written by Essentia's MonoWriter; returns ``path``."""
    essentia_standard().MonoWriter(filename=str(path), sampleRate=sample_rate, format="wav")(
        np.asarray(audio, np.float32)
    )
    return path


def clip_paths():
    return sorted(require(CLIPS).glob("*.ogg"))


@pytest.fixture(scope="session")
def clip_audio():
    """Mono 16 kHz excerpts of real clips: name -> float32 signal (at most 12 s each)."""
    return {path.stem: load_audio(path)[: 12 * 16000] for path in clip_paths()[:3]}


@pytest.fixture(autouse=True)
def musiczoo_home(tmp_path, monkeypatch):
    """Each test registers exports in its own home, never in the user's."""
    monkeypatch.setenv("MUSICZOO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def registry_kinds():
    """One trainable registry entry per distinct (backbone, head type, task count): every head the zoo builds."""
    from musiczoo.zoo import registry

    kinds = {}
    for name, entry in registry.models().items():
        spec = entry["musiczoo"]
        if spec["head"]["type"] == "audio_art":  # takes artist text too: no Essentia graph (tests/test_era.py)
            continue
        kinds.setdefault((spec["backbone"]["name"], spec["head"]["type"], len(registry.tasks(entry))), name)
    return sorted(kinds.values())


def relative_error(candidate, reference):
    """max |a - b| over max(1, max |b|): 1e-5 means agreement to 1e-5 at the output's scale."""
    return float(np.abs(candidate - reference).max() / max(1.0, float(np.abs(reference).max())))
