"""The feature store: log-mels of every catalogue track, float16, in memory-mapped shards.

The mels are those of one front-end of :data:`~musiczoo.zoo.frontends.STORE_FRONT_ENDS`, named in
``store.json`` (MusiCNN's by default; ``era_paper``: the music-era paper's 224-band mels).

Layout of a store folder::

    store.json            frontend (its name), dtype, bands
    shards/00000.npy      float16 (frames, bands): the mels of a run of tracks, back to back
    shards/00000.parquet  one row per track of that shard: track_id, path, duration, start,
                          frames (0 when excluded), reason (why excluded, else empty), and the
                          size and mtime_ns of the file when it was read (-1: no file)

A shard's ``.npy`` and ``.parquet`` are each written atomically, the ``.parquet`` last: a shard
counts once its ``.parquet`` exists, so a killed build loses at most the shard in flight and
resumes with the tracks no finished shard holds. Reading maps shards lazily: a random patch of
any track costs one small read, and RAM stays bounded whatever the store's size.

The store follows its catalogue: each build first drops from the shard indexes the tracks that
left the catalogue, moved to another path, or whose file changed size or modification time since
it was read (edited, replaced, fixed or appeared), then computes every track no index holds. A
dropped track's frames stay in its shard's ``.npy`` until ``rebuild=True`` recomputes the store.
"""

import contextlib
import json
import multiprocessing
from pathlib import Path

import numpy as np
import pandas as pd

from musiczoo.extractors.audio import AudioError, load_audio
from musiczoo.extractors.mel import melspectrogram
from musiczoo.fileio import atomic_save_npy, atomic_save_parquet, atomic_write, folder_lock
from musiczoo.progress import progress_bar
from musiczoo.zoo.frontends import STORE_FRONT_ENDS, store_front_end

STORE_FILE = "store.json"
SHARDS = "shards"
DTYPE = np.float16
INDEX_COLUMNS = ["track_id", "path", "duration", "shard", "start", "frames", "reason", "size", "mtime_ns"]


def _stat(path):
    """``(size, mtime_ns)`` of the file at ``path``; ``(-1, -1)`` when there is none."""
    try:
        stat = Path(path).stat()
    except OSError:
        return -1, -1
    return stat.st_size, stat.st_mtime_ns


def _track_mel(item):
    """Worker: ``(track_id, path, min_frames, frontend) -> (track_id, path, duration, mel or None, reason, stat)``."""
    track_id, path, min_frames, frontend = item
    spec = STORE_FRONT_ENDS[frontend]
    stat = _stat(path)  # before reading: a file changed while read is read again next time
    try:
        audio = load_audio(path, spec.sample_rate)
        mel = melspectrogram(audio, spec).astype(DTYPE)
        if len(mel) < min_frames:
            raise AudioError(f"too short: {len(mel)} frames < {min_frames}")
        return track_id, path, audio.size / spec.sample_rate, mel, "", stat
    except (AudioError, RuntimeError, ValueError) as error:
        return track_id, path, float("nan"), None, str(error), stat


def _write_shard(folder, shard, results, bands):
    """Write one shard: the mels back to back, then its index (which makes it count)."""
    mels = [mel for *_, mel, _, _ in results if mel is not None]
    data = np.concatenate(mels) if mels else np.zeros((0, bands), DTYPE)
    atomic_save_npy(folder / SHARDS / f"{shard:05d}.npy", data)
    rows, start = [], 0
    for track_id, path, duration, mel, reason, (size, mtime_ns) in results:
        frames = 0 if mel is None else len(mel)
        rows.append((track_id, path, duration, shard, start, frames, reason, size, mtime_ns))
        start += frames
    atomic_save_parquet(folder / SHARDS / f"{shard:05d}.parquet", pd.DataFrame(rows, columns=INDEX_COLUMNS))


def _remove_shard(folder, shard):
    """Delete a shard: its index first (it stops counting), then its mels."""
    for suffix in (".parquet", ".npy"):
        (folder / SHARDS / f"{shard:05d}{suffix}").unlink(missing_ok=True)


