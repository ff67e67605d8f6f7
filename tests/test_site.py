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
            continue
        # a recipe: not trained here, and its page says how to train and export it, in its Training data
        recipe = f"recipe — not trained here (would train on: {entry['dataset']['name']})"
        assert html.escape(recipe) in row_of(pages["index.html"], name) and "A recipe: models.json defines" in page
        training = page.split("<h2 id='training'>Training data</h2>")[1].split("<h2>")[0]
        assert f"would train on</dt><dd>{html.escape(entry['dataset']['name'])}" in training
        assert "data-status='recipe'" in row_of(pages["index.html"], name) and "musiczoo train configs/" in training
        assert "nothing to score until it is trained" in page
        if entry["musiczoo"]["head"]["type"] == "audio_art":  # artist text too: no Essentia graph
            assert "musiczoo era predict" in training and "TensorflowPredict" not in page.split("Use it")[1]
        else:
            assert f"musiczoo export --random-init {name}" in page and "musiczoo export runs/" in training
    assert (
        "musiczoo train configs/era_cnn.yaml -o runs/era_cnn\nmusiczoo export runs/era_cnn"
        in pages[f"models/{ERA}.html"]
    )


def test_pretrained_entries_show_their_authors_date_and_numbers_as_theirs(tmp_path):
    write_site(tmp_path / "site")
    pages = check_links(tmp_path / "site")
    for name, entry in registry.pretrained().items():
        row, page = row_of(pages["index.html"], name), html.unescape(pages[f"models/{name}.html"])
        assert f"{entry['dataset']['name']}, by its authors" in html.unescape(row)
        assert "authors' own test: ROC-AUC" in html.unescape(row) and "not benchmarked" in row
        assert "released</dt><dd>2019-09" in page and "arXiv:1909.06654" in page
        assert "authors' metrics</dt><dd>ROC-AUC" in page and entry["dataset"]["metrics_source"] in page
        assert "last training epoch" not in page


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


TRAINING = {"catalogue": "data/c.parquet", "tracks": 84, "hours": 0.47, "objectives": [{"loss": "era_ce"}]}


def trained_export(random_init, folder, **extra):
    """The era export as if trained (its JSON: training data, and ``extra``), registered as ERA."""
    meta = json.loads(Path(random_init).with_suffix(".json").read_text())
    meta |= {"name": ERA, "dataset": {"name": "asap (musiczoo catalogue)", "metrics": {}, "training": TRAINING}}
    folder.mkdir(parents=True, exist_ok=True)
    graph = shutil.copyfile(random_init, folder / f"{ERA}.pb")
    graph.with_suffix(".json").write_text(json.dumps(meta | extra))
    registry.register_export(ERA, graph)
    return graph, meta


def hand_written_benchmark(random_init, tmp_path, made_by="benchmark", **extra):
    """What `musiczoo benchmark` (or `musiczoo demo`, its export in OUT/models) writes, by hand: the export (its JSON
    updated by ``extra``) scored as row ``trained``, from the run it was exported from, beside another run of the
    model and the baselines. Returns the folder and its command."""
    out = tmp_path / "bench"
    graph, meta = trained_export(random_init, out / "models", **extra)
    if made_by == "demo":  # the demo benchmarks its export, under the demo model's name
        from musiczoo.demo import benchmarked_models

        shutil.copy(graph, benchmarked_models(out)[0].partition("=")[2])
    for run, seed in ((out / "run", 0), (tmp_path / "other", 1)):  # the exported run, another run of the model
        run.mkdir()
        dataset = meta["dataset"] | {"training": TRAINING | {"seed": seed}} if seed else meta["dataset"]
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
    (out / "report.html").write_text("<!doctype html><title>report</title>")
    return out, command


@pytest.mark.parametrize("made_by", ["benchmark", "demo"])
def test_a_benchmarked_run_folder_attaches_to_the_export_of_that_run(random_init, made_by, tmp_path):
    out, command = hand_written_benchmark(random_init, tmp_path, made_by)
    write_site(tmp_path / "site", [out])
    pages = check_links(tmp_path / "site")
    row = row_of(pages["index.html"], ERA)
    assert "data-status='trained'" in row and "84 tracks, 0.47 h; era_ce" in row and "0.750 ± 0.100" in row
    page = pages[f"models/{ERA}.html"]
    assert "trained (this model)" in page and "mel-stats (baseline)" in page and "random-init (baseline)" in page
    assert "other (" not in page and command in page


def recorded(report, mean=0.667, command="musiczoo benchmark musicnn-artist=... --tasks gamemusic.yaml -o OUT"):
    """A task set's block as `musiczoo benchmark` records it in a model's JSON (the format of zoo.heldout)."""
    baselines = {"mel-stats": [0.538, 0.191], "random-init": [0.385, 0.191], "msd-musicnn": [0.615, 0.191]}
    return {
        "tasks": "benchmarks/tasks/gamemusic.yaml",
        "command": command,
        "date": "2026-12-07",
        "row": "musicnn-artist",
        "seeds": 3,
        "training_seeds": 3,
        "tracks": 75,
        "report": str(report),
        "results": [
            {"task": "artist", "metric": "accuracy", "mean": mean, "ci95": 0.292, "baselines": baselines},
            {"task": "artist-similarity", "metric": "triplet", "mean": 0.777, "ci95": 0.017, "baselines": {}},
        ],
    }


