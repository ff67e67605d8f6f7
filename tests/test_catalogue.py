"""The catalogue schema and its builders, each on real material with small limits."""

import argparse
import hashlib
import inspect
import math
import os
import time

import mutagen.easyid3
import mutagen.flac
import numpy as np
import pandas as pd
import pytest

from conftest import SHARED_DATA, require
from musiczoo.cli import main
from musiczoo.extractors.audio import load_audio
from musiczoo.runtime import essentia_standard
from musiczoo.train.catalogues import SOURCES
from musiczoo.train.catalogues import music21_corpus as music21_builder
from musiczoo.train.catalogues.asap import build_asap, maestro_recital, performer
from musiczoo.train.catalogues.audio_info import audio_tags
from musiczoo.train.catalogues.composers import LIFE_DATES, find_composer, read_composer_tsv, work_year
from musiczoo.train.catalogues.folder import build_folder
from musiczoo.isolation import run_isolated
from musiczoo.train.catalogues.jamendo import build_jamendo
from musiczoo.train.catalogues.render import seeded_rank
from musiczoo.train.catalogues.schema import (
    CatalogueError,
    catalogue_frame,
    hold_out,
    read_catalogue,
    validate,
    write_catalogue,
)

ASAP = SHARED_DATA / "asap"
COMPOSERS_TSV = SHARED_DATA / "composers" / "composers_manually_checked.tsv"
JAMENDO = SHARED_DATA / "mtg-jamendo" / "split-0"
DISCOGS = SHARED_DATA / "discogs-sample"
GAMEMUSIC = SHARED_DATA / "gamemusic"
SR = 16000


def write_wav(path, audio):
    essentia_standard().MonoWriter(filename=str(path), sampleRate=SR, format="wav")(np.asarray(audio, np.float32))
    return path


def tone(seconds, frequency=440.0):
    return 0.5 * np.sin(2 * np.pi * frequency * np.arange(int(seconds * SR)) / SR)


def known(value):
    """A catalogue value, None when missing (NA, NaN or None)."""
    return None if value is None or pd.isna(value) else value


def mtimes(folder):
    return {path: path.stat().st_mtime_ns for path in folder.rglob("*.wav")}


# --- schema ---------------------------------------------------------------------------------------


def test_catalogue_round_trip_keeps_lists_nulls_and_types(tmp_path):
    frame = catalogue_frame(
        [
            {
                "track_id": "a",
                "path": "/x/a.wav",
                "duration": 3.5,
                "artists": ["Nina Simone", "Duke Ellington"],
                "tags": ["genre---jazz"],
                "year": 1962,
                "title": "Take the A Train",
            },
            {"track_id": "b", "path": "/x/b.wav"},
        ]
    )
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


# --- sources ---------------------------------------------------------------------------------------


def test_every_source_is_a_build_command_around_its_call(capsys):
    for kind, source in SOURCES.items():
        parameters = inspect.signature(source.builder()).parameters
        parser = argparse.ArgumentParser()
        dests = {parser.add_argument(*flags, **options).dest for flags, options in source.arguments}
        assert dests | {"out_dir"} <= set(parameters), f"{kind}: arguments {dests} not all parameters of {source.call}"
    with pytest.raises(SystemExit):
        main(["data", "build", "--help"])
    assert set(SOURCES) <= set(capsys.readouterr().out.split())


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
    seed = next(
        s
        for s in range(100)
        if any(
            score[1].split("/")[0] in music21_builder.FOLDER_COMPOSERS
            for score in sorted(scores, key=lambda score: seeded_rank(s, score[0]))[:3]
        )
    )
    command = [
        "data",
        "build",
        "music21",
        "-o",
        str(tmp_path),
        "--limit",
        "3",
        "--seconds",
        "5",
        "--seed",
        str(seed),
        "--workers",
        "1",
    ]
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
    catalogue, excluded = build_asap(
        require(ASAP), tmp_path, composers=require(COMPOSERS_TSV), limit=3, seconds=5, workers=1
    )
    assert len(catalogue) == 3 and excluded.empty
    metadata = pd.read_csv(ASAP / "metadata.csv").set_index("midi_performance")
    giantmidi = read_composer_tsv(COMPOSERS_TSV)
    for row in catalogue.itertuples():
        entry = metadata.loc[row.source]
        composer, player = row.artists
        assert composer.split()[-1] == entry.composer and player == performer(row.source.rsplit("/", 1)[1][:-4])
        assert row.year == work_year(*giantmidi[composer])
        assert row.releases == [f"asap/{entry.folder}"] and row.duration == 5.0
        assert row.playlists == (
            [maestro_recital(entry.maestro_midi_performance)] if isinstance(entry.maestro_midi_performance, str) else []
        )


