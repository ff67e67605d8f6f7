"""`musiczoo models site`: the static catalogue, its pages, links, exports and benchmark results."""

import html
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from musiczoo.cli import main
from musiczoo.site import write_site
from musiczoo.zoo import registry
from test_benchmark import tagged_tracks  # noqa: F401  (a pytest fixture: 16 short tracks by 4 'artists')

ERA = "music_era_ce-cnn"


@pytest.fixture(scope="module")
def random_init(tmp_path_factory):
    """An untrained era CNN export (not registered: each test registers it in its own home)."""
    from musiczoo.zoo.export import export_random_init

    return export_random_init(ERA, tmp_path_factory.mktemp("exports"), register=False)


@pytest.fixture(scope="module")
def benchmarked(tagged_tracks, random_init, tmp_path_factory):  # noqa: F811
    """A real (tiny) `musiczoo benchmark` output: the export next to mel-stats on one similarity task."""
    from threadpoolctl import threadpool_limits

    from musiczoo.downstream.benchmark import benchmark

    out = tmp_path_factory.mktemp("bench") / "era-bench"
    tasks = {
        "catalogue": str(tagged_tracks / "catalogue.csv"),
        "tasks": {"artist-similarity": {"kind": "similarity", "label": "artist", "triplets": 50}},
    }
    with threadpool_limits(1):  # the report's t-SNE: many times slower with its threads on busy cores
        benchmark(["mel-stats", str(random_init)], tasks, out, seeds=2, k=(), progress=False)
    return out


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("href", "src")]


def check_links(site):
    """Every page's links and images are files of the site (no network, nothing outside it); returns the pages."""
    pages = {page.relative_to(site).as_posix(): page.read_text() for page in site.rglob("*.html")}
    for name, text in pages.items():
        if name.startswith("benchmarks/"):  # a benchmark's own report, copied as is (its plots embedded)
            continue
        parser = Links()
        parser.feed(text)
        for link in parser.links:
            assert not link.startswith(("http:", "https:", "//")), f"{name} reaches out: {link}"
            if link.startswith(("#", "data:")):
                continue
            target = (site / name).parent / link.split("#")[0]
            assert target.is_file() and target.resolve().is_relative_to(site.resolve()), f"{name}: broken {link}"
    return pages


def row_of(index, name):
    """The index row of model ``name``."""
    return next(row for row in index.split("<tr")[1:] if f">{name}</a>" in row)


def test_without_exports_every_registry_entry_has_a_page_with_its_recipe(tmp_path, capsys):
    assert main(["models", "site", "-o", str(tmp_path / "site"), "--benchmark", str(tmp_path)]) == 2
    assert "not a `musiczoo benchmark` output (no summary.csv)" in capsys.readouterr().err
    index = write_site(tmp_path / "site")
    pages = check_links(tmp_path / "site")
    assert index == tmp_path / "site" / "index.html" and (tmp_path / "site" / "style.css").is_file()
    for name, entry in registry.entries().items():
        page = pages[f"models/{name}.html"]
        assert f"models/{name}.html" in pages["index.html"] and "not benchmarked" in row_of(pages["index.html"], name)
        if registry.is_pretrained(entry):
            assert f"musiczoo import musicnn {entry['musiczoo']['checkpoint']}" in page
            assert "data-status='pretrained'" in row_of(pages["index.html"], name)
        elif entry["musiczoo"]["head"]["type"] == "audio_art":  # artist text too: no Essentia graph
            assert "musiczoo era predict" in page and "TensorflowPredict" not in page.split("Use it")[1]
        else:
            assert f"musiczoo export --random-init {name}" in page and "musiczoo train configs/" in page
            assert "data-status='recipe'" in row_of(pages["index.html"], name)
    assert "musiczoo train configs/era_cnn.yaml -o runs/era_cnn" in pages[f"models/{ERA}.html"]


