"""Shallow models on frozen embeddings: fit, evaluate, stack, export."""
