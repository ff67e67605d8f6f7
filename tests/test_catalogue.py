"""The catalogue schema and its builders, each on real material with small limits."""
import hashlib
import math
import os
import time

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED_DATA, require
from musiczoo.cli import main
from musiczoo.extractors.audio import load_audio
from musiczoo.runtime import essentia_standard
from musiczoo.train import build_music21 as music21_builder
from musiczoo.train.build_asap import build_asap, maestro_recital, performer
from musiczoo.train.build_jamendo import build_jamendo
from musiczoo.train.catalogue import (CatalogueError, catalogue_frame, read_catalogue, validate,
                                      write_catalogue)
from musiczoo.train.composers import LIFE_DATES, find_composer, read_composer_tsv, work_year
from musiczoo.train.isolation import run_isolated
from musiczoo.train.render import seeded_rank

ASAP = SHARED_DATA / "asap"
COMPOSERS_TSV = SHARED_DATA / "composers" / "composers_manually_checked.tsv"
JAMENDO = SHARED_DATA / "mtg-jamendo" / "split-0"
DISCOGS = SHARED_DATA / "discogs-sample"
SR = 16000


def write_wav(path, audio):
    essentia_standard().MonoWriter(filename=str(path), sampleRate=SR, format="wav")(np.asarray(audio, np.float32))
    return path


def tone(seconds, frequency=440.0):
    return 0.5 * np.sin(2 * np.pi * frequency * np.arange(int(seconds * SR)) / SR)


def mtimes(folder):
    return {path: path.stat().st_mtime_ns for path in folder.rglob("*.wav")}


# --- schema ---------------------------------------------------------------------------------------

def test_catalogue_round_trip_keeps_lists_nulls_and_types(tmp_path):
    frame = catalogue_frame([
        {"track_id": "a", "path": "/x/a.wav", "duration": 3.5, "artists": ["Nina Simone", "Duke Ellington"],
         "tags": ["genre---jazz"], "year": 1962, "title": "Take the A Train"},
        {"track_id": "b", "path": "/x/b.wav"},
    ])
    write_catalogue(frame, tmp_path / "catalogue.parquet")
    back = read_catalogue(tmp_path / "catalogue.parquet")
    assert back.artists.tolist() == [["Nina Simone", "Duke Ellington"], []]
    assert isinstance(back.tags[0], list) and back.playlists[1] == []
    assert back.year[0] == 1962 and back.year.isna()[1] and str(back.year.dtype) == "Int64"
    assert back.duration[0] == 3.5 and math.isnan(back.duration[1])
    assert back.title[0] == "Take the A Train" and back.source.isna().all()


def test_validate_names_every_problem():
    good = catalogue_frame([{"track_id": "a", "path": "/x/a.wav"}, {"track_id": "b", "path": "/x/b.wav"}])
    validate(good)
    with pytest.raises(CatalogueError, match=r"missing \['artists', 'releases'\], unknown \['artist'\]"):
        validate(good.drop(columns="releases").rename(columns={"artists": "artist"}))
    with pytest.raises(CatalogueError, match=r"duplicated \['a'\]"):
        validate(pd.concat([good, good.iloc[:1]], ignore_index=True))
    bad = good.astype({"year": object})
    bad.at[0, "artists"] = "Nina Simone"  # a string, not a list
    bad.at[1, "year"] = 1999.5
    bad.at[1, "path"] = "relative/b.wav"
    with pytest.raises(CatalogueError) as error:
        validate(bad)
    message = str(error.value)
    assert "artists: expected a list of strings" in message and "['a']" in message
    assert "year: expected an integer or null" in message and "path: expected an absolute path" in message


# --- composers ------------------------------------------------------------------------------------

def test_builtin_composer_dates_agree_with_giantmidi():
    giantmidi = read_composer_tsv(require(COMPOSERS_TSV))
    shared = [name for name in LIFE_DATES if name in giantmidi]
    assert len(shared) >= 20
    assert {name: LIFE_DATES[name] for name in shared} == {name: giantmidi[name] for name in shared}
    assert find_composer("Chopin", giantmidi) == ("Frédéric Chopin", 1810, 1849)  # unique surname, accents folded
    assert find_composer("Bach", giantmidi) is None  # seven Bachs: ambiguous
    assert work_year(1685, 1750) == 1727


# --- rendering builders ---------------------------------------------------------------------------