def test_exports_are_listed_with_their_files_and_a_broken_one_with_a_note(random_init, tmp_path):
    registry.register_export(f"{ERA}-random-init", random_init)
    broken = tmp_path / "broken" / "mine.pb"
    broken.parent.mkdir()
    shutil.copyfile(random_init, broken)  # no .json beside it
    registry.register_export("mine", broken)
    write_site(tmp_path / "site")
    pages = check_links(tmp_path / "site")
    row = row_of(pages["index.html"], f"{ERA}-random-init")
    assert "data-status='random-init'" in row and "data-family='musicnn'" in row and ">64<" in row
    page = pages[f"models/{ERA}-random-init.html"]
    assert f"../files/{ERA}-random-init/{ERA}-random-init.pb" in page and "Copy</button>" in page
    assert (
        f'graphFilename="{ERA}-random-init.pb"' in html.unescape(page) and f"musiczoo extract {ERA}-random-init" in page
    )
    files = tmp_path / "site" / "files" / f"{ERA}-random-init"
    assert (files / f"{ERA}-random-init.pb").read_bytes() == Path(random_init).read_bytes()
    assert "has no metadata mine.json" in row_of(pages["index.html"], "mine") and "mine.html" in pages["index.html"]
    assert "data-status='metadata missing'" in row_of(pages["index.html"], "mine")


def test_a_benchmark_attaches_its_held_out_results_and_baselines(random_init, benchmarked, tmp_path, capsys):
    registry.register_export(f"{ERA}-random-init", random_init)
    assert main(["models", "site", "-o", str(tmp_path / "site"), "--benchmark", str(benchmarked)]) == 0
    assert capsys.readouterr().out.strip() == f"catalogue: {tmp_path / 'site' / 'index.html'}"
    pages = check_links(tmp_path / "site")
    summary = pd.read_csv(benchmarked / "summary.csv").set_index(["model", "metric"])["mean"]
    row = row_of(pages["index.html"], f"{ERA}-random-init")
    assert f"{summary[(f'{ERA}-random-init', 'triplet')]:.3f}" in row and "mel-stats" in row
    page = pages[f"models/{ERA}-random-init.html"]
    assert f"{ERA}-random-init (this model)" in page and "mel-stats (baseline)" in page
    assert "../benchmarks/era-bench/tsne-artist-similarity.png" in page and "benchmark([" in page
    assert "not benchmarked" in row_of(pages["index.html"], ERA)  # the recipe: the benchmark scored another graph


@pytest.mark.parametrize("made_by", ["benchmark", "demo"])
def test_a_benchmarked_run_folder_attaches_to_the_export_of_that_run(random_init, made_by, tmp_path):
    training = {"catalogue": "data/c.parquet", "tracks": 84, "hours": 0.47, "objectives": [{"loss": "era_ce"}]}
    meta = json.loads(Path(random_init).with_suffix(".json").read_text())
    meta |= {"name": ERA, "dataset": {"name": "asap (musiczoo catalogue)", "metrics": {}, "training": training}}
    out = tmp_path / "bench"  # what `musiczoo benchmark` (or `musiczoo demo`, its run in OUT/run) writes, by hand
    (out / "models").mkdir(parents=True)
    graph = shutil.copyfile(random_init, out / "models" / f"{ERA}.pb")
    graph.with_suffix(".json").write_text(json.dumps(meta))
    registry.register_export(ERA, graph)
    for run, seed in ((out / "run", 0), (tmp_path / "other", 1)):  # the exported run, another run of the model
        run.mkdir()
        dataset = meta["dataset"] | {"training": training | {"seed": seed}} if seed else meta["dataset"]
        (run / "run.json").write_text(json.dumps({"model": ERA, "metadata": {"dataset": dataset}}))
    rows = [("trained", 0.75), ("other", 0.5), ("mel-stats", 0.625), ("random-init", 0.5)]
    pd.DataFrame(
        [{"task": "era", "model": m, "metric": "accuracy", "mean": v, "ci95": 0.1, "seeds": 3} for m, v in rows]
    ).to_csv(out / "summary.csv", index=False)
    command = {
        "benchmark": f"musiczoo benchmark trained={out / 'run'} {tmp_path / 'other'} mel-stats random-init "
        f"--tasks t.yaml -o {out}",
        "demo": f"musiczoo demo -o {out}",
    }[made_by]
    (out / "report.md").write_text(
        f"# Benchmark\n\n## era\n\nclassification of `year`\n\n## How it was made\n\n```bash\n{command}\n```\n"
    )
    write_site(tmp_path / "site", [out])
    pages = check_links(tmp_path / "site")
    row = row_of(pages["index.html"], ERA)
    assert "data-status='trained'" in row and "84 tracks, 0.47 h; era_ce" in row and "0.750 ± 0.100" in row
    page = pages[f"models/{ERA}.html"]
    assert "trained (this model)" in page and "mel-stats (baseline)" in page and "random-init (baseline)" in page
    assert "other (" not in page and command in page
