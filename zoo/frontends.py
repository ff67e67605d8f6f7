"""The log-mel front-ends a model takes, every parameter in Essentia's terms: MusiCNN- and VGGish-style
(Essentia's ``TensorflowInputMusiCNN`` / ``TensorflowInputVGGish``, values from their C++ sources) and the
music-era paper's own (TensorFlow only). :mod:`musiczoo.extractors.mel` computes them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class MelSpec:
    """Every parameter of one mel front-end in Essentia's terms; the window is always a symmetric,
    unnormalized Hann of ``frame_size`` samples."""

    name: str
    essentia_algorithm: str | None  # the Essentia algorithm that computes one frame; None: TensorFlow only
    sample_rate: int
    frame_size: int  # samples per frame, as cut by FrameCutter
    hop_size: int
    fft_size: int  # frame zero-padded at the end to this length
    n_bands: int
    low_hz: float
    high_hz: float
    warping: str  # MelBands warpingFormula: "slaneyMel" | "htkMel"
    weighting: str  # MelBands weighting: "linear" | "warping"
    normalize: str  # MelBands normalize: "unit_tri" | "unit_sum" | "unit_max"
    band_type: str  # MelBands type: "power" (|X|^2) | "magnitude" (|X|)
    log_scale: float  # output = log(log_scale * bands + log_shift)
    log_shift: float
    log: str  # "log10" | "ln"

    @property
    def pad_left(self) -> int:
        """Zeros before the first sample: FrameCutter starts at ``-(frameSize+1)/2``."""
        return (self.frame_size + 1) // 2

    @property
    def backend(self) -> str:
        """The back-end that computes it by default: Essentia where it has the algorithm, else TensorFlow."""
        return "essentia" if self.essentia_algorithm else "tensorflow"


MUSICNN = MelSpec(
    name="musicnn",
    essentia_algorithm="TensorflowInputMusiCNN",
    sample_rate=16000,
    frame_size=512,
    hop_size=256,
    fft_size=512,
    n_bands=96,
    low_hz=0.0,
    high_hz=8000.0,
    warping="slaneyMel",
    weighting="linear",
    normalize="unit_tri",
    band_type="power",
    log_scale=10000.0,
    log_shift=1.0,
    log="log10",
)
VGGISH = MelSpec(
    name="vggish",
    essentia_algorithm="TensorflowInputVGGish",
    sample_rate=16000,
    frame_size=400,
    hop_size=160,
    fft_size=512,
    n_bands=64,
    low_hz=125.0,
    high_hz=7500.0,
    warping="htkMel",
    weighting="warping",
    normalize="unit_max",
    band_type="magnitude",
    log_scale=1.0,
    log_shift=0.01,
    log="ln",
)
# The music-era paper's own front-end (He et al. 2024): 22.05 kHz audio, 2048-sample frames, hop 512,
# 224 mel bands up to Nyquist, 1024-frame patches (about 23.8 s). The mel scale, band normalisation and
# compression are MUSICNN's (the fields not replaced here), not taken from the paper: Slaney mel, unit-area
# triangles on the power spectrum, log10(10000 x + 1). No Essentia algorithm computes it: TensorFlow only, and a model
# trained on it does not export to Essentia.
ERA_PAPER = replace(
    MUSICNN,
    name="era_paper",
    essentia_algorithm=None,
    sample_rate=22050,
    frame_size=2048,
    hop_size=512,
    fft_size=2048,
    n_bands=224,
    high_hz=11025.0,
)
FRONT_ENDS = {spec.name: spec for spec in (MUSICNN, VGGISH)}  # the ``mel`` of each family in zoo.families
# What a feature store can hold (`musiczoo data features --frontend NAME`); no two share a band count,
# so a model's input bands name its front-end (see :func:`store_front_end`).
STORE_FRONT_ENDS = FRONT_ENDS | {ERA_PAPER.name: ERA_PAPER}


def store_front_end(bands: int) -> MelSpec | None:
    """The store front-end of ``bands``-band mels, None when there is none."""
    return next((spec for spec in STORE_FRONT_ENDS.values() if spec.n_bands == bands), None)
