"""Positive-pair generators: which catalogue tracks a contrastive model sees as (anchor, positive).

Every generator takes the catalogue (a DataFrame, one row per track: ``track_id`` and list-valued
``artists``, ``releases``, ``labels``, ``playlists``) and a seed, and draws a fresh set of pairs each
epoch, deterministic for ``(seed, epoch)`` and independent of the catalogue's row order:

- ``pairs(epoch)``: str array ``(n, 2)`` of (anchor, positive) track ids, in random order;
- ``counts(epoch=0)``: ``pairs`` (that epoch), ``tracks`` (tracks that can be paired) and ``groups``
  (association groups that can yield a pair), the diversity of Table 1 of the Discogs paper.

Kinds (``make_generator``):

=========  ===================================================================================
track      (t, t): two patches of one track (Discogs/COLA)
release    share a release
artist     share an artist and no release
label      share a label and no artist
co         share a playlist (playlist paper, Co-Occurrence)
artist_co  share an artist: Co-Occurrence with each artist's tracks as a playlist (the paper's
           Artist CO baseline; unlike ``artist``, tracks of one release may pair)
tco        the positive is one of the anchor's ``top_k`` (10) most co-occurring tracks, counting
           the playlists both are in (ties: smaller track id); every such track anchors once
simclr     (t, t); the pipeline mixes each view with ``mix`` (the SimCLR baseline)
w2v        (t, t) for the tracks with a Word2Vec vector; ``track_vectors`` are the frozen targets
=========  ===================================================================================

The group kinds (release, artist, label, co, artist_co) pair tracks without replacement: each
track is in at most one pair per epoch (a pass over the pool), a track left alone in its group
yields none. Groups are visited in random order, each pairing its unused tracks greedily in random
order, so after a pass no two unused tracks of a group could still form a pair.
"""

import math
from collections import defaultdict
from functools import partial

import numpy as np
import pandas as pd
from scipy import sparse

LN10 = math.log(10.0)


def _values(cell):
    """A list-valued catalogue cell (list, array, None or NaN) as a tuple of distinct strings."""
    if not pd.api.types.is_list_like(cell):
        return () if pd.isna(cell) else (str(cell),)
    return tuple(dict.fromkeys(map(str, cell)))


def _groups(column):
    """Value -> int array of the rows holding it, for a list-valued column."""
    members = defaultdict(list)
    for row, cell in enumerate(column):
        for value in _values(cell):
            members[value].append(row)
    return {value: np.array(rows) for value, rows in members.items()}


class PairGenerator:
    """Base: the catalogue sorted by track id, a per-epoch random generator, shuffled pairs."""

    kind = None

    def __init__(self, catalogue, seed=0):
        if catalogue["track_id"].duplicated().any():
            raise ValueError("catalogue track_id values must be unique")
        self.catalogue = catalogue.assign(track_id=catalogue["track_id"].astype(str))
        self.catalogue = self.catalogue.sort_values("track_id", ignore_index=True)
        self.track_ids = self.catalogue["track_id"].to_numpy(str)
        self.seed = seed

    def pairs(self, epoch):
        """(anchor, positive) track ids of one epoch, shape ``(n, 2)``, in random order."""
        rng = np.random.default_rng([self.seed, epoch])
        rows = self._draw(rng).reshape(-1, 2)
        return self.track_ids[rows[rng.permutation(len(rows))]]

    def counts(self, epoch=0):
        """Pairs in one epoch, tracks that can be paired, association groups that can yield a pair."""
        return {"pairs": len(self.pairs(epoch)), **self._diversity()}

    def _draw(self, rng):
        raise NotImplementedError

    def _diversity(self):
        raise NotImplementedError


class SelfPairs(PairGenerator):
    """(t, t) for every track of the pool (all tracks): track, simclr."""

    def __init__(self, catalogue, seed=0):
        super().__init__(catalogue, seed)
        self.pool = np.arange(len(self.track_ids))

    def _draw(self, rng):
        return np.repeat(self.pool, 2)

    def _diversity(self):
        return {"tracks": len(self.pool), "groups": len(self.pool)}


