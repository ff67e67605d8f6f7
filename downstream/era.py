"""Music era recognition as the paper reports it: predictions of era runs, Table 1, Table 2 and the t-SNE figure.

A track's prediction averages the class probabilities of its half-overlapping patches (the
embedding likewise); its era is the class with the highest mean. Table 1: ACC_0..3 in years
and ACC_0..2 in decades (a year run's predicted year floored to its decade), one row per run.
Table 2: the same on the tracks before a year, as deltas to the whole test set. A run's mels
are those of its front-end, the store front-end of its input bands (MUSICNN's 96, the paper's 224).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from musiczoo.downstream.metrics import acc_x
from musiczoo.downstream.report import write_table
from musiczoo.train import era_labels

YEAR_TOLERANCES, DECADE_TOLERANCES = (0, 1, 2, 3), (0, 1, 2)


class EraModel:
    """A trained era run (Audio-CNN, Audio-SUC or AudioArt-MMC): ``predict`` from mels or audio files."""

    def __init__(self, run_dir):
        from musiczoo.zoo.run import load_run

        self.run_dir = Path(run_dir)
        self.run = load_run(run_dir)
        self.classes = self.run.metadata["classes"]
        self.config = yaml.safe_load((self.run_dir / "config.yaml").read_text())
        self.unit = self.config["objectives"][0].get("unit", "year")
        self.patch_size, self.bands = self.run.model.inputs[0].shape[1:]
        self.takes_text = len(self.run.model.inputs) > 1

    def _patches(self, mel):
        size, hop = self.patch_size, self.patch_size // 2
        mel = np.pad(mel, ((0, max(0, size - len(mel))), (0, 0)))
        return np.stack([mel[i : i + size] for i in range(0, len(mel) - size + 1, hop)]).astype(np.float32)

    def predict_mels(self, mels, text_vectors=None, batch_size=256):
        """``(probabilities (n, classes), embeddings (n, dim))``, each the mean over a track's patches."""
        patches = [self._patches(np.asarray(mel, np.float32)) for mel in mels]
        owner = np.repeat(np.arange(len(patches)), [len(p) for p in patches])
        inputs = [np.concatenate(patches)]
        if self.takes_text:
            inputs.append(np.asarray(text_vectors, np.float32)[owner])
        outputs = [[], []]
        for start in range(0, len(owner), batch_size):
            chunk = [x[start : start + batch_size] for x in inputs]
            for kept, output in zip(outputs, self.run.model(chunk if self.takes_text else chunk[0], training=False)):
                kept.append(np.asarray(output))
        counts = np.bincount(owner, minlength=len(patches))[:, None]
        return tuple(np.add.reduceat(np.concatenate(o), np.r_[0, np.cumsum(counts[:-1, 0])]) / counts for o in outputs)

    def text_vectors(self, texts):
        """Embeddings of artist texts with the run's text encoder (``texts``: one per track)."""
        from musiczoo.train.era_text import TEXT_DEFAULTS, embed_texts

        settings = TEXT_DEFAULTS | (self.config.get("text") or {})
        return embed_texts(list(texts), settings["encoder"], Path(self.config["store"]) / "text_embeddings")

    def predict(self, audio_paths, artist_texts=None):
        """The era of each audio file (AudioArt-MMC also takes each file's artist text): a DataFrame."""
        from musiczoo.extractors.audio import load_audio
        from musiczoo.extractors.mel import melspectrogram
        from musiczoo.zoo.frontends import store_front_end

        if self.takes_text and (artist_texts is None or len(artist_texts) != len(audio_paths)):
            raise ValueError("AudioArt-MMC needs one artist text per audio file")
        spec = store_front_end(self.bands)
        if spec is None:
            raise ValueError(f"{self.run_dir} takes {self.bands}-band mels: no front-end of the zoo computes them")
        mels = [melspectrogram(load_audio(str(path), spec.sample_rate), spec) for path in audio_paths]
        vectors = self.text_vectors(artist_texts) if self.takes_text else None
        probabilities, _ = self.predict_mels(mels, vectors)
        best = probabilities.argmax(1)
        return pd.DataFrame(
            {
                "path": list(map(str, audio_paths)),
                "era": [self.classes[i] for i in best],
                "probability": probabilities.max(1),
            }
        )


