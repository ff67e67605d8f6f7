"""The metadata table of the gamemusic-large corpus for `musiczoo data build folder`: Discogs-style associations.

    bash ../shared/data/gamemusic-large/build.sh data/gamemusic-large      # once: 369 recordings, 18.3 h
    python benchmarks/gamemusic_large.py data/gamemusic-large               # -> data/gamemusic-large/metadata.csv
    musiczoo data build folder data/gamemusic-large/audio --metadata data/gamemusic-large/metadata.csv -o data/gml

Per track: artist = the recording's artist (the composer where the corpus credits one), release = its album,
else the game's soundtrack (``<package> soundtrack``), label = the game (the Debian package). The four artists
who also have recordings in ``../shared/data/gamemusic`` (the held-out set) are left out, so that no artist
task there is trained on (``--keep-shared-artists`` keeps them).
"""

import argparse
from pathlib import Path

import pandas as pd

HELD_OUT = Path(__file__).resolve().parents[2] / "shared" / "data" / "gamemusic" / "catalogue.csv"


def metadata_table(corpus, keep_shared_artists=False):
    """The ``--metadata`` frame of the corpus folder ``corpus`` (its catalogue.csv); paths relative to audio/."""
    tracks = pd.read_csv(Path(corpus) / "catalogue.csv")
    shared = set(pd.read_csv(HELD_OUT).artist.dropna()) if HELD_OUT.exists() else set()
    credited = tracks.composer.fillna(tracks.artist)
    names = credited.str.split(" & ")
    if not keep_shared_artists:
        names_shared = names.map(lambda artists: bool(shared & set(artists)))
        tracks, names = tracks[~names_shared], names[~names_shared]
    return pd.DataFrame(
        {
            "path": tracks.path.str.removeprefix("audio/"),
            "title": tracks.title,
            "year": tracks.year.astype("Int64"),
            "artists": names.str.join("|"),
            "releases": tracks.album.fillna(tracks.package + " soundtrack"),
            "labels": tracks.package,
        }
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", help="the folder build.sh wrote (catalogue.csv, audio/)")
    parser.add_argument("-o", "--output", help="the CSV to write (default: CORPUS/metadata.csv)")
    parser.add_argument("--keep-shared-artists", action="store_true", help="keep the artists gamemusic also has")
    args = parser.parse_args()
    table = metadata_table(args.corpus, args.keep_shared_artists)
    out = Path(args.output or Path(args.corpus) / "metadata.csv")
    table.to_csv(out, index=False)
    print(
        f"{out}: {len(table)} tracks, {table.artists.nunique()} artists, {table.releases.nunique()} releases, "
        f"{table.labels.nunique()} labels"
    )


if __name__ == "__main__":
    main()