class GroupPairs(PairGenerator):
    """Tracks sharing a ``key`` value and, when ``exclude`` names a column, none of its values."""

    def __init__(self, catalogue, seed=0, *, key, exclude=None):
        super().__init__(catalogue, seed)
        self.exclusive = [frozenset(_values(cell)) for cell in self.catalogue[exclude]] if exclude else None
        groups = (self._pairable(rows) for rows in _groups(self.catalogue[key]).values() if len(rows) > 1)
        self.groups = [rows for rows in groups if len(rows)]

    def _pairable(self, rows):
        """The rows of one group that have a partner in it."""
        if self.exclusive is None:
            return rows
        holders = defaultdict(set)
        for row in rows:
            for value in self.exclusive[row]:
                holders[value].add(row)
        # blocked[s]: rows of the group sharing a value with exclusive set s (a row with s included)
        blocked = {s: len(set().union(*(holders[v] for v in s))) for s in {self.exclusive[r] for r in rows}}
        return np.array([row for row in rows if blocked[self.exclusive[row]] < len(rows)], int)

    def _compatible(self, a, b):
        return self.exclusive is None or self.exclusive[a].isdisjoint(self.exclusive[b])

    def _draw(self, rng):
        used = np.zeros(len(self.track_ids), bool)
        pairs = []
        for group in rng.permutation(len(self.groups)):
            pending = []  # unused rows of this group without a partner yet
            for row in rng.permutation(self.groups[group]):
                if used[row]:
                    continue
                partner = next((p for p in pending if self._compatible(p, row)), None)
                if partner is None:
                    pending.append(row)
                else:
                    pending.remove(partner)
                    used[[partner, row]] = True
                    pairs.append((partner, row))
        return np.array(pairs, int)

    def _diversity(self):
        tracks = np.unique(np.concatenate(self.groups)) if self.groups else []
        return {"tracks": len(tracks), "groups": len(self.groups)}


class TopCoOccurrence(PairGenerator):
    """Each track co-occurring with another anchors once; its positive is drawn from its top_k.

    The co-occurrence matrix is sparse: memory grows with the sum of squared playlist lengths.
    """

    def __init__(self, catalogue, seed=0, top_k=10):
        super().__init__(catalogue, seed)
        playlists = _groups(self.catalogue["playlists"])
        rows = np.concatenate([np.zeros(0, int), *playlists.values()])
        columns = np.repeat(np.arange(len(playlists)), [len(r) for r in playlists.values()])
        incidence = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), (len(self.track_ids), len(playlists)))
        co = incidence @ incidence.T
        co = (co - sparse.diags(co.diagonal())).tocsr()
        co.eliminate_zeros()
        self.anchors = np.flatnonzero(np.diff(co.indptr))
        self.top = np.full((len(self.anchors), top_k), -1)
        self.sizes = np.zeros(len(self.anchors), int)
        for i, anchor in enumerate(self.anchors):
            span = slice(co.indptr[anchor], co.indptr[anchor + 1])
            top = co.indices[span][np.lexsort((co.indices[span], -co.data[span]))[:top_k]]
            self.top[i, : len(top)], self.sizes[i] = top, len(top)
        self.playlists = sum(len(r) > 1 for r in playlists.values())

    def _draw(self, rng):
        choice = (rng.random(len(self.anchors)) * self.sizes).astype(int)
        return np.stack([self.anchors, self.top[np.arange(len(self.anchors)), choice]], axis=1)

    def _diversity(self):
        return {"tracks": len(self.anchors), "groups": self.playlists}


