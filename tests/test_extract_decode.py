"""The one audio loader: Essentia's MonoLoader where it decodes, ffmpeg (PyAV) for the rest, the same signal."""

import os
import warnings

import av
import numpy as np
import pytest

from conftest import SHARED_DATA, require, write_wav
from musiczoo.extractors import ffmpeg
from musiczoo.extractors.audio import RESAMPLE_QUALITY, AudioError, TruncatedAudioWarning, load_audio, scan_audio
from musiczoo.runtime import essentia_standard

SR = 16000


def tone(rate, seconds=3.0, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    signal = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 1234 * t)
    return np.tile(signal.astype(np.float32), (channels, 1))


def encode(path, container, codec, rate, channels=1, sample_format=None, bit_rate=None, seconds=3.0):
    """``seconds`` of two tones written by ffmpeg's encoder ``codec``; returns ``path``."""
    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream(codec, rate=rate)
        stream.layout = "mono" if channels == 1 else "stereo"
        if sample_format:
            stream.format = sample_format
        if bit_rate:
            stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(tone(rate, seconds, channels), format="fltp", layout=stream.layout.name)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    return path


FORMATS = {  # name -> (container, codec, rate, channels, sample format, bit rate)
    "track.opus": ("ogg", "libopus", 48000, 1, None, None),
    "track.m4a": ("mp4", "aac", 44100, 2, None, None),
    "track.wma": ("asf", "wmav2", 44100, 1, None, 128000),
    "track.aiff": ("aiff", "pcm_s16be", 44100, 1, None, None),
    "track24.flac": ("flac", "flac", 96000, 2, "s32", None),
    "track8k.mp3": ("mp3", "libmp3lame", 8000, 1, None, None),
    "track.wav": ("wav", "pcm_s16le", 44100, 2, None, None),
}


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formats")
    return {name: encode(folder / name, *spec) for name, spec in FORMATS.items()}


def monoloader(path):
    return essentia_standard().MonoLoader(filename=str(path), sampleRate=SR, resampleQuality=RESAMPLE_QUALITY)()


@pytest.mark.parametrize("name", ["track.wav", "track.aiff", "track24.flac", "track8k.mp3", "track.m4a"])
def test_the_fallback_gives_monoloaders_signal(formats, name):
    """On formats both read, PyAV + Essentia's Resample is MonoLoader's signal (PCM: the same samples)."""
    reference, fallback = monoloader(formats[name]), ffmpeg.decode(formats[name], SR, RESAMPLE_QUALITY)
    assert abs(reference.size - fallback.size) <= 2
    n = min(reference.size, fallback.size)
    assert np.abs(reference[:n] - fallback[:n]).max() < 1e-3


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_common_format_loads(formats, name):
    """Opus (which crashes MonoLoader here) and the formats MonoLoader reads: 3 s of the tones, at 16 kHz mono."""
    audio = load_audio(formats[name])
    assert audio.ndim == 1 and audio.dtype == np.float32
    assert abs(audio.size / SR - 3.0) < 0.1
    assert 0.25 < np.abs(audio).max() < 0.6


def test_opus_goes_to_ffmpeg_and_matches_the_source(formats):
    codec, seconds = ffmpeg.probe(formats["track.opus"])
    assert codec == "opus" and abs(seconds - 3.0) < 0.05
    audio, source = load_audio(formats["track.opus"]), tone(SR)[0]
    n = min(audio.size, source.size) - 2000  # Opus' pre-skip: compare past the edges
    assert np.corrcoef(audio[1000:n], source[1000:n])[0, 1] > 0.99


def test_truncation_warns_and_the_audio_still_loads(tmp_path):
    """A cut FLAC (STREAMINFO keeps the full length), a cut WAV (its header does) and an Ogg missing its
    middle: ok, with a warning."""
    es = essentia_standard()
    signal = 0.2 * np.random.default_rng(0).standard_normal(20 * SR).astype(np.float32)
    for suffix in ("flac", "wav", "ogg"):
        path = tmp_path / f"full.{suffix}"
        es.MonoWriter(filename=str(path), sampleRate=SR, format=suffix)(signal)
        data = path.read_bytes()
        cut = tmp_path / f"cut.{suffix}"
        tenth = len(data) // 10
        cut.write_bytes(data[: 5 * tenth] if suffix != "ogg" else data[: 3 * tenth] + data[-tenth:])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert load_audio(path).size == signal.size
            assert not [w for w in caught if w.category is TruncatedAudioWarning]
            audio = load_audio(cut)
        assert audio.size < 0.8 * signal.size
        (warning,) = [w for w in caught if w.category is TruncatedAudioWarning]
        assert str(warning.message).startswith("truncated:") and "20.0 s its header states" in str(warning.message)


