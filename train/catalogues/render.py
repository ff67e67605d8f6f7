"""MIDI to audio, for builders whose material is symbolic (music21 scores, ASAP performances).

A fixed-length excerpt is rendered at 16 kHz mono with pretty_midi's bundled General MIDI
soundfont ``TimGM6mb.sf2`` through tinysoundfont. Its start is seeded by the track id, so a build
is reproducible whatever its order or limit. tinysoundfont ignores the sustain pedal (CC 64), so
notes released under a held pedal are lengthened to the pedal's release here.

:func:`render_all` runs the renders in worker processes with a timeout and makes builds
resumable: a track whose ``audio/<track_id>.json`` (written after its ``.wav``) records the same
render arguments (source, seconds, seed) is kept as it is.
"""

import hashlib
import io
import json
import wave
from pathlib import Path

import numpy as np
import pretty_midi

try:
    import tinysoundfont
except ImportError as error:  # pragma: no cover - depends on the set-up
    raise ImportError(
        "MIDI rendering needs tinysoundfont, installed without pyaudio (its requirement for live "
        "playback only, which needs PortAudio headers to build): "
        "pip install --no-deps tinysoundfont"
    ) from error

from musiczoo.extractors.audio import SAMPLE_RATE, SILENCE
from musiczoo.fileio import atomic_write
from musiczoo.progress import progress_bar
from musiczoo.isolation import run_isolated

SOUNDFONT = Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")
SUSTAIN, PEDAL_DOWN = 64, 64  # controller number, and the value from which the pedal is down
DRUM_CHANNEL = 9
TAIL = 1.0  # seconds kept after the last note when the piece ends inside the excerpt
HEADROOM = 0.99  # an excerpt peaking higher is scaled down to this peak


class RenderError(ValueError):
    """Material that gives no usable audio."""


def _digest(seed, purpose, key):
    return hashlib.sha256(f"{seed}/{purpose}/{key}".encode()).digest()


def seeded_rank(seed, track_id):
    """A sort key that shuffles tracks by ``seed``: a prefix of the order (``--limit``) keeps its
    tracks whatever the other tracks are."""
    return _digest(seed, "order", track_id)


def excerpt_start(length, seconds, seed, key):
    """A start in ``[0, length - seconds]`` drawn from ``(seed, key)``: the same on every run, and
    independent of the track's rank."""
    fraction = int.from_bytes(_digest(seed, "start", key)[:8], "big") / 2**64
    return round(max(0.0, float(length) - seconds) * fraction, 3)


def _sustained_notes(instrument, end_of_file):
    """``(start, end, pitch, velocity)`` of each note, ends held to the release of the sustain
    pedal (or the end of the file), and cut at the next onset of the same pitch."""
    downs, ups, down_since = [], [], None
    for change in sorted((c for c in instrument.control_changes if c.number == SUSTAIN), key=lambda c: c.time):
        if change.value >= PEDAL_DOWN and down_since is None:
            down_since = change.time
        elif change.value < PEDAL_DOWN and down_since is not None:
            downs.append(down_since)
            ups.append(change.time)
            down_since = None
    if down_since is not None:
        downs.append(down_since)
        ups.append(end_of_file)
    notes = sorted((n.start, n.end, n.pitch, n.velocity) for n in instrument.notes)
    held, next_onset = [], {}
    for start, end, pitch, velocity in reversed(notes):
        index = np.searchsorted(downs, end, side="right") - 1
        if index >= 0 and end < ups[index]:
            end = ups[index]
        held.append((start, min(end, next_onset.get(pitch, np.inf)), pitch, velocity))
        next_onset[pitch] = start
    return held[::-1]


def _channels(instruments):
    """A MIDI channel per instrument: drums on channel 9, one channel per program otherwise."""
    melodic = [channel for channel in range(16) if channel != DRUM_CHANNEL]
    programs = list(dict.fromkeys(i.program for i in instruments if not i.is_drum))
    return [DRUM_CHANNEL if i.is_drum else melodic[programs.index(i.program) % len(melodic)] for i in instruments]


