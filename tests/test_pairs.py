"""Pair generators on small hand-made catalogues: every association rule, determinism, counts."""

import numpy as np
import pandas as pd
import pytest

import musiczoo  # noqa: F401  (loads Essentia before TensorFlow)
from musiczoo.train.pairs import KINDS, make_generator, mix

GROUP_RULES = {  # kind: (shared column, column that must share nothing)
    "release": ("releases", None),
    "artist": ("artists", "releases"),
    "label": ("labels", "artists"),
    "co": ("playlists", None),
    "artist_co": ("artists", None),
}


def catalogue(rows):
    """A catalogue from ``(track_id, artists, releases, labels, playlists)`` rows."""
    frame = pd.DataFrame(rows, columns=["track_id", "artists", "releases", "labels", "playlists"])
    return frame.assign(path=frame.track_id + ".ogg", duration=30.0, tags=[[] for _ in rows], year=None)


@pytest.fixture
def discogs():
    return catalogue(
        [
            ("a1", ["A"], ["R1"], ["L1"], ["P1"]),
            ("a2", ["A"], ["R1"], ["L1"], ["P1"]),
            ("a3", ["A"], ["R2"], ["L1"], ["P2"]),
            ("a4", ["A"], ["R2"], ["L2"], []),
            ("b1", ["B"], ["R3"], ["L1"], ["P1", "P2"]),
            ("b2", ["B"], ["R3"], ["L2"], ["P2"]),
            ("c1", ["C"], ["R4"], ["L3"], []),  # alone in every group
            ("d1", ["D", "A"], ["R5"], ["L2"], ["P3"]),  # A features on D's release
            ("d2", ["D"], ["R5"], ["L2"], ["P3"]),
            ("e1", ["E"], ["R6"], ["L4"], ["P4"]),  # E's two tracks share their only release
            ("e2", ["E"], ["R6"], ["L4"], ["P4"]),
        ]
    )


def random_catalogue(seed, n=150):
    rng = np.random.default_rng(seed)

    def values(prefix, vocabulary, most):
        return [f"{prefix}{v}" for v in rng.choice(vocabulary, rng.integers(0, most + 1), replace=False)]

    return catalogue(
        [(f"t{i:03d}", values("A", 30, 2), values("R", 40, 2), values("L", 8, 2), values("P", 25, 3)) for i in range(n)]
    )


def check_group_pairs(pairs, frame, kind):
    """Shared key, nothing shared in the exclusive column, each track once, and no pair left to make."""
    key, exclude = GROUP_RULES[kind]
    shared = dict(zip(frame.track_id, map(set, frame[key])))
    exclusive = dict(zip(frame.track_id, map(set, frame[exclude]))) if exclude else None

    def compatible(a, b):
        return a != b and shared[a] & shared[b] and not (exclude and exclusive[a] & exclusive[b])

    assert pairs.shape[1] == 2 and len(set(pairs.ravel())) == pairs.size
    assert all(compatible(a, b) for a, b in pairs)
    unused = sorted(set(frame.track_id) - set(pairs.ravel()))
    assert not [(a, b) for a in unused for b in unused if compatible(a, b)]


@pytest.mark.parametrize("kind", sorted(GROUP_RULES))
def test_group_rules_on_random_catalogues(kind):
    for seed in range(3):
        frame = random_catalogue(seed)
        generator = make_generator(kind, frame, seed=seed)
        for epoch in range(4):
            check_group_pairs(generator.pairs(epoch), frame, kind)


@pytest.mark.parametrize("kind", sorted(GROUP_RULES))
def test_group_rules_on_hand_catalogue(discogs, kind):
    generator = make_generator(kind, discogs, seed=1)
    for epoch in range(20):
        check_group_pairs(generator.pairs(epoch), discogs, kind)


def test_release_counts(discogs):
    generator = make_generator("release", discogs, seed=0)
    assert generator.counts() == {"pairs": 5, "tracks": 10, "groups": 5}  # R1 R2 R3 R5 R6; c1 alone
    expected = [("a1", "a2"), ("a3", "a4"), ("b1", "b2"), ("d1", "d2"), ("e1", "e2")]
    assert {frozenset(p) for p in generator.pairs(3)} == set(map(frozenset, expected))


def test_artist_pairs_never_share_a_release(discogs):
    generator = make_generator("artist", discogs, seed=0)
    # only artist A can pair (B, D and E each sit on one release); a1/a2 and a3/a4 never pair
    assert generator.counts() == {"pairs": 2, "tracks": 5, "groups": 1}
    seen = {frozenset(p) for epoch in range(30) for p in generator.pairs(epoch)}
    assert seen == {
        frozenset(p)
        for p in [
            ("a1", "a3"),
            ("a1", "a4"),
            ("a2", "a3"),
            ("a2", "a4"),
            ("d1", "a1"),
            ("d1", "a2"),
            ("d1", "a3"),
            ("d1", "a4"),
        ]
    }


