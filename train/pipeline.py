"""Training batches: patches from the feature store, paired by each objective's pair stream.

Every batch is a pure function of ``(seed, epoch, step)``: a run resumed from a checkpoint
sees exactly the batches the killed run would have seen. Training patches are taken at random
offsets; validation patches at fixed offsets (a third and two thirds into each track).
"""

import numpy as np

from musiczoo.train.catalogues.schema import read_catalogue
from musiczoo.train.pairs import make_generator, mix
from musiczoo.train.store import FeatureStore


def split_tracks(catalogue, fraction, seed):
    """Train/validation split of the catalogue's rows, seeded."""
    order = np.random.default_rng(seed).permutation(len(catalogue))
    held = max(1, round(fraction * len(catalogue))) if fraction > 0 else 0
    return catalogue.iloc[np.sort(order[held:])], catalogue.iloc[np.sort(order[:held])]


def tag_vocabulary(catalogue, classes):
    """The ``classes`` most frequent tags, most frequent first."""
    counts = catalogue.tags.explode().dropna().value_counts()
    return list(counts.index[:classes])


def config_tasks(config, patch_size, classes):
    """The training and validation :class:`TaskData` of a config (one per objective), and the tag vocabulary.

    The vocabulary (the ``classes`` most frequent training tags) exists when an objective is
    multi-label, else it is None; a run without validation tracks has no validation tasks.
    """
    store = FeatureStore(config["store"])
    catalogue = read_catalogue(config["catalogue"])
    train, validation = split_tracks(
        catalogue[catalogue.track_id.isin(store.index.track_id)], config["validation_fraction"], config["seed"]
    )
    vocabulary = None
    if any(o["loss"] == "multilabel" for o in config["objectives"]):
        vocabulary = tag_vocabulary(train, classes)

    def tasks(frame, seed):
        return [
            TaskData(o, frame, store, patch_size, config["batch_size"], seed, vocabulary, config["mixing"])
            for o in config["objectives"]
        ]

    return tasks(train, config["seed"]), tasks(validation, config["seed"] + 1) if len(validation) else [], vocabulary


class TaskData:
    """Batches for one objective: patch pairs (contrastive) or patches and multi-hot tags."""

    def __init__(self, objective, catalogue, store, patch_size, batch_size, seed, vocabulary=None, mixing=False):
        self.objective, self.store = objective, store
        self.patch_size, self.batch_size, self.seed = patch_size, batch_size, seed
        self.mixing = mixing
        self.catalogue = catalogue[catalogue.track_id.isin(store.index.track_id)].reset_index(drop=True)
        if objective["loss"] == "multilabel":
            self.vocabulary = {tag: i for i, tag in enumerate(vocabulary)}
            tagged = self.catalogue.tags.map(lambda tags: any(t in self.vocabulary for t in tags))
            self.catalogue = self.catalogue[tagged].reset_index(drop=True)
            self._tags = dict(zip(self.catalogue.track_id, self.catalogue.tags))
            self.generator = None
        else:
            self.generator = make_generator(objective["pairs"], self.catalogue, seed)
        self._plan = {}

    def _pairs(self, epoch):
        """The epoch's (anchor, positive) track ids; multi-label tasks pair a track with itself."""
        if epoch not in self._plan:
            if self.generator is None:
                order = np.random.default_rng([self.seed, epoch]).permutation(len(self.catalogue))
                ids = self.catalogue.track_id.to_numpy()[order]
                self._plan = {epoch: np.stack([ids, ids], axis=1)}
            else:
                self._plan = {epoch: np.asarray(self.generator.pairs(epoch))}
        return self._plan[epoch]

    def steps(self, epoch, partial=False):
        """Full batches in the epoch; with ``partial``, also a last smaller one of 2 or more pairs."""
        whole, rest = divmod(len(self._pairs(epoch)), self.batch_size)
        return whole + (partial and rest >= 2)

    def counts(self):
        return self.generator.counts() if self.generator else {"tracks": len(self.catalogue)}

    def _offsets(self, ids, rng, fraction):
        spare = np.array([max(self.store.frames(t) - self.patch_size, 0) for t in ids])
        if rng is None:
            return (spare * fraction).astype(int)
        return (rng.random(len(ids)) * (spare + 1)).astype(int)

    def _patches(self, ids, rng, fraction):
        offsets = self._offsets(ids, rng, fraction)
        return np.stack([self.store.patch(t, self.patch_size, int(o)) for t, o in zip(ids, offsets)])

    def batch(self, epoch, step, validation=False):
        """Arrays for one step: ``anchor`` patches plus ``positive`` patches, ``target`` vectors
        (Word2Vec) or ``labels`` (multi-hot tags)."""
        pairs = self._pairs(epoch)[step * self.batch_size : (step + 1) * self.batch_size]
        rng = None if validation else np.random.default_rng([self.seed, epoch, step])
        anchor = self._patches(pairs[:, 0], rng, 1 / 3)
        loss = self.objective["loss"]
        if loss == "multilabel":
            labels = np.zeros((len(pairs), len(self.vocabulary)), np.float32)
            for row, track in enumerate(pairs[:, 0]):
                labels[row, [self.vocabulary[t] for t in self._tags[track] if t in self.vocabulary]] = 1
            return {"anchor": anchor, "labels": labels}
        if loss == "w2v":
            vectors = self.generator.track_vectors
            return {"anchor": anchor, "target": np.stack([vectors[t] for t in pairs[:, 1]]).astype(np.float32)}
        positive = self._patches(pairs[:, 1], rng, 2 / 3)
        if self.mixing and rng is not None:
            anchor, positive = (
                np.stack([mix(p, np.delete(views, i, 0), rng) for i, p in enumerate(views)])
                for views in (anchor, positive)
            )
        return {"anchor": anchor, "positive": positive}
