"""The objectives a config can name: :data:`OBJECTIVES`, one entry per loss kind, and :class:`Objectives`,
a config's tasks weighted into one training loss.

Adding an objective is one entry in :data:`OBJECTIVES`: an :class:`Objective` subclass says whether
its config names a pair stream, which options it takes, what its batches hold besides the anchor
patches, which layers it owns, and computes its loss. The config (:mod:`musiczoo.train.config`) and
the batches (:mod:`musiczoo.train.pipeline`) read the table; nothing else names a loss.
"""

import numpy as np

import musiczoo  # noqa: F401  (Essentia before TensorFlow)
import keras

from musiczoo.train import era_labels
from musiczoo.zoo import heads, losses
from musiczoo.zoo.heads import head_name
from musiczoo.zoo.replicas import global_batch


def cosine_top1(a, b, negatives="global"):
    """Top-1 accuracy of the cosine similarity of each row of ``a`` to the rows of ``b``, its own the target.

    The candidates are those of the loss: with ``negatives="global"``, every row of ``b`` in the global batch.
    """
    a, b = keras.ops.normalize(a, axis=-1), keras.ops.normalize(b, axis=-1)
    (candidates,), offset, _ = global_batch((b,), negatives)
    return losses.top1_accuracy(keras.ops.matmul(a, keras.ops.transpose(candidates)), offset)


class Objective:
    """One task's loss on a zoo model.

    Class attributes and methods describe the data side (no model needed):

    - ``pairs``: the config names a pair stream (``pairs: artist``); else each track pairs with itself;
    - ``views``: 2 when a batch holds ``positive`` patches beside the ``anchor`` ones, else 1;
    - ``options``: the objective's own config keys and their defaults;
    - :meth:`classes`: the head's class names, from the catalogue (None: the head has no class list);
    - :meth:`select`: the tracks it can learn from; :meth:`targets`: per-track arrays of a batch;
    - ``patch_targets``: the targets whose per-track arrays hold a row per ``hop`` frames (config key), of
      which a batch takes the row at each anchor patch's centre (:func:`~musiczoo.train.teachers.patch_row`).

    An instance (built in the strategy's scope) owns ``layers``, trainable beside the model and
    checkpointed by name, and computes :meth:`loss` -> ``(loss, top-1 accuracy)``. Contrastive losses
    and their top-1 take their in-batch negatives from ``negatives`` (config key): ``global``, the
    whole batch across the tf.distribute replicas, or ``local``, the replica's own rows.
    """

    pairs, views, options, patch_targets = True, 2, {}, ()

    def __init__(self, spec, model, config):
        self.spec, self.model = spec, model
        self.temperature, self.negatives = config["temperature"], config["negatives"]
        self.encoder = keras.Model(model.input, model.outputs[1])
        self.head = model.get_layer(head_name(spec["task"]))
        self.layers = {}

    @classmethod
    def classes(cls, train, catalogue, spec, count):
        """The head's class names (``count``: the head config's ``classes``), or None."""
        return None

    @classmethod
    def select(cls, catalogue, spec, classes):
        """The rows of ``catalogue`` the objective can learn from."""
        return catalogue

    @classmethod
    def targets(cls, catalogue, spec, classes, generator, config):
        """Batch arrays besides the patches: name -> {track id: array} (of the anchor track)."""
        return {}

    def loss(self, batch, training):
        raise NotImplementedError


class NTXent(Objective):
    """SimCLR NT-Xent over the projections of the two views (playlist paper)."""

    def projections(self, batch, training):
        both = keras.ops.concatenate([batch["anchor"], batch["positive"]], axis=0)
        return keras.ops.split(self.head(self.encoder(both, training=training), training=training), 2)

    def loss(self, batch, training):
        anchor, positive = self.projections(batch, training)
        loss = losses.nt_xent(anchor, positive, self.temperature, self.negatives)
        return loss, cosine_top1(anchor, positive, self.negatives)


class Cola(NTXent):
    """COLA: bilinear similarity of the two views' projections, softmax over the batch (Discogs paper)."""

    def __init__(self, spec, model, config):
        super().__init__(spec, model, config)
        self.bilinear = losses.BilinearSimilarity(name=f"{spec['task']}_bilinear")
        self.layers = {"bilinear": self.bilinear}

    def loss(self, batch, training):
        anchor, positive = self.projections(batch, training)
        (candidates,), offset, _ = global_batch((positive,), self.negatives)
        similarity = self.bilinear(anchor, candidates)
        return losses.contrastive_cross_entropy(similarity, offset), losses.top1_accuracy(similarity, offset)


class Word2Vec(Objective):
    """NT-Xent of each track's projection against its frozen Word2Vec vector (playlist paper)."""

    views = 1

    @classmethod
    def targets(cls, catalogue, spec, classes, generator, config):
        return {"target": generator.track_vectors}

    def loss(self, batch, training):
        outputs = self.head(self.encoder(batch["anchor"], training=training), training=training)
        targets = batch["target"]
        loss = losses.word2vec_nt_xent(outputs, targets, self.temperature, self.negatives)
        return loss, cosine_top1(outputs, targets, self.negatives)


