"""The tracks of a ground-truth file with their inputs: embeddings, or mel patches of audio (fine-tuning).

Embeddings come from ``musiczoo extract`` (one ``summary.csv`` per set; several sets: a stack).
Audio files are cut into the mel patches a zoo model trains on: its front-end, patch size and hop,
as ``musiczoo extract`` cuts them. Ids match files the same way in both (file stem or path).
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from musiczoo.downstream.embeddings import LabelledSet, load_labelled, match_embeddings
from musiczoo.downstream.labels import read_ground_truth
from musiczoo.extractors.audio import AudioError, find_audio, load_audio
from musiczoo.extractors.graph import patch_count
from musiczoo.extractors.mel import melspectrogram
from musiczoo.zoo.frontends import FRONT_ENDS
from musiczoo.progress import progress_bar
from musiczoo.zoo import registry

MELS = "mel"  # the name of the input set of mel patches


def paths_of(value):
    """One path or several, as a list."""
    return [value] if isinstance(value, (str, Path)) else list(value or [])


def embedding_sets(embeddings, names=None):
    """``{name: summary.csv}`` of one embedding set or several (names: ``names``, or the summaries' folders)."""
    paths = paths_of(embeddings)
    if not paths:
        raise ValueError("no embeddings given: the summary.csv of `musiczoo extract` (or its folder)")
    names = names or [(Path(p) if Path(p).is_dir() else Path(p).parent).resolve().name for p in paths]
    if len(names) != len(paths):
        raise ValueError(f"{len(names)} names for {len(paths)} embedding sets")
    if len(set(names)) != len(names):
        names = [f"{name}-{index}" for index, name in enumerate(names)]
    return dict(zip(names, paths))


def mel_patches(path, model):
    """The mel patches ``(patches, frames, bands)`` of an audio file, cut for the registry ``model``."""
    inference = registry.get(model)["inference"]
    spec, size, hop = FRONT_ENDS[inference["mel"]], inference["patch_size"], inference["patch_hop_size"]
    try:
        mel = melspectrogram(load_audio(path, spec.sample_rate), spec)
    except AudioError as error:
        raise AudioError(f"{path}: {error}") from None
    count = patch_count(len(mel), size, hop)
    if count == 0:
        raise AudioError(f"{path}: too short: {len(mel)} mel frames, less than one {size}-frame patch of {model}")
    windows = np.lib.stride_tricks.sliding_window_view(mel, size, axis=0)[: count * hop : hop]  # (patches, bands, size)
    return np.ascontiguousarray(windows.transpose(0, 2, 1))


def load_audio_labelled(truth, audio, model, match="auto", progress=True):
    """The tracks of ``truth`` found among ``audio`` (files or folders) as mel patches for ``model``.

    Ids without a file are left out with a warning; none found is an error.
    """
    files = [str(path.resolve()) for path in find_audio(paths_of(audio))]
    found = match_embeddings(truth, pd.DataFrame({"path": files, "embeddings": files}), match)
    missing = truth.labels.index.difference(found.index, sort=False)
    if len(missing):
        warnings.warn(
            f"{truth.source}: {len(missing)} of {len(truth)} tracks have no audio file "
            f"(e.g. {', '.join(missing[:3])}); they are left out",
            stacklevel=2,
        )
    patches = [
        mel_patches(path, model)
        for path in progress_bar(
            list(found), desc=f"mel {truth.source}", unit="file", disable=not progress, leave=False
        )
    ]
    return LabelledSet(found.index, {MELS: patches}, truth.labels.loc[found.index])


def read_split(
    ground_truth,
    embeddings=None,
    audio=None,
    model=None,
    column=None,
    id_column="track_id",
    category=None,
    strip_category=False,
    match="auto",
):
    """A :class:`LabelledSet` of one ground-truth file, or None without one.

    Inputs: ``embeddings`` (``{name: summary.csv}``) or, when ``model`` (a registry name) is given, the
    mel patches of ``audio``. ``column``...``strip_category``: how to read the ground truth
    (:func:`~musiczoo.downstream.labels.read_ground_truth`).
    """
    if not ground_truth:
        return None
    truth = read_ground_truth(ground_truth, column, id_column, category, strip_category)
    if model is None:
        return load_labelled(truth, embeddings, match)
    if not audio:
        raise ValueError(f"fine-tuning {model} reads audio: give the audio files or folders")
    return load_audio_labelled(truth, audio, model, match)
