"""Shallow models on frozen embeddings: fit, evaluate, stack, export.

>>> from musiczoo.downstream import EmbeddingClassifier
>>> classifier = EmbeddingClassifier().fit(tracks, labels)  # tracks: [(patches, dim) arrays]

Names load on first use, so that importing the package (the CLI does) does not load Keras.
"""

import importlib

_EXPORTS = {
    "EmbeddingClassifier": "estimator",
    "MultiTaskClassifier": "multitask",
    "FineTuneClassifier": "finetune",
    "save_classifier": "persistence",
    "load_classifier": "persistence",
    "fit_folder": "fit",
    "load_fit": "fit",
    "evaluate_model": "fit",
    "rank_stacks": "fit",
    "export_fit": "fit",
    "build_classifier": "fit",
    "evaluate_stacks": "stack",
    "concatenate": "stack",
    "export_head": "export",
    "Head": "predict",
    "predict_files": "predict",
    "evaluate": "metrics",
    "acc_x": "metrics",
    "triplet_similarity": "metrics",
    "label_triplets": "metrics",
    "nearest_neighbour_accuracy": "metrics",
    "write_evaluation": "report",
    "read_ground_truth": "labels",
    "read_jamendo": "labels",
    "read_label_table": "labels",
    "read_catalogue_labels": "labels",
    "read_summary": "embeddings",
    "load_labelled": "embeddings",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
