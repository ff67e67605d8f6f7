"""Auto-tagging: each audio file's top tags, from a tagger's predictions averaged over its patches."""

from pathlib import Path

import numpy as np
import pandas as pd

from musiczoo.extractors.audio import AudioError, find_audio
from musiczoo.extractors.extract import embed_file, load_graph
from musiczoo.extractors.graph import predictor
from musiczoo.fileio import atomic_write
from musiczoo.progress import progress_bar

DEFAULT_MODEL = "mtt-musicnn"


def tag(inputs, model=DEFAULT_MODEL, top=5, batch_size=64, csv=None, progress=True):
    """The ``top`` tags of every audio file of ``inputs`` (files or folders, recursive).

    ``model`` is a tagger with ``classes`` in its metadata (a pretrained name, imported on first
    use, or a ``.pb``). One row per file: path, status, duration, patches, ``tag_1``,
    ``probability_1``... and the error of a file that could not be used; written to ``csv`` if given.
    """
    graph = load_graph(model)
    classes = graph.metadata.get("classes")
    if not classes:
        raise ValueError(f"{graph.name} has no classes in its metadata: it is not a tagger")
    predict = predictor(graph, "predictions", batch_size)
    ranks = range(1, min(top, len(classes)) + 1)
    rows = []
    for path in progress_bar(find_audio(inputs), desc=f"tag {graph.name}", unit="file", disable=not progress):
        row = {"path": str(path.resolve()), "status": "ok", "duration_s": None, "patches": 0, "error": None}
        try:
            row["duration_s"], activations = embed_file(path, graph, predict)
        except (AudioError, RuntimeError, ValueError) as error:
            row.update(status="error", error=str(error))
        else:
            mean = activations.mean(axis=0)
            row["patches"] = len(activations)
            for rank, index in zip(ranks, np.argsort(-mean)):
                row.update({f"tag_{rank}": classes[index], f"probability_{rank}": float(mean[index])})
        rows.append(row)
    columns = [
        "path",
        "status",
        "duration_s",
        "patches",
        *(f"{kind}_{rank}" for rank in ranks for kind in ("tag", "probability")),
        "error",
    ]
    tags = pd.DataFrame(rows, columns=columns)
    if csv is not None:
        atomic_write(csv, tags.to_csv(index=False).encode())
    return tags


def format_tags(tags):
    """The tagged files of a :func:`tag` table as text: file name, then ``tag probability`` by rank."""
    tagged = tags[tags.status == "ok"]
    ranks = [column.split("_")[1] for column in tags.columns if column.startswith("tag_")]
    table = pd.DataFrame(
        {"file": [Path(path).name for path in tagged.path]}
        | {
            f"#{rank}": [f"{name} {p:.2f}" for name, p in zip(tagged[f"tag_{rank}"], tagged[f"probability_{rank}"])]
            for rank in ranks
        }
    )
    return table.to_string(index=False)