def test_artist_co_treats_each_artist_as_a_playlist(discogs):
    generator = make_generator("artist_co", discogs, seed=0)
    assert generator.counts()["groups"] == 4  # A, B, D, E: a shared release is allowed
    assert all({"e1", "e2"} in [set(p) for p in generator.pairs(epoch)] for epoch in range(5))


def test_label_pairs_never_share_an_artist(discogs):
    generator = make_generator("label", discogs, seed=0)
    counts = [generator.counts(epoch) for epoch in range(20)]
    assert {(c["tracks"], c["groups"]) for c in counts} == {(8, 2)}  # L1, L2; L3 alone, L4 all E
    assert {c["pairs"] for c in counts} <= {2, 3}  # L1 always one (b1 with an A track), L2 one or two
    for epoch in range(20):
        assert sum("b1" in p for p in generator.pairs(epoch)) == 1


def test_co_pairs_share_a_playlist(discogs):
    generator = make_generator("co", discogs, seed=0)
    assert generator.counts()["groups"] == 4 and generator.counts()["tracks"] == 9  # all but a4, c1


@pytest.mark.parametrize("kind", ["track", "simclr"])
def test_self_pairs(discogs, kind):
    generator = make_generator(kind, discogs, seed=0)
    pairs = generator.pairs(0)
    assert (pairs[:, 0] == pairs[:, 1]).all() and sorted(pairs[:, 0]) == sorted(discogs.track_id)
    assert generator.counts() == {"pairs": 11, "tracks": 11, "groups": 11}


@pytest.fixture
def playlists():
    b = [f"b{i:02d}" for i in range(1, 11)]
    rows = {track: [] for track in ["x", *b, "c1", "c2", "lonely"]}
    for name, tracks in {"Q1": ["x", *b, "c1", "c2"], "Q2": ["x", *b]}.items():
        for track in tracks:
            rows[track].append(name)
    return catalogue([(track, [], [], [], names) for track, names in rows.items()])


def positives_of(generator, anchor, epochs=200):
    return {p for epoch in range(epochs) for a, p in generator.pairs(epoch) if a == anchor}


def test_tco_positive_is_among_the_top_10(playlists):
    generator = make_generator("tco", playlists, seed=0)
    b = {f"b{i:02d}" for i in range(1, 11)}
    assert positives_of(generator, "x") == b  # x meets each b twice, c1 and c2 once
    assert positives_of(generator, "c1") == b  # 12 tied at one: ties go to the smaller ids
    for epoch in range(5):
        anchors = generator.pairs(epoch)[:, 0]
        assert sorted(anchors) == sorted(set(playlists.track_id) - {"lonely"})  # each anchors once
    assert generator.counts() == {"pairs": 13, "tracks": 13, "groups": 2}


def test_tco_top_k_option(playlists):
    assert positives_of(make_generator("tco", playlists, seed=0, top_k=2), "x") == {"b01", "b02"}


def test_mix_is_a_convex_mix_in_the_linear_power_domain():
    rng = np.random.default_rng(0)
    patch, other = rng.uniform(2, 3, (128, 96)).astype(np.float16), rng.uniform(0, 1, (128, 96))
    out = mix(patch, other[None], np.random.default_rng(1))
    assert out.dtype == np.float32 and out.shape == patch.shape
    patch, out = patch.astype(np.float64), out.astype(np.float64)
    gain = (10**out - 10**other) / (10**patch - 10**other)  # one gain for every bin
    assert 0 < gain.mean() < 1 and gain.std() < 1e-5
    linear = lambda y: (10**y - 1) / 1e4  # noqa: E731  (MusiCNN: y = log10(1 + 1e4 x))
    expected = np.log10(1 + 1e4 * (gain.mean() * linear(patch) + (1 - gain.mean()) * linear(other)))
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_mix_draws_one_gain_and_partner_per_patch():
    rng = np.random.default_rng(0)
    patches, others = np.zeros((4000, 2, 3)), np.ones((5, 2, 3))
    out = mix(patches, others, rng)
    gain = (10 ** out[:, 0, 0] - 10) / (1 - 10)
    assert out.shape == patches.shape and out.dtype == np.float32
    assert abs(gain.mean() - 5 / 7) < 0.02 and len(np.unique(gain)) > 3900
    np.testing.assert_array_equal(
        mix(patches[:3], others, np.random.default_rng(5)), mix(patches[:3], others, np.random.default_rng(5))
    )


