"""Argument types and options shared by the command modules of the ``musiczoo`` command line."""

import argparse


def positive_int(text):
    """An argparse type: a whole number of 1 or more (Essentia's wrappers crash on a batch size of 0 or -1)."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, not {text}")
    return int(text)


def add_backend_option(parser, what):
    """``--backend``: which of ``extractors.graph.BACKENDS`` runs ``what``."""
    from musiczoo.extractors.graph import BACKENDS

    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help=f"what runs {what}: essentia, Essentia's own wrapper (the default); tensorflow, mel and graph in "
        "TensorFlow; onnx, the .onnx beside the graph (musiczoo export MODEL --format onnx) on onnxruntime, "
        "the default for a model given as its .onnx",
    )
