"""Training batches: patches from the feature store, paired by each objective's pair stream.

Every batch is a pure function of ``(seed, epoch, step)``: a run resumed from a checkpoint
sees exactly the batches the killed run would have seen. Training patches are taken at random
offsets; validation patches at fixed offsets (a third and two thirds into each track).
"""

import numpy as np

from musiczoo.train.catalogues.schema import read_catalogue
from musiczoo.train.objectives import OBJECTIVES
from musiczoo.train.pairs import make_generator, mix
from musiczoo.train.store import FeatureStore
from musiczoo.train.teachers import patch_row


def split_tracks(catalogue, fraction, seed):
    """Train/validation split of the catalogue's rows, seeded."""
    order = np.random.default_rng(seed).permutation(len(catalogue))
    held = max(1, round(fraction * len(catalogue))) if fraction > 0 else 0
    return catalogue.iloc[np.sort(order[held:])], catalogue.iloc[np.sort(order[:held])]


def config_tasks(config, patch_size, classes):
    """The training and validation :class:`TaskData` of a config (one per objective), and the head's classes.

    The classes (the first objective's that has a class list: the ``classes`` most frequent training
    tags, the era classes of the catalogue...) are None when no objective has one; a run without
    validation tracks has no validation tasks.
    """
    store = FeatureStore(config["store"])
    catalogue = read_catalogue(config["catalogue"])
    catalogue = catalogue[catalogue.track_id.isin(store.index.track_id)]
    train, validation = split_tracks(catalogue, config["validation_fraction"], config["seed"])
    names = (OBJECTIVES[o["loss"]].classes(train, catalogue, o, classes) for o in config["objectives"])
    vocabulary = next((found for found in names if found is not None), None)
    if vocabulary is not None and not len(vocabulary):
        raise ValueError(f"no classes in {config['catalogue']}: nothing to train on")

    def tasks(frame, seed):
        return [
            TaskData(o, frame, store, patch_size, config["batch_size"], seed, vocabulary, config["mixing"], config)
            for o in config["objectives"]
        ]

    return tasks(train, config["seed"]), tasks(validation, config["seed"] + 1) if len(validation) else [], vocabulary


class TaskData:
    """Batches for one objective: anchor patches, positive patches (two-view objectives) and the
    objective's per-track targets (tags, Word2Vec vectors, era classes, artist texts)."""

    def __init__(
        self, objective, catalogue, store, patch_size, batch_size, seed, vocabulary=None, mixing=False, config=None
    ):
        self.objective, self.store = objective, store
        self.patch_size, self.batch_size, self.seed = patch_size, batch_size, seed
        self.mixing = mixing
        self.kind = OBJECTIVES[objective["loss"]]
        catalogue = catalogue[catalogue.track_id.isin(store.index.track_id)]
        self.catalogue = self.kind.select(catalogue, objective, vocabulary).reset_index(drop=True)
        self.generator = make_generator(objective["pairs"], self.catalogue, seed) if self.kind.pairs else None
        self.targets = self.kind.targets(self.catalogue, objective, vocabulary, self.generator, config or {})
        for values in self.targets.values():  # tracks without a target (no artist text...) are left out
            self.catalogue = self.catalogue[self.catalogue.track_id.isin(values.keys())].reset_index(drop=True)
        self._plan = {}

    def _pairs(self, epoch):
        """The epoch's (anchor, positive) track ids; objectives without a pair stream pair a track with itself.

        Only the last epoch's are kept; read through a local, so the input pipeline's threads never race.
        """
        plan = self._plan
        if epoch not in plan:
            if self.generator is None:
                order = np.random.default_rng([self.seed, epoch]).permutation(len(self.catalogue))
                ids = self.catalogue.track_id.to_numpy()[order]
                plan = {epoch: np.stack([ids, ids], axis=1)}
            else:
                plan = {epoch: np.asarray(self.generator.pairs(epoch))}
            self._plan = plan
        return plan[epoch]

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

    def _patches(self, ids, rng, fraction, rows):
        """Patches of the batch's ``rows`` and their offsets; the random offsets are drawn for the whole batch,
        whatever is read."""
        offsets = self._offsets(ids, rng, fraction)[rows]
        return np.stack([self.store.patch(t, self.patch_size, int(o)) for t, o in zip(ids[rows], offsets)]), offsets

    def _targets(self, ids, offsets):
        """The objective's targets of the anchor tracks ``ids``, a patch target's at each patch's ``offsets``."""
        targets = {name: [values[t] for t in ids] for name, values in self.targets.items()}
        for name in self.kind.patch_targets:
            hop = self.objective["hop"]
            targets[name] = [patch_row(grid, o, self.patch_size, hop) for grid, o in zip(targets[name], offsets)]
        return {name: np.stack(values) for name, values in targets.items()}

    def batch(self, epoch, step, validation=False, part=(0, 1)):
        """Arrays for one step: ``anchor`` patches, ``positive`` patches (two-view objectives) and the
        objective's targets of the anchor tracks.

        ``part=(r, R)``: only part ``r`` of ``R`` of the step's batch (``numpy.array_split``'s rows), equal to
        that part of the whole batch and, unless mixing draws partners from the whole batch, read alone.
        """
        pairs = self._pairs(epoch)[step * self.batch_size : (step + 1) * self.batch_size]
        rng = None if validation else np.random.default_rng([self.seed, epoch, step])
        mixed = self.mixing and rng is not None
        rows = np.array_split(np.arange(len(pairs)), part[1])[part[0]]
        if not len(rows) and part[1] > 1:  # a batch smaller than its parts: the arrays' shapes, with no rows
            return {name: values[:0] for name, values in self.batch(epoch, step, validation).items()}
        read = slice(None) if mixed else rows
        anchors, offsets = self._patches(pairs[:, 0], rng, 1 / 3, read)
        views = {"anchor": anchors}
        if self.kind.views == 2:
            views["positive"] = self._patches(pairs[:, 1], rng, 2 / 3, read)[0]
            if mixed:
                views = {
                    name: np.stack([mix(p, np.delete(patches, i, 0), rng) for i, p in enumerate(patches)])[rows]
                    for name, patches in views.items()
                }
        return views | self._targets(pairs[rows, 0], offsets[rows] if mixed else offsets)