class Word2VecTargets(SelfPairs):
    """CBOW Word2Vec over playlists (sentences of track ids); ``track_vectors``: track id -> vector.

    As the playlist paper: window = the longest playlist (every other track of a playlist is context,
    ``shrink_windows=False``), learning rate 0.02, 20 epochs; ``vector_size`` 128 = the projection's
    D'. No frequent-track downsampling (``sample=0``): the paper names none, and gensim's default
    1e-3 drops most occurrences of every track in a catalogue under ~1000 tracks. Deterministic:
    seeded, one worker. Playlists of one track teach nothing and are left out, so tracks in no
    longer playlist get no vector and no pair. ``word2vec`` overrides gensim options. The same
    vectors as an array: ``vectors`` (float32), its rows aligned with ``vector_ids``.
    """

    def __init__(self, catalogue, seed=0, vector_size=128, **word2vec):
        from gensim.models import Word2Vec

        super().__init__(catalogue, seed)
        sentences = [list(self.track_ids[rows]) for rows in _groups(self.catalogue["playlists"]).values()]
        sentences = [sentence for sentence in sentences if len(sentence) > 1]
        if not sentences:
            raise ValueError("w2v pairs need playlists of at least two tracks")
        options = dict(
            vector_size=vector_size,
            sg=0,
            window=max(map(len, sentences)),
            shrink_windows=False,
            alpha=0.02,
            epochs=20,
            min_count=1,
            sample=0,
            seed=seed,
            workers=1,
        )
        model = Word2Vec(sentences, **(options | word2vec))
        self.pool = np.flatnonzero(np.isin(self.track_ids, model.wv.index_to_key))
        self.vector_ids = self.track_ids[self.pool]
        self.vectors = model.wv[list(self.vector_ids)].astype(np.float32)
        self.track_vectors = dict(zip(self.vector_ids, self.vectors))
        self.playlists = len(sentences)

    def _diversity(self):
        return {"tracks": len(self.pool), "groups": self.playlists}


def mix(patch, others, rng, gain=(5.0, 2.0)):
    """SimCLR mixing augmentation: a random patch of ``others`` added under the patch, on MusiCNN log-mels.

    ``out = log10(g 10**patch + (1 - g) 10**other)`` with ``g ~ Beta(5, 2)`` (mean 5/7: the patch
    dominates). As MusiCNN mels are ``y = log10(1 + 1e4 x)`` of mel power ``x``, this is exactly
    ``y(g x_patch + (1 - g) x_other)``: a convex mix in the linear power domain, where two sounds
    add (up to phase cross-terms); mixing log values would multiply spectra instead. ``patch`` is
    ``(..., frames, bands)``, one gain and one other patch for each leading index; float32 out.
    """
    patch = np.asarray(patch, np.float64)
    lead = patch.shape[:-2]
    other = np.asarray(others)[rng.integers(len(others), size=lead)].astype(np.float64)
    g = rng.beta(*gain, size=lead + (1, 1))
    return (np.logaddexp(np.log(g) + LN10 * patch, np.log1p(-g) + LN10 * other) / LN10).astype(np.float32)


_KINDS = {
    "track": SelfPairs,
    "release": partial(GroupPairs, key="releases"),
    "artist": partial(GroupPairs, key="artists", exclude="releases"),
    "label": partial(GroupPairs, key="labels", exclude="artists"),
    "co": partial(GroupPairs, key="playlists"),
    "tco": TopCoOccurrence,
    "artist_co": partial(GroupPairs, key="artists"),
    "simclr": SelfPairs,  # the track generator: the SimCLR baseline differs by `mixing: true` in its config
    "w2v": Word2VecTargets,
}
KINDS = tuple(_KINDS)


def make_generator(kind, catalogue, seed=0, **options):
    """The pair generator of ``kind`` (one of ``KINDS``); ``options``: tco ``top_k``, w2v gensim options."""
    if kind not in _KINDS:
        raise ValueError(f"unknown pair kind {kind!r}: one of {', '.join(KINDS)}")
    generator = _KINDS[kind](catalogue, seed, **options)
    generator.kind = kind
    return generator