def test_music21_build_renders_then_resumes(tmp_path):
    scores, _ = music21_builder.corpus_scores()
    # the first seed whose three first scores include a composer's (most of the corpus is folk tunes)
    seed = next(s for s in range(100) if any(
        score[1].split("/")[0] in music21_builder.FOLDER_COMPOSERS
        for score in sorted(scores, key=lambda score: seeded_rank(s, score[0]))[:3]))
    command = ["data", "build", "music21", "-o", str(tmp_path), "--limit", "3", "--seconds", "5",
               "--seed", str(seed), "--workers", "1"]
    assert main(command) == 0
    catalogue = read_catalogue(tmp_path / "catalogue.parquet")
    assert len(catalogue) == 3 and (catalogue.duration <= 5).all() and (catalogue.duration > 0).all()
    for row in catalogue.itertuples():
        audio = load_audio(row.path)
        assert abs(audio.size / SR - row.duration) < 0.01 and np.abs(audio).max() > 0.01
        folder = row.source.split("/")[0]
        assert row.labels == [f"music21/{folder}"] and "format---" in row.tags[0]
        if folder in music21_builder.FOLDER_COMPOSERS:
            name = music21_builder.FOLDER_COMPOSERS[folder]
            assert row.artists == [name] and row.year == work_year(*LIFE_DATES[name])
    before = mtimes(tmp_path)
    assert main(command) == 0  # resumed: every render kept, none made again
    assert mtimes(tmp_path) == before
    pd.testing.assert_frame_equal(read_catalogue(tmp_path / "catalogue.parquet"), catalogue)


def test_asap_build_composer_performer_recital(tmp_path):
    catalogue, excluded = build_asap(require(ASAP), tmp_path, composers=require(COMPOSERS_TSV), limit=3,
                                     seconds=5, workers=1)
    assert len(catalogue) == 3 and excluded.empty
    metadata = pd.read_csv(ASAP / "metadata.csv").set_index("midi_performance")
    giantmidi = read_composer_tsv(COMPOSERS_TSV)
    for row in catalogue.itertuples():
        entry = metadata.loc[row.source]
        composer, player = row.artists
        assert composer.split()[-1] == entry.composer and player == performer(row.source.rsplit("/", 1)[1][:-4])
        assert row.year == work_year(*giantmidi[composer])
        assert row.releases == [f"asap/{entry.folder}"] and row.duration == 5.0
        assert row.playlists == ([maestro_recital(entry.maestro_midi_performance)]
                                 if isinstance(entry.maestro_midi_performance, str) else [])


def test_maestro_recitals_group_one_programme():
    metadata = pd.read_csv(require(ASAP) / "metadata.csv")
    recitals = metadata.maestro_midi_performance.map(maestro_recital)
    rows = dict(zip(metadata.midi_performance, recitals))
    assert rows["Bach/Fugue/bwv_846/Shi05M.mid"] == (
        "maestro/2006/MIDI-Unprocessed_19_R1_2006_01-07_ORIG_MID/AUDIO_19_R1_2006")
    denisova = {recital for path, recital in rows.items() if "Denisova06M" in path or "Denisova10M" in path}
    assert len(denisova) == 1  # two pieces of one 2008 recital share a playlist
    performers = metadata.midi_performance.str.rsplit("/", n=1).str[1].str[:-4].map(performer)
    per_recital = performers.groupby(recitals).nunique()
    assert recitals.notna().sum() == metadata.maestro_midi_performance.notna().sum()
    assert (per_recital == 1).mean() > 0.9  # a recital is one performer's programme
    assert performer("Shi05M") == "Shi" and performer("Richardson_2013_03M") == "Richardson"


def test_isolated_calls_survive_errors_hangs_and_crashes():
    started = time.monotonic()
    outcomes = {job: (ok, value) for job, ok, value in run_isolated(
        misbehave, [(kind, (kind,)) for kind in ("fine", "raise", "hang", "crash", "after")], workers=2, timeout=2)}
    assert outcomes["fine"] == (True, "fine") and outcomes["after"] == (True, "after")
    assert outcomes["raise"] == (False, "ValueError: unparsable score")
    assert outcomes["hang"] == (False, "timed out after 2 s")
    assert outcomes["crash"] == (False, "worker process died (exit code 3)")
    assert time.monotonic() - started < 40


def misbehave(kind):
    """Worker for the isolation test (module level, so a spawned process can import it)."""
    if kind == "raise":
        raise ValueError("unparsable score")
    if kind == "hang":
        time.sleep(600)
    if kind == "crash":
        os._exit(3)
    return kind


# --- catalogue-only builders ----------------------------------------------------------------------

def test_folder_build_reads_metadata_and_excludes_bad_files(tmp_path):
    audio = tmp_path / "audio"
    (audio / "sub").mkdir(parents=True)
    write_wav(audio / "one.wav", tone(3))
    write_wav(audio / "sub" / "two.wav", tone(2, 660))
    write_wav(audio / "unlisted.wav", tone(1))
    (audio / "corrupt.wav").write_bytes(hashlib.sha256(b"not audio").digest() * 200)
    (tmp_path / "meta.csv").write_text(
        "path,artists,releases,tags,year,title\n"
        "one.wav,Nina Simone|Duke Ellington,r1,genre---jazz| instrument---piano ,1962,One\n"
        "sub/two.wav,Nina Simone,r1,,unknown,\n"
        "corrupt.wav,Someone,,,,\n"
        "missing.wav,Someone,,,,\n")
    assert main(["data", "build", "folder", str(audio), "--metadata", str(tmp_path / "meta.csv"),
                 "-o", str(tmp_path / "out")]) == 0
    catalogue = read_catalogue(tmp_path / "out" / "catalogue.parquet")
    assert catalogue.track_id.tolist() == ["one.wav", "sub/two.wav"]
    assert catalogue.duration.tolist() == [3.0, 2.0]
    assert catalogue.artists.tolist() == [["Nina Simone", "Duke Ellington"], ["Nina Simone"]]
    assert catalogue.tags[0] == ["genre---jazz", "instrument---piano"] and catalogue.tags[1] == []
    assert catalogue.year[0] == 1962 and catalogue.year.isna()[1] and catalogue.title[0] == "One"
    reasons = pd.read_csv(tmp_path / "out" / "excluded.csv").set_index("path").reason
    assert reasons[str(audio / "corrupt.wav")].startswith("cannot decode")
    assert reasons[str(audio / "missing.wav")] == "audio missing"
    assert reasons[str(audio / "unlisted.wav")] == "not in the metadata table"


