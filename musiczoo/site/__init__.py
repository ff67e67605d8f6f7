"""A static catalogue of the zoo's models: ``write_site(out_dir, benchmarks)``.

``index.html`` lists every registry entry and every other export registered here (filters by family
and status, vanilla JS); ``models/NAME.html`` says what a model is, what it was trained on (a recipe:
how to train and export it), its schema, how to run it (or get it), its licence, citation and
held-out benchmark results. The model files are hard-linked (copied across file systems) into
``files/`` and the benchmark reports and t-SNE plots copied into ``benchmarks/``, so the folder works
from file:// or any web server, moved or not, with no network.

The parts: :mod:`~musiczoo.site.catalogue` (the rows: registry entries and exports),
:mod:`~musiczoo.site.benchmarks` (held-out results: ``--benchmark`` folders and the ``benchmark`` block
of a model's JSON), :mod:`~musiczoo.site.index_page` and :mod:`~musiczoo.site.model_page` (the pages),
:mod:`~musiczoo.site.markup` (their HTML pieces), :mod:`~musiczoo.site.assets` (style sheet and script).
"""

import os
import shutil
from pathlib import Path

from musiczoo.fileio import atomic_write
from musiczoo.site.assets import SCRIPT, STYLE
from musiczoo.site.benchmarks import read_benchmark, runs_of
from musiczoo.site.catalogue import catalogue, unique_slug
from musiczoo.site.index_page import index_page
from musiczoo.site.model_page import model_page

__all__ = ["write_site"]


def _place(source, target):
    """Hard-link ``source`` at ``target`` (no second copy of a large graph), copying across file systems."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return target


def write_site(out_dir, benchmarks=()):
    """Write the catalogue into ``out_dir``: ``index.html``, ``models/*.html``, ``style.css``, ``site.js``,
    ``files/`` (the exports' ``.pb``/``.onnx``/``.json``) and ``benchmarks/`` (reports and t-SNE plots of
    ``benchmarks``, ``musiczoo benchmark`` output folders, attached to the models they scored, and of the runs
    recorded in the exports' JSON). Returns the index path.
    """
    out = Path(out_dir)
    taken = set()
    folders = [read_benchmark(folder, unique_slug(Path(folder).resolve().name, taken)) for folder in benchmarks]
    models = catalogue()
    runs = {model.name: runs_of(model, folders, taken) for model in models}
    shown = {id(bench): bench for bench in folders} | {id(b): b for found in runs.values() for b in found}
    for bench in shown.values():
        for name in filter(None, (bench.report, *bench.images.values())):
            _place(bench.folder / name, out / "benchmarks" / bench.slug / name)
    for model in models:
        files = [_place(p, out / "files" / model.slug / p.name) for p in model.files()]
        atomic_write(out / "models" / f"{model.slug}.html", model_page(model, runs[model.name], files).encode())
    atomic_write(out / "style.css", STYLE.encode())
    atomic_write(out / "site.js", SCRIPT.encode())
    atomic_write(out / "index.html", index_page(models, folders, runs).encode())
    return out / "index.html"
