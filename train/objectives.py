"""A config's objectives on one zoo model: each task's head and loss, weighted into one training loss."""

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
import keras

from musiczoo.zoo import losses
from musiczoo.zoo.heads import head_name


def cosine_top1(a, b):
    """Top-1 accuracy of the cosine-similarity matrix (rows: a, targets on the diagonal)."""
    a, b = keras.ops.normalize(a, axis=-1), keras.ops.normalize(b, axis=-1)
    return losses.top1_accuracy(keras.ops.matmul(a, keras.ops.transpose(b)))


class Objectives:
    """The losses of a zoo model's tasks: COLA, NT-Xent, Word2Vec NT-Xent or multi-label cross-entropy.

    Build it in the strategy's scope: COLA objectives own a bilinear similarity matrix, trained
    with the model.
    """

    def __init__(self, objectives, model, temperature):
        self.objectives, self.model, self.temperature = objectives, model, temperature
        self.encoder = keras.Model(model.input, model.outputs[1])
        self.heads = [model.get_layer(head_name(o["task"])) for o in objectives]
        self.bilinear = [
            losses.BilinearSimilarity(name=f"{o['task']}_bilinear") if o["loss"] == "cola" else None for o in objectives
        ]

    @property
    def variables(self):
        """What the optimizer trains: the zoo model's weights and the COLA bilinear matrices."""
        return self.model.trainable_variables + [v for b in self.bilinear if b for v in b.trainable_variables]

    @property
    def similarities(self):
        """The COLA bilinear layers by checkpoint name (``bilinear<task index>``)."""
        return {f"bilinear{i}": b for i, b in enumerate(self.bilinear) if b}

    def task_loss(self, index, batch, training):
        """Loss and top-1 accuracy of task ``index`` on its batch."""
        kind, head = self.objectives[index]["loss"], self.heads[index]
        if kind in ("cola", "ntxent"):
            both = keras.ops.concatenate([batch["anchor"], batch["positive"]], axis=0)
            anchor, positive = keras.ops.split(head(self.encoder(both, training=training), training=training), 2)
            if kind == "cola":
                similarity = self.bilinear[index](anchor, positive)
                return losses.contrastive_cross_entropy(similarity), losses.top1_accuracy(similarity)
            return losses.nt_xent(anchor, positive, self.temperature), cosine_top1(anchor, positive)
        outputs = head(self.encoder(batch["anchor"], training=training), training=training)
        if kind == "w2v":
            targets = batch["target"]
            return losses.word2vec_nt_xent(outputs, targets, self.temperature), cosine_top1(outputs, targets)
        hit = keras.ops.take_along_axis(batch["labels"], keras.ops.argmax(outputs, axis=-1)[:, None], axis=1)
        return losses.multilabel_bce(batch["labels"], outputs), keras.ops.mean(hit)

    def __call__(self, batches, training):
        """Weighted total loss and mean top-1 over the tasks (one batch each)."""
        total, top1 = 0.0, 0.0
        for index, batch in enumerate(batches):
            loss, accuracy = self.task_loss(index, batch, training)
            total += self.objectives[index]["weight"] * loss
            top1 += accuracy / len(batches)
        return total, top1