@pytest.fixture
def clusters():
    rng = np.random.default_rng(0)
    rows = {f"{c}{i}": [] for c in "uv" for i in range(10)}
    for p in range(60):
        cluster = "uv"[p % 2]
        for i in rng.choice(10, 5, replace=False):
            rows[f"{cluster}{i}"].append(f"P{p}")
    rows |= {"lonely": [], "single": ["solo"]}
    return catalogue([(track, [], [], [], names) for track, names in rows.items()])


def test_w2v_vectors_put_playlist_neighbours_closer(clusters):
    generator = make_generator("w2v", clusters, seed=0)
    assert sorted(generator.vector_ids) == sorted(set(clusters.track_id) - {"lonely", "single"})
    vectors = generator.vectors / np.linalg.norm(generator.vectors, axis=1, keepdims=True)
    assert vectors.shape == (20, 128) and generator.vectors.dtype == np.float32
    cosine = vectors @ vectors.T
    same = np.equal.outer([t[0] for t in generator.vector_ids], [t[0] for t in generator.vector_ids])
    within, across = cosine[same & ~np.eye(20, dtype=bool)].mean(), cosine[~same].mean()
    assert within > across + 0.2, (within, across)
    np.fill_diagonal(cosine, -1)
    assert same[np.arange(20), cosine.argmax(1)].all()  # every track's nearest neighbour: its cluster
    pairs = generator.pairs(0)
    assert (pairs[:, 0] == pairs[:, 1]).all() and sorted(pairs[:, 0]) == sorted(generator.vector_ids)
    assert generator.counts() == {"pairs": 20, "tracks": 20, "groups": 60}


def test_w2v_is_seeded_and_maps_track_ids_to_vectors(clusters):
    first, again = make_generator("w2v", clusters, seed=3), make_generator("w2v", clusters, seed=3)
    np.testing.assert_array_equal(first.vectors, again.vectors)
    assert not np.allclose(first.vectors, make_generator("w2v", clusters, seed=4).vectors)
    np.testing.assert_array_equal(np.stack([first.track_vectors[t] for t in ["v3", "u1"]]), first.vectors[[13, 1]])
    assert set(first.track_vectors) == set(first.vector_ids) and "lonely" not in first.track_vectors


@pytest.mark.parametrize("kind", KINDS)
def test_deterministic_per_epoch_and_different_across_epochs(kind):
    frame = random_catalogue(7)
    generator = make_generator(kind, frame, seed=11)
    pairs = generator.pairs(2)
    np.testing.assert_array_equal(pairs, generator.pairs(2))
    np.testing.assert_array_equal(pairs, make_generator(kind, frame, seed=11).pairs(2))
    shuffled = frame.sample(frac=1, random_state=0)  # row order does not matter
    np.testing.assert_array_equal(pairs, make_generator(kind, shuffled, seed=11).pairs(2))
    assert not np.array_equal(pairs, generator.pairs(3))
    assert not np.array_equal(pairs, make_generator(kind, frame, seed=12).pairs(2))
    assert pairs.dtype.kind == "U" and len(pairs) == generator.counts(2)["pairs"] > 0


def test_parquet_style_cells(discogs):
    as_arrays = discogs.assign(
        **{
            c: [None if not v else np.array(v) for v in discogs[c]]
            for c in ["artists", "releases", "labels", "playlists"]
        }
    )
    for kind in GROUP_RULES:
        np.testing.assert_array_equal(
            make_generator(kind, discogs, seed=2).pairs(0), make_generator(kind, as_arrays, seed=2).pairs(0)
        )


def test_factory_rejects_unknown_kinds_and_duplicate_ids(discogs):
    assert set(KINDS) == {"track", "release", "artist", "label", "co", "tco", "artist_co", "simclr", "w2v"}
    with pytest.raises(ValueError, match="unknown pair kind 'album'"):
        make_generator("album", discogs)
    with pytest.raises(ValueError, match="unique"):
        make_generator("track", pd.concat([discogs, discogs.iloc[:1]]))
    assert make_generator("label", discogs).kind == "label"


def test_empty_pools_give_no_pairs():
    frame = catalogue([("t1", ["A"], ["R"], [], []), ("t2", ["B"], ["S"], [], [])])
    for kind in ["release", "artist", "label", "co", "tco", "artist_co"]:
        generator = make_generator(kind, frame, seed=0)
        assert generator.pairs(0).shape == (0, 2)
        assert generator.counts() == {"pairs": 0, "tracks": 0, "groups": 0}
