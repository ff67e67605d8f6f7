"""The two mel back-ends against each other and against Essentia's own algorithms."""

import numpy as np
import pytest

from musiczoo.extractors.mel import essentia_melspectrogram, filterbank, frame_count, melspectrogram, tf_melspectrogram
from musiczoo.zoo.frontends import MUSICNN, VGGISH
from musiczoo.runtime import essentia_standard

import tensorflow as tf  # after musiczoo, which loads Essentia first

from conftest import clip_paths

SPECS = pytest.mark.parametrize("spec", [MUSICNN, VGGISH], ids=lambda spec: spec.name)
# MelBands exactly as TensorflowInputMusiCNN / TensorflowInputVGGish configure it (C++ sources).
ESSENTIA_MELBANDS = {
    "musicnn": dict(
        inputSize=257,
        numberBands=96,
        sampleRate=16000,
        highFrequencyBound=8000,
        warpingFormula="slaneyMel",
        weighting="linear",
        normalize="unit_tri",
    ),
    "vggish": dict(
        inputSize=257,
        numberBands=64,
        sampleRate=16000,
        lowFrequencyBound=125,
        highFrequencyBound=7500,
        warpingFormula="htkMel",
        weighting="warping",
        type="magnitude",
        normalize="unit_max",
    ),
}


def noise(n_samples, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(n_samples)).astype(np.float32)


@pytest.fixture(scope="module")
def clips():
    """The first 30 s of a few real clips, mono 16 kHz."""
    paths = clip_paths()[:4]
    es = essentia_standard()
    return {
        path.stem: es.MonoLoader(filename=str(path), sampleRate=16000, resampleQuality=4)()[:480000] for path in paths
    }


@SPECS
def test_backends_agree_on_real_clips(clips, spec):
    for name, audio in clips.items():
        reference = melspectrogram(audio, spec, backend="essentia")
        candidate = melspectrogram(audio, spec, backend="tensorflow")
        assert reference.shape == candidate.shape == (frame_count(spec, len(audio)), spec.n_bands)
        assert np.abs(reference - candidate).max() <= 1e-3, name


@pytest.mark.parametrize("spec, expected", [(MUSICNN, 1876), (VGGISH, 3001)], ids=["musicnn", "vggish"])
def test_30_seconds_frame_count(spec, expected):
    assert frame_count(spec, 480000) == expected
    assert essentia_melspectrogram(noise(480000), spec).shape == (expected, spec.n_bands)


@SPECS
@pytest.mark.parametrize("n_samples", [0, 1, 159, 255, 257, 399, 401, 511, 513, 4097, 16001, 48017])
def test_frame_count_matches_both_backends(spec, n_samples):
    audio = noise(n_samples)
    assert len(essentia_melspectrogram(audio, spec)) == frame_count(spec, n_samples)
    assert tf_melspectrogram(audio, spec).shape[0] == frame_count(spec, n_samples)


@SPECS
def test_filterbank_equals_essentia_melbands(spec):
    """Impulses of height 2 through es.MelBands recover its weights (x4 for power, x2 for magnitude)."""
    melbands = essentia_standard().MelBands(**ESSENTIA_MELBANDS[spec.name])
    impulses = 2.0 * np.eye(spec.fft_size // 2 + 1, dtype=np.float32)
    gain = 4.0 if spec.band_type == "power" else 2.0
    weights = np.stack([melbands(impulse) for impulse in impulses]) / gain
    assert filterbank(spec).shape == weights.shape
    np.testing.assert_allclose(filterbank(spec), weights, rtol=0, atol=1e-6)


@SPECS
def test_batched_traced_tf_equals_unbatched(spec):
    batch = np.stack([noise(12345, seed) for seed in range(3)])
    traced = tf.function(
        lambda audio: tf_melspectrogram(audio, spec), input_signature=[tf.TensorSpec([None, None], tf.float32)]
    )
    batched = traced(batch).numpy()
    assert batched.shape == (3, frame_count(spec, 12345), spec.n_bands)
    for audio, rows in zip(batch, batched):
        np.testing.assert_allclose(rows, tf_melspectrogram(audio, spec).numpy(), rtol=0, atol=1e-5)


def test_melspectrogram_output_and_errors():
    audio = noise(4000)
    for backend in ("essentia", "tensorflow"):
        out = melspectrogram(audio.astype(np.float64), VGGISH, backend=backend)
        assert out.dtype == np.float32 and out.shape == (frame_count(VGGISH, 4000), 64)
    with pytest.raises(ValueError, match="backend"):
        melspectrogram(audio, backend="torch")
    with pytest.raises(ValueError, match="1-D float"):
        melspectrogram(np.stack([audio, audio]))
    with pytest.raises(ValueError, match="1-D float"):
        melspectrogram(np.arange(4000))