def test_an_ogg_cut_inside_a_page_is_flagged_and_whole_ones_are_not(tmp_path):
    """ffprobe measures a cut Ogg by its last page: 60% of a real Vorbis track decodes with no sign of the cut.
    Every Ogg and Opus file of ../shared/data ends where a page ends (two end on a page without the
    end-of-stream flag: their encoder never wrote it)."""
    whole = [path for path in require(SHARED_DATA).rglob("*") if path.suffix in (".ogg", ".opus")]
    assert len(whole) >= 80 and not [path for path in whole if ffmpeg.ogg_cut(path)]
    source = require(SHARED_DATA / "gamemusic" / "audio" / "trackballs-data" / "tb_design.ogg")
    data = source.read_bytes()
    for fraction in (0.6, 0.2):
        cut = tmp_path / f"cut-{fraction}.ogg"
        cut.write_bytes(data[: int(fraction * len(data))])
        assert ffmpeg.ogg_cut(cut)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audio = load_audio(tmp_path / "cut-0.2.ogg")
    (warning,) = [w for w in caught if w.category is TruncatedAudioWarning]
    assert str(warning.message) == (
        f"truncated: the Ogg stream breaks off without its last page after {audio.size / SR:.1f} s"
    )
    assert ffmpeg.ogg_cut(write_wav(tmp_path / "x.wav", audio[:SR])) is None


def test_a_streamed_wavs_placeholder_size_is_not_a_length(tmp_path):
    """Streaming writers leave the data size at 0xFFFFFFFF: the length is then the file's, with no warning."""
    path = write_wav(tmp_path / "streamed.wav", 0.1 * np.ones(3 * SR))
    data = bytearray(path.read_bytes())
    at = data.index(b"data") + 4
    assert ffmpeg.riff_seconds(path) == pytest.approx(3.0)
    data[at : at + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert ffmpeg.riff_seconds(path) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncatedAudioWarning)
        assert load_audio(path).size == 3 * SR


def test_unusable_files_raise_audio_error(tmp_path):
    (tmp_path / "zero.wav").write_bytes(b"")
    write_wav(tmp_path / "silent.wav", np.zeros(SR))
    header = bytearray(write_wav(tmp_path / "header.wav", tone(SR)[0]).read_bytes())
    header[:44] = np.random.default_rng(0).bytes(44)
    (tmp_path / "header.wav").write_bytes(bytes(header))
    reasons = {}
    for name in ("zero.wav", "silent.wav", "header.wav", "missing.wav"):
        with pytest.raises(AudioError) as error:
            load_audio(tmp_path / name)
        reasons[name] = str(error.value)
    assert reasons["zero.wav"] == "empty: zero bytes"
    assert reasons["silent.wav"].startswith("silent")
    assert reasons["header.wav"].startswith("cannot decode")
    assert reasons["missing.wav"].startswith("not a file")


def test_scan_accounts_for_every_entry(tmp_path):
    folder = tmp_path / "in"
    (folder / "x.wav").mkdir(parents=True)  # a folder named like audio: reported, and searched
    write_wav(folder / "x.wav" / "inner.wav", tone(SR)[0])
    write_wav(folder / "Café del Mar – ñ 01.wav", tone(SR)[0])
    (folder / "cover.jpg").write_bytes(b"\xff\xd8")
    (folder / "README").write_text("notes")
    (folder / "gone.mp3").symlink_to(tmp_path / "nowhere.mp3")
    os.mkfifo(folder / "pipe.wav")
    files, skipped = scan_audio([folder, folder / "README"])  # a file named explicitly is decoded
    assert [f.name for f in files] == ["Café del Mar – ñ 01.wav", "inner.wav", "README"]
    reasons = {path.name: reason for path, reason in skipped}
    assert reasons == {
        "cover.jpg": "not an audio file (extension '.jpg')",
        "gone.mp3": f"broken symbolic link (to {tmp_path / 'nowhere.mp3'})",
        "pipe.wav": "not a regular file: a FIFO",
        "x.wav": "a folder named like an audio file",
    }