def _drop_stale(folder, tracks):
    """Drop from the shard indexes the tracks not in ``tracks`` at the same path with an unchanged file.

    Each shard's index is rewritten atomically (a shard left empty is deleted), so a build killed
    here finds the dropped tracks pending. Returns the index kept.
    """
    index = read_index(folder)
    paths = dict(zip(tracks.track_id.astype(str), tracks.path.astype(str)))
    recorded = zip(index.track_id, index.path, index["size"], index.mtime_ns)
    current = [paths.get(t) == p and _stat(p) == (size, mtime) for t, p, size, mtime in recorded]
    kept = index[np.array(current, bool)]
    for shard in set(index.shard) - set(kept.shard):
        _remove_shard(folder, shard)
    totals = index.shard.value_counts()
    for shard, rows in kept.groupby("shard"):
        if len(rows) < totals[shard]:
            part = folder / SHARDS / f"{shard:05d}.parquet"
            atomic_save_parquet(part, rows.astype({"size": np.int64, "mtime_ns": np.int64}))
    return kept


def read_index(folder):
    """Every finished shard's rows (kept and excluded tracks)."""
    parts = sorted((Path(folder) / SHARDS).glob("*.parquet"))
    if not parts:
        return pd.DataFrame(columns=INDEX_COLUMNS)
    return pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True).reindex(columns=INDEX_COLUMNS)


def _write_store(folder, tracks, spec, frontend, workers, shard_tracks, min_frames, progress, rebuild):
    """:func:`build_store`'s writing, its folder lock held: clean up after a killed build, drop stale
    tracks, compute the pending ones shard by shard."""
    (folder / SHARDS).mkdir(parents=True, exist_ok=True)
    atomic_write(
        folder / STORE_FILE,
        json.dumps({"frontend": spec.name, "dtype": np.dtype(DTYPE).name, "bands": spec.n_bands}).encode(),
    )
    for stale in (folder / SHARDS).glob(".*.part"):  # a killed build's shard in flight
        stale.unlink()
    for part in list((folder / SHARDS).glob("*.parquet")) if rebuild else []:
        _remove_shard(folder, int(part.stem))
    for mels in list((folder / SHARDS).glob("*.npy")):  # no index: a killed build's, or a removed shard's
        if not mels.with_suffix(".parquet").exists():
            mels.unlink()
    done = _drop_stale(folder, tracks)
    pending = tracks[~tracks.track_id.isin(done.track_id)]
    next_shard = max((int(part.stem) + 1 for part in (folder / SHARDS).glob("*.parquet")), default=0)
    items = [(str(t), str(p), min_frames, frontend) for t, p in zip(pending.track_id, pending.path)]
    with contextlib.ExitStack() as stack:
        imap = map
        if workers > 1:  # spawn: never fork a process that may hold TensorFlow
            imap = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers)).imap
        bar = stack.enter_context(
            progress_bar(total=len(items), desc="mel features", unit="track", disable=not progress)
        )
        buffer = []
        for result in imap(_track_mel, items):
            buffer.append(result)
            bar.update()
            if len(buffer) == shard_tracks:
                _write_shard(folder, next_shard, buffer, spec.n_bands)
                next_shard, buffer = next_shard + 1, []
        if buffer:
            _write_shard(folder, next_shard, buffer, spec.n_bands)


