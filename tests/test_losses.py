"""Contrastive objectives against direct NumPy computations of their formulas, and edge cases."""

import numpy as np
import pytest

import musiczoo  # noqa: F401  (loads Essentia before TensorFlow)
import keras
import tensorflow as tf

from musiczoo.zoo import losses

RTOL = 1e-5


def _logsumexp(x, axis):
    top = x.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_bilinear_similarity_is_a_w_p_transposed(rng):
    anchors, positives = rng.normal(size=(6, 8)).astype("float32"), rng.normal(size=(5, 8)).astype("float32")
    layer = losses.BilinearSimilarity()
    similarity = keras.ops.convert_to_numpy(layer(anchors, positives))
    w = keras.ops.convert_to_numpy(layer.kernel).astype(np.float64)
    assert layer.kernel.trainable and w.shape == (8, 8)
    np.testing.assert_allclose(similarity, anchors @ w @ positives.T, rtol=RTOL, atol=1e-6)
    clone = losses.BilinearSimilarity.from_config(layer.get_config())
    assert clone.name == layer.name


def test_contrastive_cross_entropy_and_top1(rng):
    s = rng.normal(size=(7, 7)) * 3
    expected = np.mean(_logsumexp(s, 1) - np.diag(s))
    np.testing.assert_allclose(float(losses.contrastive_cross_entropy(s.astype("float32"))), expected, rtol=RTOL)
    expected_top1 = np.mean(s.argmax(1) == np.arange(7))
    assert float(losses.top1_accuracy(s)) == pytest.approx(expected_top1)


def test_perfect_alignment_top1_is_one_and_loss_falls_with_scale(rng):
    a = _unit(rng.normal(size=(16, 32))).astype("float32")
    assert float(losses.top1_accuracy(a @ a.T)) == 1.0
    assert float(losses.contrastive_cross_entropy(20 * a @ a.T)) < float(losses.contrastive_cross_entropy(a @ a.T))


def _nt_xent(a, p, t):
    z = _unit(np.concatenate([a, p]).astype(np.float64))
    n = len(a)
    logits = z @ z.T / t
    np.fill_diagonal(logits, -np.inf)
    positive = np.concatenate([np.arange(n) + n, np.arange(n)])
    return np.mean(_logsumexp(logits, 1) - logits[np.arange(2 * n), positive])


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_nt_xent_matches_numpy(rng, temperature):
    a, p = rng.normal(size=(9, 16)).astype("float32"), rng.normal(size=(9, 16)).astype("float32")
    np.testing.assert_allclose(float(losses.nt_xent(a, p, temperature)), _nt_xent(a, p, temperature), rtol=RTOL)


def test_nt_xent_is_symmetric_and_rewards_agreement(rng):
    a, p = rng.normal(size=(8, 16)), rng.normal(size=(8, 16))
    np.testing.assert_allclose(float(losses.nt_xent(a, p)), float(losses.nt_xent(p, a)), rtol=RTOL)
    assert float(losses.nt_xent(a, a)) < float(losses.nt_xent(a, p))