class MultiLabel(Objective):
    """Binary cross-entropy on the ``classes`` most frequent training tags (the Discogs style-tag baseline)."""

    pairs, views = False, 1

    @classmethod
    def classes(cls, train, catalogue, spec, count):
        return list(train.tags.explode().dropna().value_counts().index[:count])

    @classmethod
    def select(cls, catalogue, spec, classes):
        vocabulary = set(classes)
        return catalogue[catalogue.tags.map(lambda tags: any(t in vocabulary for t in tags))]

    @classmethod
    def targets(cls, catalogue, spec, classes, generator, config):
        index = {tag: i for i, tag in enumerate(classes)}
        hot = {}
        for track, tags in zip(catalogue.track_id, catalogue.tags):
            hot[track] = np.zeros(len(classes), np.float32)
            hot[track][[index[t] for t in tags if t in index]] = 1
        return {"labels": hot}

    def loss(self, batch, training):
        outputs = self.head(self.encoder(batch["anchor"], training=training), training=training)
        hit = keras.ops.take_along_axis(batch["labels"], keras.ops.argmax(outputs, axis=-1)[:, None], axis=1)
        return losses.multilabel_bce(batch["labels"], outputs), keras.ops.mean(hit)


class EraClassifier(Objective):
    """Audio-CNN (music-era paper): softmax cross-entropy over era classes, one per year (or decade)
    over the catalogue's range."""

    pairs, views = False, 1
    options = {"unit": "year", "years": None}  # years: [first, last] of the classes (default: the catalogue's)

    @classmethod
    def classes(cls, train, catalogue, spec, count):
        return era_labels.era_classes(catalogue, spec["unit"], spec["years"])

    @classmethod
    def select(cls, catalogue, spec, classes):
        return era_labels.dated(catalogue)

    @classmethod
    def targets(cls, catalogue, spec, classes, generator, config):
        labels = era_labels.class_indices(catalogue, classes, spec["unit"])
        return {"era": dict(zip(catalogue.track_id, labels.astype(np.int32)))}

    def classify(self, batch, training):
        """``(class probabilities, embeddings)`` of the batch."""
        embeddings = self.encoder(batch["anchor"], training=training)
        return self.head(embeddings, training=training), embeddings

    def cross_entropy(self, probabilities, labels):
        hit = keras.ops.equal(keras.ops.argmax(probabilities, axis=-1), keras.ops.cast(labels, "int64"))
        loss = keras.ops.mean(
            keras.ops.sparse_categorical_crossentropy(labels, keras.ops.cast(probabilities, "float32"))
        )
        return loss, keras.ops.mean(keras.ops.cast(hit, "float32"))

    def loss(self, batch, training):
        return self.cross_entropy(self.classify(batch, training)[0], batch["era"])


class EraContrastive(EraClassifier):
    """Audio-SUC: cross-entropy plus ``beta`` times the era contrastive loss (supervised contrastive,
    the era class as label) over a projection head of the embeddings."""

    options = EraClassifier.options | {"beta": 0.1, "projection": 64}

    def __init__(self, spec, model, config):
        super().__init__(spec, model, config)
        self.projection = heads.projection(
            hidden=(spec["projection"],), dim=spec["projection"], name=f"{spec['task']}_era_projection"
        )
        self.layers = {"era_projection": self.projection}

    def era_contrastive(self, embeddings, labels, training):
        projections = self.projection(embeddings, training=training)
        return losses.supervised_contrastive(projections, labels, self.temperature, self.negatives)

    def loss(self, batch, training):
        probabilities, embeddings = self.classify(batch, training)
        loss, top1 = self.cross_entropy(probabilities, batch["era"])
        return loss + self.spec["beta"] * self.era_contrastive(embeddings, batch["era"], training), top1


