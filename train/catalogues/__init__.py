"""Catalogue sources: where the tracks of a training catalogue and their metadata come from.

A source is a module of this package with one public call, ``build_*(..., out_dir, ...)``, that
writes a build folder and returns ``(catalogue, excluded)`` (:mod:`.schema`), plus one entry of
:data:`SOURCES`, the table ``musiczoo data build KIND`` makes its sub-commands from. An entry
names its call as ``module:function`` and declares the command-line arguments of the call's
parameters (each argument's destination is the parameter's name; ``-o OUT`` gives ``out_dir``).
Naming the call as a string keeps the command line light: a builder's module (music21, MIDI
rendering) is imported only when it runs.
"""

import importlib
import os
from dataclasses import dataclass


def argument(*flags, **options):
    """One command-line argument, as ``argparse.ArgumentParser.add_argument(*flags, **options)`` takes it."""
    return flags, options


@dataclass(frozen=True)
class Source:
    """A catalogue builder: its call (``module:function`` of this package) and its sub-command's text and arguments."""

    call: str
    help: str
    description: str
    arguments: tuple = ()

    def builder(self):
        """The build function (imports its module)."""
        module, function = self.call.split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), function)


RENDER_ARGUMENTS = (
    argument("--limit", type=int, metavar="N", help="render only the first N tracks of a seeded order"),
    argument("--seconds", type=float, default=30.0, help="excerpt length in seconds (default 30)"),
    argument("--seed", type=int, default=0, help="seed of the track order and excerpt starts (default 0)"),
    argument("--workers", type=int, default=os.cpu_count(), help="render processes (default: one per CPU)"),
    argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds one track may take to parse and render before it is excluded (default 120)",
    ),
)

SOURCES = {
    "music21": Source(
        "music21_corpus:build_music21",
        help="the embedded default: the music21 corpus rendered to audio",
        description="Render the scores of the music21 package's corpus (~13,000 tunes and pieces) to 16 kHz "
        "audio excerpts with pretty_midi's General MIDI soundfont. Artists are composers, releases "
        "works or tune books, labels corpus collections, years from the composers' dates.",
        arguments=RENDER_ARGUMENTS,
    ),
    "asap": Source(
        "asap:build_asap",
        help="ASAP piano performances (MIDI) rendered to audio",
        description="Render ASAP's human piano performances to audio excerpts. Artists are the composer and "
        "the performer, releases the work, playlists the MAESTRO recital the piece was played in.",
        arguments=(
            argument("asap_dir", metavar="PATH", help="the ASAP folder (with metadata.csv)"),
            argument(
                "--composers",
                metavar="TSV",
                help="composer dates (GiantMIDI-Piano's composers_manually_checked.tsv); default: built in",
            ),
            *RENDER_ARGUMENTS,
        ),
    ),
    "folder": Source(
        "folder:build_folder",
        help="your audio files, described by their tags and/or a table",
        description="Catalogue the audio files of a folder (searched recursively). Embedded tags (ID3, Vorbis "
        "comments, MP4) give artists, releases (album), year (date), tags (genre---NAME) and "
        "title. The metadata CSV has a 'path' (or 'file') column, relative to PATH, and any of "
        "track_id, title, year and artists, releases, labels, playlists, tags (several values "
        "separated by '|'); its columns win over the tags, and with it only the files it lists "
        "are kept. Durations are read from the audio; unreadable files are excluded with the reason.",
        arguments=(
            argument("folder", metavar="PATH", help="the audio folder"),
            argument("--metadata", metavar="CSV", help="the metadata table (default: none, every audio file)"),
            argument("--no-tags", dest="tags", action="store_false", help="ignore the files' embedded tags"),
        ),
    ),
    "jamendo": Source(
        "jamendo:build_jamendo",
        help="MTG-Jamendo TSV files and their audio",
        description="Catalogue MTG-Jamendo tracks from its TSV files (TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION "
        "TAGS...); a track in several TSVs gets the union of its tags.",
        arguments=(
            argument("tsvs", nargs="+", metavar="TSV", help="MTG-Jamendo TSV files"),
            argument("--audio-root", required=True, metavar="PATH", help="the folder the TSV's PATH is relative to"),
            argument(
                "--allow-missing-audio",
                action="store_true",
                help="keep tracks whose audio is absent (metadata-only work) instead of excluding them",
            ),
        ),
    ),
    "discogs": Source(
        "discogs:build_discogs",
        help="your audio matched to Discogs releases, metadata from the XML dumps",
        description="Catalogue audio matched to Discogs releases. The match CSV has columns path (relative to the "
        "CSV's folder), release_id and optionally track_position and track_id. Metadata is pooled "
        "over all releases of the matched release's master, streamed from "
        "DUMP_DIR/discogs_*_releases.xml[.gz] (and _masters).",
        arguments=(
            argument("dump_dir", metavar="DUMP_DIR", help="folder of Discogs monthly dumps"),
            argument("--match", required=True, metavar="CSV", help="the audio-to-release table"),
        ),
    ),
}
