"""Log-mel spectrograms of the front-ends of :mod:`musiczoo.zoo.frontends`, computed by Essentia or by
TensorFlow (the music-era paper's own front-end: TensorFlow only).

Every step of the Essentia front-ends is taken from Essentia's C++ sources (MTG/essentia):

* ``src/algorithms/spectral/tensorflowinput{musicnn,vggish}.cpp``: the per-frame recipe
  (Windowing ``normalized=false`` -> Spectrum -> MelBands -> UnaryOperator shift/scale -> log).
* ``src/algorithms/machinelearning/tensorflowpredict{musicnn,vggish,effnetdiscogs}.cpp``:
  the FrameCutter is configured with frameSize/hopSize only, so its defaults apply
  (``startFromZero=false``: frames are centred on t = 0, ``validFrameThresholdRatio=0``).
* ``src/algorithms/standard/framecutter.cpp``: the first frame starts at ``-(frameSize+1)/2``;
  the last frame is the first whose centre (``start + frameSize/2``) reaches the end.
* ``src/algorithms/standard/windowing.cpp``: symmetric Hann ``0.5 - 0.5 cos(2 pi i / (N-1))``;
  zero padding goes after the frame (VGGish sets ``zeroPhase=false``; MusiCNN keeps
  ``zeroPhase=true``, a circular shift that leaves the magnitude spectrum unchanged).
* ``src/algorithms/spectral/melbands.cpp`` + ``triangularbands.cpp`` + ``essentiamath.h``:
  the filterbank (see :func:`filterbank`).
"""

from __future__ import annotations

import functools
import math
import numpy as np

from musiczoo.runtime import essentia_standard
from musiczoo.zoo.frontends import MUSICNN, MelSpec

MEL_BACKENDS = ("essentia", "tensorflow")  # who computes the mel: Essentia's algorithms, or the same in TensorFlow ops


def _real(formula):
    """Essentia's ``Real f(Real)`` helpers: float32 in, double arithmetic, float32 out."""
    return lambda x: formula(np.asarray(x, np.float32).astype(np.float64)).astype(np.float32)


# Slaney's Auditory Toolbox scale as essentiamath.h computes it: float32 (Real) constants and
# arithmetic; logf/expf are correctly rounded in glibc, i.e. double math rounded to float32.
_SLANEY_SLOPE = np.float32(3 / 200.0)
_SLANEY_LOG_STEP = np.float32(math.log(6.4) / 27.0)
_SLANEY_MIN_LOG_HZ = np.float32(1000.0)
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ * _SLANEY_SLOPE


def _slaney_hz2mel(hz):
    hz = np.asarray(hz, np.float32)  # clamped below: the log branch is unused under 1 kHz
    log_hz = np.log((np.maximum(hz, 1) / _SLANEY_MIN_LOG_HZ).astype(np.float64)).astype(np.float32)
    return np.where(hz < _SLANEY_MIN_LOG_HZ, hz * _SLANEY_SLOPE, _SLANEY_MIN_LOG_MEL + log_hz / _SLANEY_LOG_STEP)


def _slaney_mel2hz(mel):
    mel = np.asarray(mel, np.float32)
    exponent = ((mel - _SLANEY_MIN_LOG_MEL) * _SLANEY_LOG_STEP).astype(np.float64)
    return np.where(
        mel < _SLANEY_MIN_LOG_MEL, mel / _SLANEY_SLOPE, _SLANEY_MIN_LOG_HZ * np.exp(exponent).astype(np.float32)
    )


def _htk_hz2mel(hz):
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _htk_mel2hz(mel):
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


# MelBands warpingFormula -> (hz2mel, mel2hz)  (essentiamath.h)
_WARPINGS = {
    "slaneyMel": (_slaney_hz2mel, _slaney_mel2hz),
    "htkMel": (_real(_htk_hz2mel), _real(_htk_mel2hz)),
}
# TriangularBands weighting -> scale in which the triangles are linear. Essentia's quirk:
# TriangularBands maps "slaneyMel" to hz2mel (1127.01048 ln(1 + f/700)), not to Slaney's formula.
_WEIGHTINGS = {
    "linear": _real(lambda hz: hz),
    "htkMel": _real(_htk_hz2mel),
    "slaneyMel": _real(lambda hz: 1127.01048 * np.log(1.0 + hz / 700.0)),
}


