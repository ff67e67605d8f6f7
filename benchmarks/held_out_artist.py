"""Artist and album similarity on held-out real recordings: models next to the no-model baseline.

The gamemusic recordings of ../shared/data (real game soundtracks; 31 artists, 9 games) are music
no zoo model trains on. Each track's embedding is the mean of its patch embeddings (the middle
``--seconds`` of the track); ``mel-stats`` is the mean and standard deviation of its 96-band
log-mel. Scored by cosine, as the playlist paper does: leave-one-out nearest-neighbour accuracy
and triplet accuracy / mean margin (anchor and positive share the artist or album, the negative
does not), as the mean and 95% interval over the given graphs (model seeds) and triplet seeds.

    python benchmarks/held_out_artist.py msd-musicnn random-init=a.pb random-init=b.pb demo=demo/models/X.pb

Repeating a NAME pools its graphs as seeds of one model. Opus files (Essentia's decoder in this
build crashes the process on them) and files that do not decode are left out and listed.
"""
import argparse
import sys
from pathlib import Path

import common
import numpy as np
import pandas as pd
from scipy import stats

from musiczoo.downstream.metrics import label_triplets, nearest_neighbour_accuracy, triplet_similarity
from musiczoo.extractors.audio import SAMPLE_RATE, AudioError, load_audio
from musiczoo.extractors.extract import load_graph
from musiczoo.extractors.graph import graph_function
from musiczoo.extractors.mel import MUSICNN, essentia_melspectrogram
from musiczoo.progress import progress_bar

GAMEMUSIC = common.DATA / "gamemusic"
LABELS = {"artist": "artist", "album": "package"}


def load_mels(catalogue, seconds):
    """Log-mels of the middle ``seconds`` of every decodable track: (kept rows, [mel])."""
    rows, mels = [], []
    for row in progress_bar(catalogue.itertuples(), total=len(catalogue), desc="mel", unit="track"):
        if row.path.endswith(".opus"):
            print(f"  left out (opus): {row.path}", file=sys.stderr)
            continue
        try:
            audio = load_audio(GAMEMUSIC / row.path)
        except AudioError as error:
            print(f"  left out ({error}): {row.path}", file=sys.stderr)
            continue
        keep = int(seconds * SAMPLE_RATE)
        start = max(0, (len(audio) - keep) // 2)
        mels.append(essentia_melspectrogram(audio[start:start + keep], MUSICNN))
        rows.append(row.Index)
    return catalogue.loc[rows], mels


def mel_stats(mels):
    return np.stack([np.concatenate([mel.mean(axis=0), mel.std(axis=0)]) for mel in mels])


def graph_embeddings(model, mels, batch_size=64):
    """Mean over patches of the embeddings output of ``model`` (a ``.pb`` or a registry name), per track."""
    graph = load_graph(model)
    run = graph_function(graph)
    tracks = []
    for mel in progress_bar(mels, desc=f"embed {graph.name}", unit="track"):
        windows = np.lib.stride_tricks.sliding_window_view(mel, (graph.patch_size, mel.shape[1]))[:, 0]
        patches = np.ascontiguousarray(windows[::graph.patch_hop_size], np.float32)
        outputs = [np.asarray(run(patches[i:i + batch_size])) for i in range(0, len(patches), batch_size)]
        tracks.append(np.concatenate(outputs).reshape(len(patches), -1).mean(axis=0))
    return np.stack(tracks)


def interval(values):
    """Mean and half-width of the 95% t-interval (0 for a single value)."""
    values = np.asarray(values, float)
    if len(values) < 2:
        return values.mean(), 0.0
    return values.mean(), stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))


def score(embeddings, labels, seeds, triplets):
    rows = {"nn": nearest_neighbour_accuracy(embeddings, labels), "triplet": [], "margin": []}
    for seed in range(seeds):
        index = label_triplets(labels, triplets, seed)
        result = triplet_similarity(*(embeddings[index[:, k]] for k in range(3)))
        rows["triplet"].append(result["accuracy"])
        rows["margin"].append(result["margin"])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", metavar="[NAME=]MODEL",
                        help="exported graphs (.pb, .json beside them) or registry names (msd-musicnn...)")
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per track, from its middle (default 60)")
    parser.add_argument("--seeds", type=int, default=5, help="triplet seeds (default 5)")
    parser.add_argument("--triplets", type=int, default=1000, help="triplets per seed (default 1000)")
    args = parser.parse_args(argv)
    if not GAMEMUSIC.exists():
        raise SystemExit(f"needs {GAMEMUSIC} (the shared data beside the checkout)")

    catalogue, mels = load_mels(pd.read_csv(GAMEMUSIC / "catalogue.csv"), args.seconds)
    print(f"{len(mels)} tracks, {catalogue.artist.nunique()} artists, {catalogue.package.nunique()} albums, "
          f"{args.seconds:g} s each", file=sys.stderr)
    models = {"mel-stats": [mel_stats(mels)]}
    for item in args.models:
        name, _, path = item.rpartition("=")
        models.setdefault(name or Path(path).stem, []).append(graph_embeddings(path, mels))

    table = []
    for name, runs in models.items():
        row = {"model": name, "graphs": len(runs)}
        for task, column in LABELS.items():
            scores = [score(e, catalogue[column].to_numpy(), args.seeds, args.triplets) for e in runs]
            for metric in ("nn", "triplet", "margin"):
                values = [v for s in scores for v in np.atleast_1d(s[metric])]
                mean, half = interval(values)
                row[f"{task} {metric}"] = f"{mean:.3f} ± {half:.3f}" if len(values) > 1 else f"{mean:.3f}"
        table.append(row)
    print(pd.DataFrame(table).to_string(index=False))


if __name__ == "__main__":
    main()