def test_the_index_shows_the_result_that_leads_its_baselines_by_most(random_init, tmp_path):
    block = recorded(tmp_path / "report.html")
    block["results"][1]["baselines"] = {"mel-stats": [0.9, 0.01]}  # the higher mean, 0.777, trails its baseline
    trained_export(random_init, tmp_path / "exports", benchmark={"gamemusic": block})
    assert main(["models", "site", "-o", str(tmp_path / "site")]) == 0
    row = html.unescape(row_of(check_links(tmp_path / "site")["index.html"], ERA))
    assert "0.667 ± 0.292</a> accuracy" in row and "0.777" not in row


def test_held_out_results_recorded_in_the_model_json_need_no_benchmark_folder(random_init, tmp_path):
    report = tmp_path / "gone" / "report.html"  # the run's folder is not on this machine any more
    metrics = {"loss": 1.2, "gamemusic: artist accuracy": 0.667, "gamemusic: artist-similarity triplet": 0.777}
    graph, meta = trained_export(random_init, tmp_path / "exports", benchmark={"gamemusic": recorded(report)})
    graph.with_suffix(".json").write_text(
        json.dumps(
            json.loads(graph.with_suffix(".json").read_text()) | {"dataset": meta["dataset"] | {"metrics": metrics}}
        )
    )
    assert main(["models", "site", "-o", str(tmp_path / "site")]) == 0
    pages = check_links(tmp_path / "site")
    row = html.unescape(row_of(pages["index.html"], ERA))
    # the result with baselines beside it (the triplets have none)
    assert "0.667 ± 0.292</a> accuracy" in row and "artist, gamemusic; " in row and "mel-stats 0.538 ± 0.191" in row
    page = html.unescape(pages[f"models/{ERA}.html"])
    tables = page.split("<h2 id='benchmarks'>")[1]
    assert "benchmark.gamemusic</code> (recorded 2026-12-07)" in tables and "75 held-out tracks, 3 seeds" in tables
    assert "musicnn-artist (this model)" in tables and "0.667 ± 0.292" in tables and "msd-musicnn (baseline)" in tables
    assert "mel-stats (baseline)</div></td><td data-label='accuracy' class=num><div>0.538 ± 0.191" in tables
    assert "full report" not in tables and recorded(report)["command"] in tables
    training = page.split("<h2 id='training'>")[1].split("<h2>")[0]
    assert "last training epoch (not held out)</dt><dd>loss 1.2<" in training
    assert "held-out results</dt><dd>gamemusic: artist accuracy 0.667, gamemusic: artist-similarity triplet" in training
    assert "models/" + ERA + ".html#benchmarks'>" + ERA + "</a>: gamemusic (2026-12-07)" in html.unescape(
        pages["index.html"]
    )


def test_a_run_in_both_the_json_and_a_benchmark_folder_is_shown_once(random_init, tmp_path):
    out = tmp_path / "bench"
    same = recorded(out / "report.html", mean=0.75) | {"row": "trained", "training_seeds": 1}
    same["results"] = [same["results"][0] | {"task": "era", "baselines": {"mel-stats": [0.625, 0.1]}}]
    older = same | {"date": "2026-11-01", "results": [same["results"][0] | {"mean": 0.7}]}  # then overwritten
    hand_written_benchmark(random_init, tmp_path, benchmark={"asap": same, "asap-older": older})
    write_site(tmp_path / "site", [out])
    pages = check_links(tmp_path / "site")
    page = pages[f"models/{ERA}.html"]
    assert page.count("trained (this model)") == 2  # the folder's table, and the older run the JSON recorded
    assert "benchmark.asap-older" in page and "benchmark.asap</code>" not in page
    assert "../benchmarks/bench/report.html" in page and "-asap-older/" not in page  # that folder: another run now
    assert "0.750 ± 0.100" in row_of(pages["index.html"], ERA)
    write_site(tmp_path / "alone")  # without the folder: the JSON's blocks
    page = check_links(tmp_path / "alone")[f"models/{ERA}.html"]
    assert page.count("trained (this model)") == 2 and "benchmark.asap</code>" in page
    assert "../benchmarks/" + ERA + "-asap/report.html" in page and "-asap-older/" not in page


def test_what_a_real_benchmark_records_reaches_the_site(random_init, tagged_tracks, tmp_path):  # noqa: F811
    """`musiczoo benchmark` records its results in the export's JSON: the site shows them with no folder, and once
    with it."""
    from threadpoolctl import threadpool_limits

    from musiczoo.downstream.benchmark import benchmark

    graph, _ = trained_export(random_init, tmp_path / "exports")
    out = tmp_path / "bench"
    tasks = {
        "catalogue": str(tagged_tracks / "catalogue.csv"),
        "tasks": {"artist-similarity": {"kind": "similarity", "label": "artist", "triplets": 50}},
    }
    with threadpool_limits(1):
        benchmark([str(graph), "mel-stats"], tasks, out, seeds=2, k=(), progress=False)
    (task_set,) = json.loads(graph.with_suffix(".json").read_text())["benchmark"]
    summary = pd.read_csv(out / "summary.csv").set_index(["model", "metric"])
    mean, ci = summary.loc[(ERA, "triplet"), ["mean", "ci95"]]
    write_site(tmp_path / "alone")
    pages = check_links(tmp_path / "alone")
    row = html.unescape(row_of(pages["index.html"], ERA))
    assert f"{mean:.3f} ± {ci:.3f}</a> triplet acc." in row and "mel-stats" in row
    assert f"benchmark.{task_set}</code>" in pages[f"models/{ERA}.html"]
    write_site(tmp_path / "both", [out])
    page = check_links(tmp_path / "both")[f"models/{ERA}.html"]
    assert page.count(f"{ERA} (this model)") == 1 and f"benchmark.{task_set}</code>" not in page