def test_jamendo_split0_merges_tags_across_tsvs(tmp_path):
    tsvs = sorted(require(JAMENDO).glob("*.tsv"))
    catalogue, excluded = build_jamendo(tsvs, tmp_path / "all", tmp_path / "audio", allow_missing_audio=True)
    track_ids = {line.split("\t", 1)[0] for tsv in tsvs for line in tsv.read_text().splitlines()[1:]}
    assert len(catalogue) == len(track_ids) > 50000 and excluded.empty
    row = catalogue.set_index("track_id").loc["jamendo/track_0000214"]
    assert row.artists == ["artist_000014"] and row.releases == ["album_000031"] and row.duration == 124.6
    tag_lists = [line.rstrip("\n").split("\t")[5:] for tsv in tsvs for line in tsv.open()
                 if line.startswith("track_0000214\t")]
    assert len(tag_lists) > 1 and set(row.tags) == {tag for tags in tag_lists for tag in tags}
    # without --allow-missing-audio only tracks with audio stay; the low-quality .low.mp3 counts
    (tmp_path / "audio" / "14").mkdir(parents=True)
    (tmp_path / "audio" / "14" / "214.low.mp3").write_bytes(b"")
    assert main(["data", "build", "jamendo", *map(str, tsvs[:2]), "--audio-root", str(tmp_path / "audio"),
                 "-o", str(tmp_path / "present")]) == 0
    present = read_catalogue(tmp_path / "present" / "catalogue.parquet")
    assert present.track_id.tolist() == ["jamendo/track_0000214"]
    assert present.path[0] == str(tmp_path / "audio" / "14" / "214.low.mp3")
    assert set(pd.read_csv(tmp_path / "present" / "excluded.csv").reason) == {"audio missing"}


def test_discogs_sample_pools_metadata_over_master(tmp_path):
    dumps = require(DISCOGS)
    for name in ("slider.wav", "mix.wav", "mission.wav", "selfreleased.wav", "unknown.wav", "badposition.wav"):
        write_wav(tmp_path / name, tone(2))
    (tmp_path / "match.csv").write_text(
        "path,release_id,track_position\n"
        "slider.wav,7697991,A1\n"        # T. Rex - The Slider (Reprise); master 72462 also has 7697999 (Odeon)
        "mix.wav,3,1\n"                  # Josh Wink's DJ mix: track 1 credits its own artists
        "mission.wav,1586374,\n"         # master 129684 is in the masters sample: its year wins
        "selfreleased.wav,1586364,\n"    # 'Not On Label (...)' is no label
        "unknown.wav,999999999,\n"
        "badposition.wav,7697991,Z9\n"
        "missing.wav,1,\n")
    started = time.perf_counter()
    assert main(["data", "build", "discogs", str(dumps), "--match", str(tmp_path / "match.csv"),
                 "-o", str(tmp_path / "out")]) == 0
    assert time.perf_counter() - started < 30
    catalogue = read_catalogue(tmp_path / "out" / "catalogue.parquet").set_index("track_id")
    slider = catalogue.loc["slider.wav"]
    assert slider.releases == ["discogs/release/7697991", "discogs/release/7697999"]
    assert slider.labels == ["Reprise Records", "Odeon"] and slider.artists == ["T. Rex"]
    assert slider.title == "Metal Guru" and slider.year == 1972 and slider.duration == 2.0
    assert {"genre---Rock", "style---Glam"} <= set(slider.tags)
    mix = catalogue.loc["mix.wav"]
    assert mix.artists == ["Heiko Laux", "Johannes Heil", "Josh Wink"] and mix.title == "Untitled 8"
    mission = catalogue.loc["mission.wav"]
    assert mission.year == 1996 and {"genre---Electronic", "style---House"} <= set(mission.tags)
    assert catalogue.loc["selfreleased.wav"].labels == []
    reasons = pd.read_csv(tmp_path / "out" / "excluded.csv").set_index("track_id").reason
    assert reasons["unknown.wav"] == "release 999999999 not in the dump"
    assert reasons["badposition.wav"] == "no track Z9 on release 7697991"
    assert reasons["missing.wav"] == "audio missing"