@functools.cache
def filterbank(spec: MelSpec) -> np.ndarray:
    """Essentia's MelBands weights, float32 of shape ``(fft_size // 2 + 1, n_bands)``.

    Band edges are equally spaced on ``spec.warping``; triangles are linear in the
    weighting scale (``linear``: Hz; ``warping``: the warping formula) over the bins
    ``ceil(f_lo / df) .. floor(f_hi / df)``; ``unit_tri`` divides by the theoretical
    triangle area, ``unit_sum`` by the sum of the weights, ``unit_max`` leaves apexes at 1.
    Arithmetic follows Essentia's float32 ``Real`` step by step (edges accumulated in mel).
    The matrix applies to ``|X|**2`` for ``band_type="power"``, else to ``|X|``.
    """
    hz2mel, mel2hz = _WARPINGS[spec.warping]
    weigh = _WEIGHTINGS[spec.warping if spec.weighting == "warping" else spec.weighting]
    n_bins = spec.fft_size // 2 + 1
    bin_hz = np.float32(spec.sample_rate / 2.0 / (n_bins - 1))
    low, high = hz2mel(spec.low_hz), hz2mel(spec.high_hz)
    steps = np.full(spec.n_bands + 2, (high - low) / np.float32(spec.n_bands + 1), np.float32)
    steps[0] = low
    edges = mel2hz(np.add.accumulate(steps, dtype=np.float32))
    bins = np.arange(n_bins)
    weights = np.zeros((n_bins, spec.n_bands), np.float32)
    for band, (lo, mid, hi) in enumerate(zip(edges, edges[1:], edges[2:])):
        rise, fall = weigh(mid) - weigh(lo), weigh(hi) - weigh(mid)
        inside = (bins >= np.ceil(lo / bin_hz)) & (bins <= np.floor(hi / bin_hz))
        freq = bins[inside].astype(np.float32) * bin_hz
        tri = np.where(freq < mid, (weigh(freq) - weigh(lo)) / rise, (weigh(hi) - weigh(freq)) / fall)
        if spec.normalize == "unit_tri":
            tri = tri / np.float32((rise + fall) / 2.0)
        elif spec.normalize == "unit_sum":
            tri = tri / tri.sum(dtype=np.float32)
        weights[inside, band] = tri
    weights.flags.writeable = False
    return weights


def _last_frame_index(spec: MelSpec, n_samples):
    """Index of FrameCutter's last frame: the first whose centre reaches the end (n >= 1).

    Plain integer arithmetic, so it also works on integer tensors.
    """
    return -(-(n_samples + spec.pad_left - spec.frame_size // 2) // spec.hop_size)


def frame_count(spec: MelSpec, n_samples: int) -> int:
    """Number of frames Essentia's FrameCutter cuts from ``n_samples`` samples.

    ``ceil(n / 256) + 1`` for MUSICNN (480000 samples -> 1876), ``ceil(n / 160) + 1`` for VGGISH.
    """
    return _last_frame_index(spec, int(n_samples)) + 1 if n_samples > 0 else 0


def essentia_melspectrogram(audio: np.ndarray, spec: MelSpec = MUSICNN) -> np.ndarray:
    """Log-mel ``(frames, bands)`` float32 from Essentia's FrameCutter + TensorflowInput*.

    The framing is the one TensorflowPredictMusiCNN / EffnetDiscogs / VGGish use internally.
    """
    if spec.essentia_algorithm is None:
        raise ValueError(f'no Essentia algorithm computes the {spec.name} mels: compute them with backend="tensorflow"')
    es = essentia_standard()
    compute = getattr(es, spec.essentia_algorithm)()
    frames = es.FrameGenerator(
        np.ascontiguousarray(audio, np.float32), frameSize=spec.frame_size, hopSize=spec.hop_size, startFromZero=False
    )
    rows = [compute(frame) for frame in frames]
    return np.array(rows, np.float32).reshape(len(rows), spec.n_bands)


def tf_melspectrogram(audio, spec: MelSpec = MUSICNN):
    """Log-mel of float32 ``(samples,)`` or ``(batch, samples)`` -> ``(..., frames, bands)``.

    Pure TensorFlow ops (traceable in ``tf.function`` / ``tf.data``, GPU-ready) with the
    same zero padding at both ends as Essentia's FrameCutter.
    """
    import tensorflow as tf

    audio = tf.convert_to_tensor(audio, tf.float32)
    n_samples = tf.shape(audio)[-1]
    n_frames = tf.where(n_samples > 0, _last_frame_index(spec, n_samples) + 1, 0)
    pad_right = tf.maximum((n_frames - 1) * spec.hop_size + spec.frame_size - spec.pad_left - n_samples, 0)
    paddings = [[0, 0]] * (audio.shape.rank - 1) + [[spec.pad_left, pad_right]]
    frames = tf.signal.frame(tf.pad(audio, paddings), spec.frame_size, spec.hop_size)
    frames = frames[..., :n_frames, :]
    n = np.arange(spec.frame_size)
    window = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / (spec.frame_size - 1))).astype(np.float32)
    zero_pad = [[0, 0]] * audio.shape.rank + [[0, spec.fft_size - spec.frame_size]]
    fft = tf.signal.rfft(tf.pad(frames * window, zero_pad))
    if spec.band_type == "power":
        spectrum = tf.math.square(tf.math.real(fft)) + tf.math.square(tf.math.imag(fft))
    else:
        spectrum = tf.math.abs(fft)
    bands = tf.linalg.matmul(spectrum, tf.constant(filterbank(spec)))
    shifted = spec.log_scale * bands + spec.log_shift
    return tf.math.log(shifted) / math.log(10.0) if spec.log == "log10" else tf.math.log(shifted)


def melspectrogram(audio, spec: MelSpec = MUSICNN, backend: str | None = None) -> np.ndarray:
    """Log-mel ``(frames, bands)`` float32 of 1-D float audio at ``spec.sample_rate``; ``backend``: ``spec.backend``."""
    backend = backend or spec.backend
    if backend not in MEL_BACKENDS:
        raise ValueError(f"unknown mel backend {backend!r}; expected one of {MEL_BACKENDS}")
    audio = np.asarray(audio)
    if audio.ndim != 1 or audio.dtype.kind != "f":
        raise ValueError(f"audio must be a 1-D float array, got shape {audio.shape} dtype {audio.dtype}")
    audio = audio.astype(np.float32, copy=False)
    if backend == "essentia":
        return essentia_melspectrogram(audio, spec)
    return tf_melspectrogram(audio, spec).numpy()
