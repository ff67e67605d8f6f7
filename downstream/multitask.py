"""Multi-task: one network, several label sets (tasks), a head each on a shared hidden layer."""

from musiczoo.downstream.estimator import EmbeddingClassifier


class MultiTaskClassifier(EmbeddingClassifier):
    """:class:`EmbeddingClassifier` with ``y = {task: labels}``: one sigmoid/softmax head per task.

    The loss is the sum of the tasks' losses; validation monitors their summed track-level
    loss. ``task`` is one kind for all tasks or ``{task: kind}``. ``predict_proba``, ``predict``,
    ``evaluate`` and ``classes_`` answer ``{task: ...}``; ``score`` is the mean over tasks.
    """

    def _wrap(self, y):
        if not isinstance(y, dict) or not y:
            raise ValueError("a multi-task y is a dict {task: labels} with one task or more")
        fitted = getattr(self, "encoders_", None)
        if fitted is not None and set(y) - set(fitted):
            raise ValueError(f"unknown tasks {sorted(set(y) - set(fitted))}; fitted on {list(fitted)}")
        return dict(y)

    def _unwrap(self, results):
        return results