def test_word2vec_nt_xent_is_nt_xent_with_frozen_targets(rng):
    projections = tf.Variable(rng.normal(size=(6, 8)).astype("float32"))
    targets = tf.Variable(rng.normal(size=(6, 8)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = losses.word2vec_nt_xent(projections, targets)
    grad_projections, grad_targets = tape.gradient(loss, [projections, targets])
    np.testing.assert_allclose(float(loss), _nt_xent(projections.numpy(), targets.numpy(), 0.1), rtol=RTOL)
    assert grad_targets is None and np.abs(grad_projections.numpy()).sum() > 0


def _supcon(z, labels, t):
    z = _unit(z.astype(np.float64))
    n = len(z)
    logits = z @ z.T / t
    np.fill_diagonal(logits, -np.inf)
    log_prob = logits - _logsumexp(logits, 1)[:, None]
    per_anchor = []
    for i in range(n):
        positives = [j for j in range(n) if j != i and labels[j] == labels[i]]
        if positives:
            per_anchor.append(-np.mean(log_prob[i, positives]))
    return np.mean(per_anchor) if per_anchor else 0.0


@pytest.mark.parametrize("labels", [[0, 1, 0, 2, 1, 0, 3, 2], [5, 5, 5, 5, 5, 5, 5, 5]])
def test_supervised_contrastive_matches_numpy(rng, labels):
    z = rng.normal(size=(8, 12)).astype("float32")
    expected = _supcon(z, labels, 0.1)
    np.testing.assert_allclose(float(losses.supervised_contrastive(z, np.array(labels), 0.1)), expected, rtol=RTOL)


def test_supervised_contrastive_no_positive_guard(rng):
    z = rng.normal(size=(5, 12)).astype("float32")
    assert float(losses.supervised_contrastive(z, np.arange(5))) == 0.0  # no anchor has a positive: 0, not NaN
    labels = np.array([0, 0, 1, 2, 3])  # only anchors 0 and 1 have a positive
    np.testing.assert_allclose(float(losses.supervised_contrastive(z, labels)), _supcon(z, labels, 0.1), rtol=RTOL)


def test_multilabel_bce_from_probabilities_and_logits(rng):
    labels = (rng.random((6, 10)) < 0.3).astype("float32")
    logits = rng.normal(size=(6, 10)) * 2
    probabilities = 1 / (1 + np.exp(-logits))
    expected = -np.mean(labels * np.log(probabilities) + (1 - labels) * np.log(1 - probabilities))
    from_probabilities = losses.multilabel_bce(labels, probabilities.astype("float32"))
    np.testing.assert_allclose(float(from_probabilities), expected, rtol=RTOL)
    np.testing.assert_allclose(float(losses.multilabel_bce(labels, logits, from_logits=True)), expected, rtol=RTOL)


def test_losses_trace_in_tf_function_with_a_dynamic_batch(rng):
    layer = losses.BilinearSimilarity()
    spec = tf.TensorSpec([None, 8], tf.float32)

    @tf.function(input_signature=[spec, spec, tf.TensorSpec([None], tf.int32)])
    def step(a, p, labels):
        with tf.GradientTape() as tape:
            similarity = layer(a, p)
            total = (
                losses.contrastive_cross_entropy(similarity)
                + losses.nt_xent(a, p)
                + losses.supervised_contrastive(a, labels)
            )
        return total, losses.top1_accuracy(similarity), tape.gradient(total, layer.kernel)

    a, p = rng.normal(size=(5, 8)).astype("float32"), rng.normal(size=(5, 8)).astype("float32")
    layer(a, p)  # build outside the traced function
    total, top1, gradient = step(a, p, np.array([0, 0, 1, 1, 2], np.int32))
    assert np.isfinite(total.numpy()) and 0 <= top1.numpy() <= 1 and np.isfinite(gradient.numpy()).all()


def _mmc(anchors, candidates, negatives, t):
    a, c = _unit(anchors.astype(np.float64)), candidates.astype(np.float64)
    c = c / np.linalg.norm(c, axis=-1, keepdims=True)
    per_anchor = []
    for i in range(len(a)):
        others = [k for k in range(len(a)) if k != i and negatives[i, k]]
        if others:
            logits = np.array([a[i] @ c[i, k] for k in [i, *others]]) / t
            per_anchor.append(_logsumexp(logits, 0) - logits[0])
    return np.mean(per_anchor) if per_anchor else 0.0


def _era_negatives(eras, artists):
    """Text-shuffled pairs: another artist of the same era class."""
    eras, artists = np.asarray(eras), np.asarray(artists)
    return ((eras[:, None] == eras[None, :]) & (artists[:, None] != artists[None, :])).astype("float32")


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_multimodal_contrastive_matches_numpy(rng, temperature):
    anchors, candidates = rng.normal(size=(6, 8)).astype("float32"), rng.normal(size=(6, 6, 8)).astype("float32")
    negatives = _era_negatives([0, 0, 0, 1, 1, 2], [0, 1, 1, 2, 3, 4])  # anchor 5 has no negative
    expected = _mmc(anchors, candidates, negatives, temperature)
    got = losses.multimodal_contrastive(anchors, candidates, negatives, temperature)
    np.testing.assert_allclose(float(got), expected, rtol=RTOL)


def test_multimodal_contrastive_without_negatives_is_zero(rng):
    anchors, candidates = rng.normal(size=(4, 8)).astype("float32"), rng.normal(size=(4, 4, 8)).astype("float32")
    for negatives in (_era_negatives([0, 1, 2, 3], [0, 1, 2, 3]), _era_negatives([0, 0, 0, 0], [7, 7, 7, 7])):
        assert float(losses.multimodal_contrastive(anchors, candidates, negatives)) == 0.0


def test_multimodal_contrastive_rewards_the_matched_pair(rng):
    anchors = _unit(rng.normal(size=(4, 8))).astype("float32")
    candidates = rng.normal(size=(4, 4, 8)).astype("float32")
    negatives = _era_negatives([0, 0, 0, 0], [0, 1, 2, 3])
    aligned = candidates.copy()
    aligned[np.arange(4), np.arange(4)] = anchors
    assert float(losses.multimodal_contrastive(anchors, aligned, negatives)) < float(
        losses.multimodal_contrastive(anchors, candidates, negatives)
    )