def predict_catalogue(model, catalogue, store):
    """Per-track predictions of ``model`` on a catalogue's tracks in a feature store: ``(frame, embeddings)``.

    The frame holds ``track_id, artist, year, predicted`` (the predicted class's year); AudioArt-MMC
    reads each track's artist text as its training run did, and leaves out tracks without one.
    """
    from musiczoo.train.era_text import TEXT_DEFAULTS, text_table, track_texts
    from musiczoo.train.store import FeatureStore, check_bands

    features = FeatureStore(store)
    check_bands(features, model.bands, model.run_dir)
    catalogue = era_labels.dated(catalogue[catalogue.track_id.isin(features.index.track_id)]).reset_index(drop=True)
    era_labels.class_indices(catalogue, model.classes, model.unit)  # every year within the run's classes
    vectors = None
    if model.takes_text:
        texts, _ = track_texts(catalogue, text_table(TEXT_DEFAULTS | (model.config.get("text") or {})))
        catalogue = catalogue[catalogue.track_id.isin(texts)].reset_index(drop=True)
        vectors = model.text_vectors([texts[t] for t in catalogue.track_id])
    probabilities, embeddings = model.predict_mels([features.mel(t) for t in catalogue.track_id], vectors)
    frame = pd.DataFrame(
        {
            "track_id": catalogue.track_id,
            "artist": [a[0] if len(a) else "" for a in catalogue.artists],
            "year": catalogue.year.astype(int),
            "predicted": np.asarray(model.classes, int)[probabilities.argmax(1)],
        }
    )
    return frame, embeddings


def era_scores(frame, unit="year"):
    """ACC_0..3 in years (year runs) and ACC_0..2 in decades of a prediction frame."""
    scores = {}
    if unit == "year":
        scores |= {f"ACC_{x}": acc_x(frame.year, frame.predicted, x) for x in YEAR_TOLERANCES}
    decade = era_labels.era_values(frame.year, "decade") // 10, era_labels.era_values(frame.predicted, "decade") // 10
    return scores | {f"ACC_{x} decade": acc_x(*decade, x) for x in DECADE_TOLERANCES}


def plot_tsne(embeddings, frame, path, title="", seed=0):
    """The paper's Fig. 4: t-SNE of the embeddings, a colour per artist, brightness by year."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    points = TSNE(
        perplexity=min(30.0, max(2.0, (len(embeddings) - 1) / 3)), random_state=seed, init="pca"
    ).fit_transform(embeddings)
    artists = sorted(frame.artist.unique())
    palette = plt.get_cmap("tab20")
    span = max(1, frame.year.max() - frame.year.min())
    brightness = 0.35 + 0.65 * (frame.year - frame.year.min()) / span
    colours = [
        np.clip(np.array(mcolors.to_rgb(palette(artists.index(a) % 20))) * b, 0, 1)
        for a, b in zip(frame.artist, brightness)
    ]
    figure, axis = plt.subplots(figsize=(7, 6))
    axis.scatter(points[:, 0], points[:, 1], c=colours, s=14)
    for index, artist in enumerate(artists[:20]):
        axis.scatter([], [], color=palette(index), label=artist, s=14)
    axis.legend(fontsize=6, loc="best")
    axis.set_title(title or "t-SNE of era embeddings (colour: artist, brightness: year)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def evaluate_runs(runs, catalogue, store, out_dir, before=None, names=None):
    """Table 1 (``table1.md``/``.csv``), Table 2 with ``before`` (``table2``) and ``tsne-NAME.png`` per run.

    ``runs``: run folders (row names: ``names`` or the folders' names). Returns the Table 1 frame.
    """
    from musiczoo.train.catalogues.schema import read_catalogue

    catalogue = read_catalogue(catalogue) if isinstance(catalogue, (str, Path)) else catalogue
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = names or [Path(run).name for run in runs]
    whole, subset = [], []
    for name, run in zip(names, runs):
        model = EraModel(run)
        frame, embeddings = predict_catalogue(model, catalogue, store)
        whole.append({"model": name, "tracks": len(frame)} | era_scores(frame, model.unit))
        if before is not None:
            early = frame[frame.year < before]
            scores = era_scores(early, model.unit) if len(early) else {}
            deltas = {key: value - whole[-1][key] for key, value in scores.items()}
            subset.append({"model": name, "tracks": len(early)} | {f"Δ{k}": v for k, v in deltas.items()})
        plot_tsne(
            embeddings, frame, out_dir / f"tsne-{name}.png", title=f"{name}: t-SNE (colour: artist, brightness: year)"
        )
    table = pd.DataFrame(whole)
    write_table(table, out_dir / "table1", title="Music era recognition (Table 1 layout)", formats={"tracks": "d"})
    if before is not None:
        write_table(pd.DataFrame(subset), out_dir / "table2", title=f"Tracks before {before}: deltas to the whole set")
    return table
