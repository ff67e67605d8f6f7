"""Errors on the command line: one line that names the thing and the fix, exit status 2, the traceback on demand."""

import numpy as np
import pandas as pd
import pytest
import yaml

from musiczoo.cli import main
from musiczoo.errors import error_message
from musiczoo.config import ConfigError, check_types, parse_overrides, read_config
from musiczoo.train.catalogues.schema import catalogue_frame, write_catalogue
from musiczoo.train.config import load_config
from musiczoo.train.trainer import check_resumable

MODEL = "discogs_artist_embeddings-effnet"


def fails(capsys, args, *expected):
    """``main(args)`` exits 2 with one line on stderr that holds every ``expected`` text; returns the line."""
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "Traceback" not in error, error
    for text in expected:
        assert text in error, error
    return error


@pytest.fixture
def catalogue(tmp_path):
    rows = [{"track_id": f"t{i}", "path": str(tmp_path / f"t{i}.wav"), "artists": [f"a{i}"]} for i in range(2)]
    write_catalogue(catalogue_frame(rows), tmp_path / "catalogue.parquet")
    return tmp_path / "catalogue.parquet"


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump({"model": MODEL, "catalogue": "catalogue.parquet", "store": "store", "batch_size": 4})
    )
    return path


def test_an_output_folder_that_is_a_file(tmp_path, catalogue, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    fails(capsys, ["data", "features", str(catalogue), "-o", str(afile)], f"{afile} is a file", "folder")
    # an OSError: its path and strerror (once `musiczoo extract: 17`), and which file is in the way
    fails(capsys, ["data", "split", str(catalogue), "-o", str(afile)], f"{afile}: File exists ({afile} is a file")


def test_a_missing_catalogue_says_what_is_missing(tmp_path, capsys):
    missing = tmp_path / "nope.parquet"
    fails(capsys, ["data", "features", str(missing), "-o", str(tmp_path / "store")], f"catalogue not found: {missing}")


def test_a_binary_label_file_is_not_a_text_file(tmp_path, capsys):
    folder = tmp_path / "embeddings"
    folder.mkdir()
    np.save(folder / "t0.npy", np.zeros((2, 4), np.float32))
    row = {"path": "/audio/t0.mp3", "status": "ok", "patches": 2, "dim": 4, "embeddings": "t0.npy", "error": None}
    pd.DataFrame([row]).to_csv(folder / "summary.csv", index=False)
    labels = tmp_path / "labels.csv"
    labels.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    fit = ["downstream", "fit", "--embeddings", str(folder / "summary.csv"), "--train", str(labels)]
    fails(capsys, [*fit, "-o", str(tmp_path / "run")], f"{labels}: not a text file")


def test_error_messages_name_the_path():
    assert error_message(FileExistsError(17, "File exists", "out")) == "out: File exists"
    assert error_message(FileNotFoundError("x.parquet")) == "x.parquet: no such file or folder"  # as pyarrow raises
    assert error_message(KeyError("unknown model m")) == "unknown model m"
    assert error_message(ValueError("two\nlines")) == "two lines"
    assert error_message(TypeError("bad")).startswith("unexpected TypeError: bad (a bug: MUSICZOO_DEBUG=1")


def test_config_and_set_errors_name_the_key(tmp_path, catalogue, config, capsys):
    train = ["train", str(config), "-o", str(tmp_path / "run")]
    fails(
        capsys, [*train, "--set", "backbone={wdth: 0.25}"], "unknown keys backbone.wdth (did you mean backbone.width?)"
    )
    fails(capsys, [*train, "--set", "batch_size=abc"], "batch_size: expected an integer, got 'abc'")
    fails(capsys, [*train, "--set", "backbone={width: 0.25"], "--set backbone: '{width: 0.25' is not a YAML value")
    fails(capsys, [*train, "--set", "epochs"], "--set expects KEY=VALUE, got 'epochs'")
    config.write_text("model: [unclosed\n")
    fails(capsys, train, f"{config}: not valid YAML", "(line 2, column 1)")
    config.write_bytes(b"\xff\xfe\x00binary")
    fails(capsys, train, f"{config}: not a text file")


def test_read_config_and_types(tmp_path):
    (tmp_path / "config.yaml").write_text("trian: 1")
    with pytest.raises(ConfigError, match=r"unknown keys trian \(did you mean train\?\)"):
        read_config(tmp_path / "config.yaml", keys=["train", "test"])
    assert parse_overrides(["epochs=2", "backbone={width: 0.5}"]) == {"epochs": 2, "backbone": {"width": 0.5}}
    check_types({"rate": 1, "flag": True, "section": {"n": 3}}, {"rate": 0.1, "flag": False, "section": {"n": 1}})
    for bad, message in [({"flag": 1}, "flag: expected true or false"), ({"section": {"n": 1.5}}, "section.n")]:
        with pytest.raises(ConfigError, match=message):
            check_types(bad, {"flag": False, "section": {"n": 1}})


def test_debug_shows_the_traceback(tmp_path, catalogue, capsys, monkeypatch):
    args = ["data", "features", str(tmp_path / "nope.parquet"), "-o", str(tmp_path / "store")]
    monkeypatch.setenv("MUSICZOO_DEBUG", "1")
    assert main(args) == 2
    error = capsys.readouterr().err
    assert "Traceback (most recent call last)" in error and error.strip().endswith("writes one)")
    monkeypatch.delenv("MUSICZOO_DEBUG")
    assert main(["-v", *args]) == 2 and "Traceback" in capsys.readouterr().err


def test_resume_refuses_a_config_that_trains_otherwise(tmp_path, catalogue, config, capsys):
    run = tmp_path / "run"
    run.mkdir()
    saved = load_config(config)
    (run / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    train = ["train", str(config), "-o", str(run), "--resume"]
    error = fails(capsys, [*train, "--set", "batch_size=8", "--set", "backbone={width: 0.5}"], f"cannot resume {run}")
    assert "batch_size 4 -> 8" in error and "backbone.width None -> 0.5" in error
    fails(capsys, [*train, "--set", "model=discogs_label_embeddings-effnet"], "model 'discogs_artist_embeddings")
    assert (run / "config.yaml").read_text() == yaml.safe_dump(saved, sort_keys=False)  # never overwritten
    check_resumable(saved | {"epochs": 200, "checkpoint_steps": 10}, run)  # more epochs: the same training
    with pytest.raises(ConfigError, match="epochs"):  # ... unless a warm-up cosine schedule spans them
        cosine = {"schedule": {"name": "warmup_cosine", "warmup_steps": 10}}
        (run / "config.yaml").write_text(yaml.safe_dump(saved | cosine))
        check_resumable(saved | cosine | {"epochs": 200}, run)


def test_an_unknown_node_names_the_outputs(tmp_path, capsys):
    import json

    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    for name in ("model/Placeholder", "model/dense/BiasAdd", "model/Sigmoid"):
        graph_def.node.add(name=name, op="Placeholder")
    graph = tmp_path / "tiny.pb"
    graph.write_bytes(graph_def.SerializeToString())
    outputs = [{"name": "model/Sigmoid", "output_purpose": "predictions"}, {"name": "model/dense/BiasAdd"}]
    metadata = {
        "name": "tiny",
        "inference": {"sample_rate": 16000, "algorithm": "TensorflowPredictMusiCNN"},
        "schema": {"inputs": [{"name": "model/Placeholder", "shape": [187, 96]}], "outputs": outputs},
    }
    graph.with_suffix(".json").write_text(json.dumps(metadata))
    (tmp_path / "a.wav").write_bytes(b"")
    extract = ["extract", str(graph), str(tmp_path / "a.wav"), "-o", str(tmp_path / "out"), "--node", "nope/Node"]
    expected = "tiny has no node 'nope/Node'", "its outputs: model/Sigmoid (predictions), model/dense/BiasAdd"
    fails(capsys, extract, *expected)
