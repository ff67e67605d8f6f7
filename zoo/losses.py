"""Training objectives, in Keras 3 ops: they run eagerly, in ``tf.function`` and on any device.

Each loss returns the mean over its anchors as a float32 scalar (inputs are cast to float32, so
mixed-precision models are safe). Rows are anchors; in-batch items are the negatives: with
``negatives="global"`` (the default) inside ``strategy.run``, those of the whole global batch
(:func:`musiczoo.zoo.replicas.global_batch`), each replica's own rows its anchors, and the mean of the
replicas' losses is the loss of the global batch on one device (for equal parts of it).
"""

import keras
from keras import layers, ops

from musiczoo.zoo.replicas import global_batch

_MASK = 1e9  # subtracted from self-similarity logits (as SimCLR): finite, so 0 * masked stays 0


class BilinearSimilarity(layers.Layer):
    """COLA similarity ``s = A W P^T`` of anchor (n, d) and positive (m, d) projections; ``W`` (d, d).

    ``W`` starts random-normal, as in COLA's reference code.
    """

    def __init__(self, initializer="random_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, anchors_shape, positives_shape):
        shape = (anchors_shape[-1], positives_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=shape, initializer=self.initializer)

    def call(self, anchors, positives):
        return ops.matmul(ops.matmul(anchors, self.kernel), ops.transpose(positives))

    def get_config(self):
        return super().get_config() | {"initializer": keras.initializers.serialize(self.initializer)}


def contrastive_cross_entropy(similarity, offset=0):
    """COLA loss: softmax cross-entropy of each row of ``similarity`` (n, m), column ``offset + i`` row i's target.

    ``similarity`` holds n anchors against m in-batch candidates: (n, n) with its diagonal the
    targets on one device; (n_local, n_global) against the global batch, ``offset`` this replica's
    first row in it (:func:`musiczoo.zoo.replicas.global_batch`).
    """
    similarity = ops.cast(similarity, "float32")
    target = ops.take_along_axis(similarity, (offset + ops.arange(ops.shape(similarity)[0]))[:, None], axis=1)
    return ops.mean(ops.logsumexp(similarity, axis=1) - target[:, 0])


def top1_accuracy(similarity, offset=0):
    """COLA's training metric: the fraction of rows i whose largest entry is their target, column ``offset + i``."""
    hits = ops.equal(ops.argmax(similarity, axis=1), offset + ops.arange(ops.shape(similarity)[0]))
    return ops.mean(ops.cast(hits, "float32"))


def nt_xent(anchors, positives, temperature=0.1, negatives="global"):
    """SimCLR NT-Xent: 2N-way softmax over cosine similarity / temperature, self-similarity masked.

    Every one of the 2N views anchors once (its pair the positive, the other 2N - 2 views the
    negatives); the mean is over the 2N, as the SimCLR paper writes it. Under a strategy the N
    pairs are the global batch's and each replica's 2n views anchor (``negatives="global"``).
    """
    a = ops.normalize(ops.cast(anchors, "float32"), axis=1)
    p = ops.normalize(ops.cast(positives, "float32"), axis=1)
    z = ops.concatenate([a, p], axis=0)
    (candidates,), offset, _ = global_batch((z,), negatives)  # every replica's views: the order is immaterial
    self_mask = ops.one_hot(offset + ops.arange(ops.shape(z)[0]), ops.shape(candidates)[0])
    logits = ops.matmul(z, ops.transpose(candidates)) / temperature - _MASK * self_mask
    return ops.mean(ops.logsumexp(logits, axis=1)) - ops.mean(ops.sum(a * p, axis=1)) / temperature


def word2vec_nt_xent(projections, targets, temperature=0.1, negatives="global"):
    """The playlist paper's Word2Vec objective: NT-Xent with each track's frozen Word2Vec vector as
    the positive of its audio projection (same dimension, D' = 128); the targets get no gradient."""
    return nt_xent(projections, ops.stop_gradient(targets), temperature, negatives)


def supervised_contrastive(projections, labels, temperature=0.1, negatives="global"):
    """Supervised contrastive loss (Khosla et al. 2020, L_out) over (n, d) projections, int labels (n,).

    For anchor i: ``-1/|P(i)| sum_{p in P(i)} log softmax_{a != i}(z_i . z_a / t)_p`` with P(i) the
    other items of its class and z the L2-normalised projections. Anchors without a positive are
    left out of the mean; a batch with none gives 0. Under a strategy (``negatives="global"``) the
    other items are the global batch's, and a replica's loss is its anchors' sum over the mean
    count per replica of the global batch's anchors with a positive: the mean over the replicas
    is the mean over the global batch, however its anchors with a positive fall on the replicas.
    """
    z = ops.normalize(ops.cast(projections, "float32"), axis=1)
    labels = ops.reshape(labels, (-1,))
    (all_z, all_labels), offset, replicas = global_batch((z, labels), negatives)
    self_mask = ops.one_hot(offset + ops.arange(ops.shape(z)[0]), ops.shape(all_z)[0])  # anchor i: column offset + i
    logits = ops.matmul(z, ops.transpose(all_z)) / temperature - _MASK * self_mask
    log_prob = logits - ops.logsumexp(logits, axis=1, keepdims=True)
    positive = ops.cast(ops.equal(labels[:, None], all_labels[None, :]), "float32") - self_mask
    count = ops.sum(positive, axis=1)
    per_anchor = -ops.sum(positive * log_prob, axis=1) / ops.maximum(count, 1.0)
    same_class = ops.sum(ops.cast(ops.equal(all_labels[:, None], all_labels[None, :]), "float32"), axis=1)
    with_positive = ops.sum(ops.cast(same_class > 1, "float32"))  # anchors of the global batch
    return ops.sum(per_anchor) * replicas / ops.maximum(with_positive, 1.0)


def multimodal_contrastive(anchors, candidates, negatives, temperature=0.1):
    """The music-era paper's MMC loss: each artist text against its matched audio-artist pair and the
    text-shuffled pairs of its era class.

    ``anchors`` (n, d): the text embeddings; ``candidates`` (n, n, d): ``candidates[i, k]`` embeds
    the pair (audio i, text k), so the diagonal holds the matched pairs; ``negatives`` (n, n): 1
    where (audio i, text k) is a text-shuffled pair of anchor i (k another artist of i's era
    class). For anchor i, with cosine similarities over ``temperature``:
    ``-log(exp(s_ii) / (exp(s_ii) + sum_{k in N(i)} exp(s_ik)))``. Anchors without a negative are
    left out of the mean; a batch with none gives 0. The negatives are the replica's own, under any
    strategy: the candidates go through the fusion model pair by pair, n x n of them.
    """
    a = ops.normalize(ops.cast(anchors, "float32"), axis=-1)
    c = ops.normalize(ops.cast(candidates, "float32"), axis=-1)
    negatives = ops.cast(negatives, "float32") * (1.0 - ops.eye(ops.shape(a)[0]))
    logits = ops.einsum("id,ikd->ik", a, c) / temperature
    matched = ops.diagonal(logits)
    contrast = ops.logsumexp(logits - _MASK * (1.0 - negatives - ops.eye(ops.shape(a)[0])), axis=1)
    has_negative = ops.cast(ops.sum(negatives, axis=1) > 0, "float32")
    return ops.sum((contrast - matched) * has_negative) / ops.maximum(ops.sum(has_negative), 1.0)


def multilabel_bce(labels, predictions, from_logits=False):
    """Style-tag baseline: binary cross-entropy, mean over tags and batch.

    ``predictions`` are probabilities, the zoo classifier head's sigmoid output (clipped to
    [1e-7, 1 - 1e-7]), unless ``from_logits``.
    """
    labels, predictions = ops.cast(labels, "float32"), ops.cast(predictions, "float32")
    return ops.mean(ops.binary_crossentropy(labels, predictions, from_logits=from_logits))