class ArtistMultimodal(EraContrastive):
    """AudioArt-MMC: the fused audio and artist-text embedding (:mod:`musiczoo.zoo.fusion`); cross-entropy
    plus ``alpha`` MMC (each text against its matched audio and the text-shuffled pairs of its era
    class) plus ``beta`` era contrastive on the fused embedding.

    MMC's negatives stay the replica's own: its n x n candidate pairs go through the fusion model,
    so global ones would cost (global n)^2 fusions on every replica; the era contrastive term
    follows ``negatives``."""

    options = EraContrastive.options | {"alpha": 0.5}

    def __init__(self, spec, model, config):
        super().__init__(spec, model, config)
        self.audio, self.text_projection = model.get_layer("audio"), model.get_layer("text_projection")
        self.fusion = model.get_layer("fusion")
        self.mmc_projection = keras.layers.Dense(model.get_layer("text_projection").units, name="mmc_projection")
        self.layers |= {"mmc_projection": self.mmc_projection}

    @classmethod
    def targets(cls, catalogue, spec, classes, generator, config):
        from musiczoo.train.era_text import track_text_arrays

        return super().targets(catalogue, spec, classes, generator, config) | track_text_arrays(catalogue, config)

    def loss(self, batch, training):
        audio = self.audio(batch["anchor"], training=training)
        text = self.text_projection(batch["text"])
        fused = self.fusion(audio, text, training=training)
        loss, top1 = self.cross_entropy(self.head(fused), batch["era"])
        n = keras.ops.shape(audio)[0]
        shuffled = self.fusion(  # every (audio i, text k) pair: row i * n + k
            keras.ops.repeat(audio, n, axis=0), keras.ops.tile(text, (n, 1)), training=training
        )
        candidates = keras.ops.reshape(self.mmc_projection(shuffled), (n, n, -1))
        era, artist = batch["era"], batch["text_id"]
        negatives = keras.ops.logical_and(
            keras.ops.equal(era[:, None], era[None, :]), keras.ops.not_equal(artist[:, None], artist[None, :])
        )
        mmc = losses.multimodal_contrastive(text, candidates, negatives, self.temperature)
        ec = self.era_contrastive(fused, era, training)
        return loss + self.spec["alpha"] * mmc + self.spec["beta"] * ec, top1


class Distill(Objective):
    """Knowledge distillation: a linear projection of the head's output regresses a teacher's output on the same
    patch (``msd-musicnn``'s 200-d embeddings, ``msd-vgg``'s, or their tag activations: ``output: predictions``),
    standardised over the training tracks; mean squared error. Top-1: each patch's projection retrieves its own
    teacher output among the batch's (cosine)."""

    pairs, views, patch_targets = False, 1, ("teacher",)
    options = {"teacher": "msd-musicnn", "output": "embeddings", "hop": 32}

    def __init__(self, spec, model, config):
        from musiczoo.extractors.graph import find_output
        from musiczoo.zoo.resolve import read_metadata, resolve_graph

        super().__init__(spec, model, config)
        dim = find_output(read_metadata(resolve_graph(spec["teacher"])), spec["output"])["shape"][-1]
        self.projection = keras.layers.Dense(dim, name=f"{spec['task']}_distill")
        self.layers = {"distill": self.projection}

    @classmethod
    def targets(cls, catalogue, spec, classes, generator, config):
        from musiczoo.train.store import FeatureStore
        from musiczoo.train.teachers import teacher_outputs

        outputs = teacher_outputs(FeatureStore(config["store"]), spec["teacher"], spec["output"], spec["hop"])
        rows = np.concatenate([outputs[t] for t in catalogue.track_id]).astype(np.float32)
        mean, std = rows.mean(axis=0), rows.std(axis=0) + 1e-6
        return {"teacher": {t: (outputs[t].astype(np.float32) - mean) / std for t in catalogue.track_id}}

    def loss(self, batch, training):
        outputs = self.projection(self.head(self.encoder(batch["anchor"], training=training), training=training))
        loss = keras.ops.mean(keras.ops.square(outputs - batch["teacher"]))
        return loss, cosine_top1(outputs, batch["teacher"], self.negatives)


OBJECTIVES = {
    "cola": Cola,
    "ntxent": NTXent,
    "w2v": Word2Vec,
    "multilabel": MultiLabel,
    "era_ce": EraClassifier,
    "era_suc": EraContrastive,
    "era_mmc": ArtistMultimodal,
    "distill": Distill,
}


class Objectives:
    """A config's objectives on one zoo model, one per task (see :data:`OBJECTIVES`).

    Build it in the strategy's scope: objectives own layers (COLA's bilinear matrices, projection
    heads), trained with the model.
    """

    def __init__(self, objectives, model, config):
        self.objectives, self.model = objectives, model
        self.losses = [OBJECTIVES[o["loss"]](o, model, config) for o in objectives]

    @property
    def variables(self):
        """What the optimizer trains: the zoo model's weights and the objectives' own layers."""
        return self.model.trainable_variables + [v for layer in self.layers.values() for v in layer.trainable_variables]

    @property
    def layers(self):
        """The objectives' own layers by checkpoint name (``<name><task index>``, e.g. ``bilinear0``)."""
        return {f"{name}{i}": layer for i, o in enumerate(self.losses) for name, layer in o.layers.items()}

    @property
    def audio_model(self):
        """The part of the model that takes mel patches alone (its batch norms, :func:`precise_batchnorm`)."""
        return self.model.get_layer("audio") if len(self.model.inputs) > 1 else self.model

    def task_loss(self, index, batch, training):
        """Loss and top-1 accuracy of task ``index`` on its batch."""
        return self.losses[index].loss(batch, training)

    def __call__(self, batches, training):
        """Weighted total loss and mean top-1 over the tasks (one batch each)."""
        total, top1 = 0.0, 0.0
        for index, batch in enumerate(batches):
            loss, accuracy = self.task_loss(index, batch, training)
            total += self.objectives[index]["weight"] * loss
            top1 += accuracy / len(batches)
        return total, top1