def build_store(
    tracks, folder, workers=1, shard_tracks=64, min_frames=128, progress=True, rebuild=False, frontend="musicnn"
):
    """Compute the ``frontend`` mels (a name in ``STORE_FRONT_ENDS``) of ``tracks`` (a frame with ``track_id``
    and ``path``) into ``folder``.

    Resumable: tracks already in a finished shard are skipped, unless their file changed since;
    tracks no longer in ``tracks`` leave the store; ``rebuild`` recomputes every track (and may change
    the front-end of a store). Unusable audio is recorded with its reason and never stops the build.
    One build writes a folder at a time: a second raises :class:`~musiczoo.fileio.FolderBusyError`.
    Returns the store's index.
    """
    folder = Path(folder)
    if frontend not in STORE_FRONT_ENDS:
        raise ValueError(f"unknown front-end {frontend!r}; expected one of {', '.join(STORE_FRONT_ENDS)}")
    spec = STORE_FRONT_ENDS[frontend]
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file: a feature store is a folder (give a new or existing one)")
    held = json.loads((folder / STORE_FILE).read_text())["frontend"] if (folder / STORE_FILE).exists() else None
    if held not in (None, frontend) and not rebuild:
        raise ValueError(f"{folder} holds {held} mels: give another folder for {frontend} ones, or rebuild it")
    with folder_lock(folder, "feature-store build"):
        _write_store(folder, tracks, spec, frontend, workers, shard_tracks, min_frames, progress, rebuild)
    return read_index(folder)


def check_bands(store, bands, model):
    """Raise unless the mels of ``store`` (a :class:`FeatureStore`) have the ``bands`` that ``model`` takes."""
    if store.meta["bands"] != bands:
        wanted = store_front_end(bands)
        fix = "no store front-end computes them"
        if wanted:
            fix = f"build its store with `musiczoo data features --frontend {wanted.name}`"
        raise ValueError(
            f"{store.folder} holds {store.meta['bands']}-band {store.meta['frontend']} mels; {model} takes "
            f"{bands}-band mels: {fix}"
        )


class FeatureStore:
    """Read access to a store: track metadata, whole mels and random patches."""

    def __init__(self, folder):
        self.folder = Path(folder)
        if not (self.folder / STORE_FILE).exists():
            raise FileNotFoundError(f"{self.folder} is not a feature store ({STORE_FILE} missing)")
        self.meta = json.loads((self.folder / STORE_FILE).read_text())
        index = read_index(self.folder)
        self.excluded = index[index.frames == 0].reset_index(drop=True)
        self.index = index[index.frames > 0].reset_index(drop=True)
        self._row = {track_id: i for i, track_id in enumerate(self.index.track_id)}
        self._where = self.index[["shard", "start", "frames"]].to_numpy(np.int64)
        self._shards = {}

    def __len__(self):
        return len(self.index)

    def __contains__(self, track_id):
        return track_id in self._row

    def _shard(self, shard):
        if shard not in self._shards:
            self._shards[shard] = np.load(self.folder / SHARDS / f"{shard:05d}.npy", mmap_mode="r")
        return self._shards[shard]

    def _locate(self, track_id):
        shard, start, frames = self._where[self._row[track_id]]
        return self._shard(shard), start, frames

    def mel(self, track_id):
        """The whole log-mel of a track, float32 (frames, bands)."""
        data, start, frames = self._locate(track_id)
        return np.asarray(data[start : start + frames], np.float32)

    def patch(self, track_id, size, offset=None, rng=None):
        """A ``size``-frame patch at ``offset`` (random when None; tracks shorter are zero-padded)."""
        data, start, frames = self._locate(track_id)
        if offset is None:
            offset = (rng or np.random.default_rng()).integers(0, max(frames - size, 0) + 1)
        patch = np.asarray(data[start + offset : start + min(offset + size, frames)], np.float32)
        return patch if len(patch) == size else np.pad(patch, ((0, size - len(patch)), (0, 0)))

    def frames(self, track_id):
        return int(self._where[self._row[track_id], 2])

    def info(self):
        """Tracks, hours, size on disk, and the excluded files with their reasons."""
        size = sum(p.stat().st_size for p in (self.folder / SHARDS).iterdir())
        return {
            "tracks": len(self.index),
            "hours": float(self.index.duration.sum() / 3600),
            "frames": int(self.index.frames.sum()),
            "shards": int(self.index.shard.nunique()),
            "size_mb": size / 1e6,
            "excluded": self.excluded[["track_id", "path", "reason"]].to_dict("records"),
        }
