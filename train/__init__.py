"""Training: data sets, feature store, pair generators, pipelines and loops."""
