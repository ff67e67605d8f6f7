"""ffmpeg's libraries through PyAV: the probe of every audio file, and the decoder of the codecs Essentia lacks.

The decoder gives what Essentia's ``MonoLoader`` gives on a file both read: ffmpeg's float conversion,
the channel mean (Essentia's MonoMixer) and Essentia's own ``Resample`` at MonoLoader's quality, so
PCM files decode to the same samples and lossy ones agree to the decoders' rounding.
"""

import av
import numpy as np

from musiczoo.runtime import essentia_standard

FFmpegError = av.error.FFmpegError


RIFF_UNKNOWN_SIZE = 0x7FFFF000  # data sizes from here up are placeholders of streamed WAVs, not lengths
OGG_PAGE = 27 + 255 + 255 * 255  # the longest Ogg page: header, segment table, 255 segments of 255 bytes


def riff_seconds(path):
    """The duration a RIFF/WAVE header states (data chunk bytes / byte rate); None for another file or
    a header that states none. ffmpeg measures a WAV by its file size, so a cut WAV looks whole to it."""
    with open(path, "rb") as file:
        head = file.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        byte_rate = None
        while len(chunk := file.read(8)) == 8:
            name, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if name == b"data":
                return size / byte_rate if byte_rate and 0 < size < RIFF_UNKNOWN_SIZE else None
            body = file.read(size + size % 2)
            if name == b"fmt " and len(body) >= 12:
                byte_rate = int.from_bytes(body[8:12], "little")
    return None


def ogg_cut(path):
    """Whether an Ogg file breaks off inside a page (cut or partly written); None for a file that is not Ogg.

    ffmpeg measures an Ogg by its last whole page, so a cut one looks whole to it. A stream's last page
    should carry the end-of-stream flag, but some encoders never write it (two whole trackballs tracks in
    ../shared/data end on a page without it): only a file that does not end where a page ends counts as cut.
    """
    with open(path, "rb") as file:
        if file.read(4) != b"OggS":
            return None
        size = file.seek(0, 2)
        file.seek(max(0, size - 2 * OGG_PAGE))
        tail = file.read()
    at = len(tail)
    while (at := tail.rfind(b"OggS", 0, at)) >= 0:  # a page header whose page ends at the end of the file?
        header = tail[at : at + 27]
        if len(header) == 27 and header[4] == 0:  # version 0
            table = tail[at + 27 : at + 27 + header[26]]
            if len(table) == header[26] and at + 27 + len(table) + sum(table) == len(tail):
                return False
    return True


def probe(path):
    """``(codec, seconds)`` of the first audio stream: the decoder's name and the duration the container
    states (None when it states none; a WAV's from its header). Raises :class:`FFmpegError` when the
    container cannot be read and ValueError when it holds no audio stream."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        if stream.duration:
            seconds = float(stream.duration * stream.time_base)
        else:
            seconds = container.duration / av.time_base if container.duration else None
        codec = stream.codec_context.name
    return codec, (riff_seconds(path) or seconds) if codec.startswith("pcm_") else seconds


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
