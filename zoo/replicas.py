"""In-batch candidates across tf.distribute replicas: the global batch a contrastive loss contrasts against."""

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
import tensorflow as tf

NEGATIVES = ("global", "local")  # the config's `negatives`: the whole global batch, or the replica's own rows


def global_batch(tensors, negatives="global"):
    """``(gathered, offset, replicas)``: the global batch of this replica's ``tensors`` (a tuple, rows on axis 0).

    With ``negatives="global"`` inside ``strategy.run`` on several replicas, each tensor is
    all-gathered over the replicas in replica order (as SimCLR's ``tpu_cross_replica_concat``):
    the gradient of the gathered rows is summed over the replicas and flows back to each replica's
    own rows. ``offset`` is the index of this replica's first row in the gathered tensors (replicas
    may hold different numbers of rows) and ``replicas`` the number of replicas in sync. Otherwise
    (``"local"``, no strategy, the cross-replica context, one replica) it returns ``(tensors, 0, 1)``.
    """
    if negatives not in NEGATIVES:
        raise ValueError(f"negatives must be one of {NEGATIVES}, not {negatives!r}")
    context = tf.distribute.get_replica_context()
    if negatives == "local" or context is None or context.num_replicas_in_sync == 1:
        return tuple(tensors), 0, 1
    sizes = context.all_gather(tf.shape(tensors[0])[:1], axis=0)
    offset = tf.reduce_sum(sizes[: context.replica_id_in_sync_group])
    return tuple(_concat(context, x, offset) for x in tensors), offset, context.num_replicas_in_sync


def _concat(context, local, offset):
    """``local`` gathered over the replicas; the gradient: the replicas' gradients summed, this replica's rows.

    (``ReplicaContext.all_gather``'s own gradient fails on a nest of tensors of different ranks.)
    """

    @tf.custom_gradient
    def concat(local):
        def gradient(upstream):
            return context.all_reduce("SUM", upstream)[offset : offset + tf.shape(local)[0]]

        return context.all_gather(local, axis=0), gradient

    return concat(local)
