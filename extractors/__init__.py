"""Audio -> mel -> embeddings: loaders, mel front-ends, Essentia and TensorFlow back-ends."""
