"""Metadata of official Essentia models, for graphs downloaded without their ``.json``.

Written from the published schema of each model (essentia.upf.edu/models); looked up by the
graph's file stem when no metadata sits beside it.
"""

OFFICIAL_METADATA = {
    "genre_dortmund_musicnn_msd": {
        "name": "genre_dortmund-musicnn-msd",
        "type": "multi-label classifier",
        "link": "https://essentia.upf.edu/models/classifiers/genre_dortmund/genre_dortmund-musicnn-msd-2.pb",
        "framework": "tensorflow",
        "classes": [
            "alternative",
            "blues",
            "electronic",
            "folkcountry",
            "funksoulrnb",
            "jazz",
            "pop",
            "raphiphop",
            "rock",
        ],
        "schema": {
            "inputs": [{"name": "model/Placeholder", "type": "float", "shape": [187, 96]}],
            "outputs": [
                {
                    "name": "model/Sigmoid",
                    "type": "float",
                    "shape": [1, 9],
                    "op": "Sigmoid",
                    "output_purpose": "predictions",
                },
                {
                    "name": "model/dense/BiasAdd",
                    "type": "float",
                    "shape": [1, 200],
                    "op": "fully connected",
                    "output_purpose": "embeddings",
                },
            ],
        },
        "citation": "Pons, J., & Serra, X. (2019). musicnn: Pre-trained convolutional neural networks for "
        "music audio tagging. arXiv:1909.06654.",
        "inference": {"sample_rate": 16000, "algorithm": "TensorflowPredictMusiCNN"},
    },
}
