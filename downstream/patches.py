"""Patch rows and the tracks they belong to: train on patches, evaluate per track.

``musiczoo extract`` gives one ``(patches, dim)`` array per track. Training uses every patch
(labelled with its track's labels); evaluation averages the patch activations of each track
(half-overlapped patches, as extract cuts them).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse


@dataclass(frozen=True)
class Patches:
    """``rows`` (n_patches, *features) float32, ``track`` (n_patches,) track index of each row.

    ``per_row``: the input was one 2-D table (with ``groups``), so results go back one per row
    (each row gets its track's value, the scikit-learn convention); otherwise one per track.
    """

    rows: np.ndarray
    track: np.ndarray
    n_tracks: int
    per_row: bool = False

    @classmethod
    def of(cls, X, groups=None, feature_rank=1):
        """Patches of ``X``: a list of per-track arrays ``(patches, *features)``, or an array.

        An array of rank ``feature_rank + 1`` is a table of rows: each row is one track, or
        ``groups`` (one id per row) says which rows form a track. An array of rank
        ``feature_rank + 2`` is ``(tracks, patches, *features)``.
        """
        if isinstance(X, np.ndarray) and X.ndim == feature_rank + 1:
            rows = np.asarray(X, np.float32)
            if groups is None:
                return cls(rows, np.arange(len(rows)), len(rows), per_row=True)
            if len(groups) != len(rows):
                raise ValueError(f"groups has {len(groups)} entries for {len(rows)} rows of X")
            track, uniques = pd.factorize(np.asarray(groups), use_na_sentinel=False)
            return cls(rows, track, len(uniques), per_row=True)
        if groups is not None:
            raise ValueError("groups applies to a 2-D X (one row per patch); X is already split per track")
        tracks = [np.asarray(t, np.float32) for t in X]
        if not tracks:
            raise ValueError("X is empty: no tracks")
        shape = tracks[0].shape[1:]
        for index, track in enumerate(tracks):
            if track.ndim != feature_rank + 1:
                raise ValueError(
                    f"track {index}: expected (patches, {'x'.join(['dim'] * feature_rank)}) "
                    f"of rank {feature_rank + 1}, got shape {track.shape}"
                )
            if track.shape[1:] != shape:
                raise ValueError(
                    f"track {index}: patches of shape {track.shape[1:]}, but track 0 has {shape} "
                    "(embeddings of different models or nodes mixed?)"
                )
            if len(track) == 0:
                raise ValueError(f"track {index} has no patches")
        counts = np.array([len(t) for t in tracks])
        return cls(np.concatenate(tracks), np.repeat(np.arange(len(tracks)), counts), len(tracks))

    @property
    def features(self):
        """The shape of one patch: ``(dim,)`` for embeddings."""
        return self.rows.shape[1:]

    def mean(self, values):
        """Per-track average of per-row ``values`` ``(n_patches, ...)`` -> ``(n_tracks, ...)``."""
        counts = np.bincount(self.track, minlength=self.n_tracks)
        averaging = sparse.csr_matrix(
            (1.0 / counts[self.track], (self.track, np.arange(len(self.track)))), shape=(self.n_tracks, len(self.track))
        )
        means = np.asarray(averaging @ values.reshape(len(values), -1), np.float32)
        return means.reshape(self.n_tracks, *values.shape[1:])

    def per_track(self, y):
        """Track-level labels from ``y`` given as the input was (per row or per track)."""
        if len(y) != (len(self.rows) if self.per_row else self.n_tracks):
            raise ValueError(
                f"y has {len(y)} entries for {len(self.rows) if self.per_row else self.n_tracks} "
                f"{'rows' if self.per_row else 'tracks'} of X"
            )
        if not self.per_row:
            return y
        first = np.unique(self.track, return_index=True)[1]
        return y[first] if isinstance(y, np.ndarray) else [y[i] for i in first]

    def output(self, track_values):
        """Per-track results returned the way the input came: per row or per track."""
        return track_values[self.track] if self.per_row else track_values

    def subset(self, tracks):
        """The patches of the given track indices, renumbered in that order."""
        tracks = np.asarray(tracks)
        new_index = np.full(self.n_tracks, -1)
        new_index[tracks] = np.arange(len(tracks))
        keep = new_index[self.track] >= 0
        return Patches(self.rows[keep], new_index[self.track[keep]], len(tracks))