def test_maestro_recitals_group_one_programme():
    metadata = pd.read_csv(require(ASAP) / "metadata.csv")
    recitals = metadata.maestro_midi_performance.map(maestro_recital)
    rows = dict(zip(metadata.midi_performance, recitals))
    assert rows["Bach/Fugue/bwv_846/Shi05M.mid"] == (
        "maestro/2006/MIDI-Unprocessed_19_R1_2006_01-07_ORIG_MID/AUDIO_19_R1_2006"
    )
    denisova = {recital for path, recital in rows.items() if "Denisova06M" in path or "Denisova10M" in path}
    assert len(denisova) == 1  # two pieces of one 2008 recital share a playlist
    performers = metadata.midi_performance.str.rsplit("/", n=1).str[1].str[:-4].map(performer)
    per_recital = performers.groupby(recitals).nunique()
    assert recitals.notna().sum() == metadata.maestro_midi_performance.notna().sum()
    assert (per_recital == 1).mean() > 0.9  # a recital is one performer's programme
    assert performer("Shi05M") == "Shi" and performer("Richardson_2013_03M") == "Richardson"


def test_isolated_calls_survive_errors_hangs_and_crashes():
    started = time.monotonic()
    outcomes = {
        job: (ok, value)
        for job, ok, value in run_isolated(
            misbehave, [(kind, (kind,)) for kind in ("fine", "raise", "hang", "crash", "after")], workers=2, timeout=2
        )
    }
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
        "missing.wav,Someone,,,,\n"
    )
    assert (
        main(
            [
                "data",
                "build",
                "folder",
                str(audio),
                "--metadata",
                str(tmp_path / "meta.csv"),
                "-o",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
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


def test_folder_build_reads_embedded_tags_of_real_recordings(tmp_path):
    catalogue, excluded = build_folder(require(GAMEMUSIC) / "audio", tmp_path / "tags")
    reference = pd.read_csv(GAMEMUSIC / "catalogue.csv", dtype=str, keep_default_na=False)
    assert len(catalogue) == len(reference) and excluded.empty
    rows = catalogue.set_index("track_id")
    tagged = reference[reference.attribution_source == "tag"]  # the data set's own reading of the tags
    assert len(tagged) > 40
    for entry in tagged.itertuples():
        row = rows.loc[entry.path.removeprefix("audio/")]
        assert row.artists == [entry.artist_tag] and row.releases == ([entry.album] if entry.album else [])
        assert row.tags == ([f"genre---{entry.genre}"] if entry.genre else [])
        assert known(row.title) == (entry.title or None)
        assert known(row.year) == (int(entry.year) if entry.year else None)
    assert rows.loc["asc-music/frontiers.mp3"].artists == []  # an untagged MP3
    assert known(rows.loc["xmoto-data/MadeiraStew.ogg"].year) is None  # DATE=jan08: no year
    # a table wins over the tags for its columns (artists), the tags fill the others
    (tmp_path / "meta.csv").write_text("path,artists\nopenclonk-data/Cavern.ogg,K-Pone\n")
    catalogue, excluded = build_folder(GAMEMUSIC / "audio", tmp_path / "both", metadata=tmp_path / "meta.csv")
    cavern = catalogue.iloc[0]
    assert len(catalogue) == 1 and cavern.artists == ["K-Pone"]
    assert (cavern.releases, cavern.year, cavern.title) == (["OpenClonk"], 2016, "Cavern")
    assert (excluded.reason == "not in the metadata table").sum() == len(reference) - 1


def test_folder_build_reads_tags_written_into_synthesised_files(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    for name in ("vorbis.flac", "id3.mp3", "plain.wav"):
        essentia_standard().MonoWriter(filename=str(audio / name), sampleRate=SR, format=name.split(".")[1])(
            tone(2).astype(np.float32)
        )
    flac = mutagen.flac.FLAC(audio / "vorbis.flac")  # Vorbis comments, several values per field
    flac.update(
        {
            "artist": ["Nina Simone", "Duke Ellington"],
            "album": "Live",
            "date": "1962-05-01",
            "genre": ["Jazz", "Blues"],
            "title": "One",
        }
    )
    flac.save()
    mp3 = mutagen.easyid3.EasyID3(audio / "id3.mp3")  # ID3v2.4
    mp3.update({"artist": ["Nina Simone"], "album": "Live", "date": "1962", "genre": "Jazz", "title": "Two"})
    mp3.save()
    # an ID3 header of a version that does not exist: tags unreadable, audio still decodable
    (audio / "badtags.mp3").write_bytes(
        b"ID3\x05\x00\x00\x00\x00\x00\x10" + bytes(16) + (audio / "id3.mp3").read_bytes()
    )
    assert audio_tags(audio / "badtags.mp3") == {} and audio_tags(audio / "plain.wav") == {}
    assert main(["data", "build", "folder", str(audio), "-o", str(tmp_path / "out")]) == 0
    rows = read_catalogue(tmp_path / "out" / "catalogue.parquet").set_index("track_id")
    assert sorted(rows.index) == ["badtags.mp3", "id3.mp3", "plain.wav", "vorbis.flac"]
    one, two = rows.loc["vorbis.flac"], rows.loc["id3.mp3"]
    assert one.artists == ["Nina Simone", "Duke Ellington"] and one.tags == ["genre---Jazz", "genre---Blues"]
    assert (one.releases, one.year, one.title) == (["Live"], 1962, "One")
    assert (two.artists, two.releases, two.tags, two.year, two.title) == (
        ["Nina Simone"],
        ["Live"],
        ["genre---Jazz"],
        1962,
        "Two",
    )
    for name in ("badtags.mp3", "plain.wav"):
        assert rows.loc[name].artists == [] and known(rows.loc[name].year) is known(rows.loc[name].title) is None
    # --no-tags ignores them; a table's columns win, an empty cell included
    assert main(["data", "build", "folder", str(audio), "--no-tags", "-o", str(tmp_path / "untagged")]) == 0
    assert read_catalogue(tmp_path / "untagged" / "catalogue.parquet").artists.tolist() == [[]] * 4
    (tmp_path / "meta.csv").write_text("path,artists,year\nvorbis.flac,Someone Else,\nid3.mp3,,1970\n")
    catalogue, _ = build_folder(audio, tmp_path / "table", metadata=tmp_path / "meta.csv")
    one, two = catalogue.set_index("track_id").loc[["vorbis.flac", "id3.mp3"]].itertuples(index=False)
    assert one.artists == ["Someone Else"] and known(one.year) is None and one.releases == ["Live"]
    assert two.artists == [] and two.year == 1970 and two.title == "Two"


def test_jamendo_split0_merges_tags_across_tsvs(tmp_path):
    tsvs = sorted(require(JAMENDO).glob("*.tsv"))
    catalogue, excluded = build_jamendo(tsvs, tmp_path / "all", tmp_path / "audio", allow_missing_audio=True)
    track_ids = {line.split("\t", 1)[0] for tsv in tsvs for line in tsv.read_text().splitlines()[1:]}
    assert len(catalogue) == len(track_ids) > 50000 and excluded.empty
    row = catalogue.set_index("track_id").loc["jamendo/track_0000214"]
    assert row.artists == ["artist_000014"] and row.releases == ["album_000031"] and row.duration == 124.6
    tag_lists = [
        line.rstrip("\n").split("\t")[5:] for tsv in tsvs for line in tsv.open() if line.startswith("track_0000214\t")
    ]
    assert len(tag_lists) > 1 and set(row.tags) == {tag for tags in tag_lists for tag in tags}
    # without --allow-missing-audio only tracks with audio stay; the low-quality .low.mp3 counts
    (tmp_path / "audio" / "14").mkdir(parents=True)
    (tmp_path / "audio" / "14" / "214.low.mp3").write_bytes(b"")
    assert (
        main(
            [
                "data",
                "build",
                "jamendo",
                *map(str, tsvs[:2]),
                "--audio-root",
                str(tmp_path / "audio"),
                "-o",
                str(tmp_path / "present"),
            ]
        )
        == 0
    )
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
        "slider.wav,7697991,A1\n"  # T. Rex - The Slider (Reprise); master 72462 also has 7697999 (Odeon)
        "mix.wav,3,1\n"  # Josh Wink's DJ mix: track 1 credits its own artists
        "mission.wav,1586374,\n"  # master 129684 is in the masters sample: its year wins
        "selfreleased.wav,1586364,\n"  # 'Not On Label (...)' is no label
        "unknown.wav,999999999,\n"
        "badposition.wav,7697991,Z9\n"
        "missing.wav,1,\n"
    )
    started = time.perf_counter()
    assert (
        main(
            [
                "data",
                "build",
                "discogs",
                str(dumps),
                "--match",
                str(tmp_path / "match.csv"),
                "-o",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
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


def test_hold_out_keeps_each_work_on_one_side():
    frame = catalogue_frame(
        [{"track_id": f"t{i}", "path": f"/a/{i}.wav", "releases": [f"w{i // 3}"]} for i in range(30)]
        + [{"track_id": "lone", "path": "/a/lone.wav"}]
    )
    kept, held = hold_out(frame, 0.3, by="releases", seed=1)
    assert len(kept) + len(held) == len(frame)

    def works(part):
        return {r[0] if r else t for r, t in zip(part.releases, part.track_id)}

    assert not works(kept) & works(held)
    assert len(works(held)) == 3  # 30% of the 11 works (10 of three tracks, and the lone track)
    assert hold_out(frame, 0.3, by="releases", seed=1)[1].track_id.tolist() == held.track_id.tolist()
