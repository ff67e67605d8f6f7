"""Composer life dates, and the rule that turns them into a work's year.

:data:`LIFE_DATES` holds the standard birth and death years of the composers of the music21 corpus
and of ASAP, as given by each composer's entry in Grove Music Online / Wikipedia (circa dates
take the usual year: Josquin c.1450, Palestrina c.1525, Ciconia c.1370). The ones also listed in
GiantMIDI-Piano's ``composers_manually_checked.tsv`` agree with it (checked by the tests).

Work year rule (:func:`work_year`): a work whose date is unknown is placed at the middle of the
composer's active life, taken as from age 20 to death: Bach (1685-1750) -> (1705 + 1750) // 2 = 1727.
"""

import csv
import unicodedata

LIFE_DATES = {
    "Amy Beach": (1867, 1944),
    "Arcangelo Corelli": (1653, 1713),
    "Aleksandr Scriabin": (1872, 1915),
    "Anton Webern": (1883, 1945),
    "Arnold Schoenberg": (1874, 1951),
    "Carl Maria von Weber": (1786, 1826),
    "Carl Philipp Emanuel Bach": (1714, 1788),
    "Clara Schumann": (1819, 1896),
    "Claude Debussy": (1862, 1918),
    "Claudio Monteverdi": (1567, 1643),
    "Franz Liszt": (1811, 1886),
    "Franz Schubert": (1797, 1828),
    "Frédéric Chopin": (1810, 1849),
    "George Frideric Handel": (1685, 1759),
    "Giovanni Pierluigi da Palestrina": (1525, 1594),
    "Giuseppe Verdi": (1813, 1901),
    "J. Rosamond Johnson": (1873, 1954),
    "Johann Sebastian Bach": (1685, 1750),
    "Johannes Brahms": (1833, 1897),
    "Johannes Ciconia": (1370, 1412),
    "Joseph Haydn": (1732, 1809),
    "Josquin des Prez": (1450, 1521),
    "Liliuokalani": (1838, 1917),
    "Ludwig van Beethoven": (1770, 1827),
    "Maurice Ravel": (1875, 1937),
    "Mikhail Glinka": (1804, 1857),
    "Mily Balakirev": (1837, 1910),
    "Robert Schumann": (1810, 1856),
    "Scott Joplin": (1868, 1917),
    "Sergei Rachmaninoff": (1873, 1943),
    "Sergey Prokofiev": (1891, 1953),
    "Wolfgang Amadeus Mozart": (1756, 1791),
}


def work_year(birth, death):
    """Middle of the active life (age 20 to death), the year given to an undated work."""
    return (min(birth + 20, death) + death) // 2


def fold_name(name):
    """Lower case without accents: ``Frédéric`` -> ``frederic``."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().strip()


def read_composer_tsv(path):
    """GiantMIDI-Piano's composer table (``composer_name, nationality, birth, death``) as
    ``{name: (birth, death)}``, keeping only rows with both years known."""
    with open(path, encoding="utf-8-sig", newline="") as file:
        rows = csv.DictReader(file, delimiter="\t")
        return {
            row["composer_name"]: (int(row["birth"]), int(row["death"]))
            for row in rows
            if row["birth"].isdigit() and row["death"].isdigit()
        }


def find_composer(name, dates=None):
    """``(full name, birth, death)`` for ``name`` in ``dates`` (default :data:`LIFE_DATES`), or None.

    ``name`` matches a full name, or a surname that only one composer of ``dates`` has.
    """
    dates = LIFE_DATES if dates is None else dates
    folded = {fold_name(full): full for full in dates}
    full = folded.get(fold_name(name))
    if full is None:
        candidates = [full for key, full in folded.items() if key.split()[-1] == fold_name(name)]
        full = candidates[0] if len(candidates) == 1 else None
    return None if full is None else (full, *dates[full])
