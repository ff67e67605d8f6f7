"""ffmpeg's libraries through PyAV: the probe of every audio file, and the decoder of the codecs Essentia lacks.

The decoder gives what Essentia's ``MonoLoader`` gives on a file both read: ffmpeg's float conversion,
the channel mean (Essentia's MonoMixer) and Essentia's own ``Resample`` at MonoLoader's quality, so
PCM files decode to the same samples and lossy ones agree to the decoders' rounding.
"""

import av
import numpy as np

from musiczoo.runtime import essentia_standard

FFmpegError = av.error.FFmpegError


def probe(path):
    """``(codec, seconds)`` of the first audio stream: the decoder's name and the duration the container
    states (None when it states none). Raises :class:`FFmpegError` when the container cannot be read
    and ValueError when it holds no audio stream."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        if stream.duration:
            seconds = float(stream.duration * stream.time_base)
        else:
            seconds = container.duration / av.time_base if container.duration else None
        return stream.codec_context.name, seconds


def _float_blocks(container, stream):
    """The stream's samples as ``(channels, n)`` float32 blocks; damaged packets are skipped, as ffmpeg does."""
    to_float = av.AudioResampler(format="fltp")
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue
            for frame in frames:
                yield from (block.to_ndarray() for block in to_float.resample(frame))
    except av.error.InvalidDataError:  # the container breaks off: keep what was decoded
        pass
    yield from (block.to_ndarray() for block in to_float.resample(None))


def decode(path, sample_rate, quality):
    """Mono float32 samples of ``path`` at ``sample_rate`` (empty when nothing decodes); ``quality``:
    Essentia's ``Resample`` quality, as MonoLoader's ``resampleQuality``."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        blocks = list(_float_blocks(container, stream))
        rate = stream.codec_context.sample_rate
    if not blocks:
        return np.zeros(0, np.float32)
    samples = np.concatenate(blocks, axis=1)
    mono = samples.mean(axis=0, dtype=np.float32) if len(samples) > 1 else samples[0]
    if rate == sample_rate:
        return np.ascontiguousarray(mono)
    resample = essentia_standard().Resample(inputSampleRate=rate, outputSampleRate=sample_rate, quality=quality)
    return resample(np.ascontiguousarray(mono))