def synthesize(midi, start, seconds, sample_rate=SAMPLE_RATE):
    """Mono float32 audio of ``midi`` (a ``pretty_midi.PrettyMIDI``) from ``start`` for ``seconds``
    (less when the piece ends sooner). Controller state before ``start`` is applied at ``start``,
    and notes sounding at ``start`` start there."""
    stop = min(start + seconds, midi.get_end_time() + TAIL)
    synth = tinysoundfont.Synth(samplerate=sample_rate)
    font = synth.sfload(str(SOUNDFONT))
    events = []  # (time, order, method, arguments): controls, then note-offs, then note-ons at one time
    for instrument, channel in zip(midi.instruments, _channels(midi.instruments)):
        try:
            synth.program_select(channel, font, 0, instrument.program, is_drums=instrument.is_drum)
        except RuntimeError:  # a program the soundfont lacks: its first one
            synth.program_select(channel, font, 0, 0, is_drums=instrument.is_drum)
        events += [
            (max(c.time, start), 0, synth.control_change, (channel, c.number, c.value))
            for c in instrument.control_changes
            if c.number != SUSTAIN and c.time < stop
        ]
        events += [
            (max(b.time, start), 0, synth.pitchbend, (channel, b.pitch + 8192))
            for b in instrument.pitch_bends
            if b.time < stop
        ]
        for note_start, note_end, pitch, velocity in _sustained_notes(instrument, midi.get_end_time()):
            if note_start < stop and note_end > start:
                events.append((max(note_start, start), 2, synth.noteon, (channel, pitch, velocity)))
                events.append((note_end, 1, synth.noteoff, (channel, pitch)))
    events.sort(key=lambda event: event[:2])
    frames = int(round((stop - start) * sample_rate))
    stereo, position = np.zeros((frames, 2), np.float32), 0
    for time, _, method, arguments in events:
        sample = min(frames, int(round((time - start) * sample_rate)))
        if sample > position:
            stereo[position:sample] = np.frombuffer(synth.generate_simple(sample - position), np.float32).reshape(-1, 2)
            position = sample
        method(*arguments)
    if frames > position:
        stereo[position:] = np.frombuffer(synth.generate_simple(frames - position), np.float32).reshape(-1, 2)
    audio = stereo.mean(axis=1)
    peak = float(np.abs(audio).max(initial=0.0))
    return audio * (HEADROOM / peak) if peak > HEADROOM else audio


def wav_bytes(audio, sample_rate=SAMPLE_RATE):
    """A 16-bit PCM mono WAV file of float audio in [-1, 1]."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(sample_rate)
        file.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def render_excerpt(midi, wav_path, seconds, seed, key):
    """Render ``seconds`` of ``midi`` from a seeded start to ``wav_path`` (atomically).

    Returns ``duration`` (of the excerpt), ``start`` and ``length`` (of the piece) in seconds, and
    the General MIDI ``instruments`` heard.
    """
    length = float(midi.get_end_time())
    start = excerpt_start(length, seconds, seed, key)
    audio = synthesize(midi, start, seconds)
    if np.abs(audio).max(initial=0.0) < SILENCE:
        raise RenderError(f"silent excerpt ({start:.1f}-{start + seconds:.1f} s of {length:.1f} s)")
    atomic_write(wav_path, wav_bytes(audio))
    instruments = sorted(
        {
            "Drums" if i.is_drum else pretty_midi.program_to_instrument_name(i.program)
            for i in midi.instruments
            if i.notes
        }
    )
    return {"duration": audio.size / SAMPLE_RATE, "start": start, "length": length, "instruments": instruments}


def render_midi_file(midi_path, seconds, seed, track_id, wav_path):
    """Worker for :func:`render_all`: an excerpt of a MIDI file."""
    return render_excerpt(pretty_midi.PrettyMIDI(str(midi_path)), wav_path, seconds, seed, track_id)


def render_all(function, jobs, audio_dir, workers=1, timeout=60.0, description="render"):
    """Render each ``(track_id, arguments)`` of ``jobs`` with ``function(*arguments, wav_path)``
    (module level, returning a JSON-able dict) in worker processes, ``timeout`` seconds each.

    A track rendered by an earlier build with the same arguments is kept, not rendered again.
    Returns ``(results, failures)``: ``{track_id: (wav path, result dict)}`` and ``{track_id: reason}``.
    """
    arguments_of = {track_id: list(arguments) for track_id, arguments in jobs}
    paths = {track_id: Path(audio_dir) / f"{track_id}.wav" for track_id in arguments_of}
    results, failures, todo = {}, {}, []
    for track_id, arguments in arguments_of.items():
        done = paths[track_id].with_suffix(".json")
        record = json.loads(done.read_text()) if done.is_file() and paths[track_id].is_file() else {}
        if record.get("arguments") == arguments:
            results[track_id] = (paths[track_id], record["result"])
        else:
            todo.append((track_id, (*arguments, str(paths[track_id]))))
    outcomes = run_isolated(function, todo, workers=workers, timeout=timeout)
    bar = progress_bar(outcomes, total=len(todo), desc=description, unit="track", disable=not todo)
    for track_id, ok, value in bar:
        if ok:
            record = {"arguments": arguments_of[track_id], "result": value}
            atomic_write(paths[track_id].with_suffix(".json"), json.dumps(record).encode())
            results[track_id] = (paths[track_id], value)
        else:
            failures[track_id] = value
    return results, failures
