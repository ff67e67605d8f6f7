"""The music-era paper's own front-end (22.05 kHz, 2048/512, 224 bands): mels, store, training, serving."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import write_wav
from musiczoo.cli import main
from musiczoo.extractors.audio import load_audio
from musiczoo.extractors.mel import filterbank, frame_count, melspectrogram, tf_melspectrogram
from musiczoo.zoo.frontends import ERA_PAPER, FRONT_ENDS, STORE_FRONT_ENDS, store_front_end
from musiczoo.runtime import essentia_standard
from musiczoo.train.catalogues.schema import catalogue_frame, write_catalogue
from musiczoo.train.store import FeatureStore, build_store
from musiczoo.zoo import export, registry
from musiczoo.zoo.run import write_run

# Tiny runs: 4-track batches, one or two steps, a narrow era CNN at the paper's input size.
PAPER_BACKBONE = {"frames": 1024, "bands": 224, "filters": [8, 16]}
TINY = ["--set", "batch_size=4", "--set", "epochs=1", "--set", "steps_per_epoch=2", "--set", "validation_steps=1"]
TINY += ["--set", "validation_fraction=0.25", "--no-progress"]
YEARS = [1720, 1721, 1722, 1723]


def test_one_second_is_45_frames_of_224_bands():
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, ERA_PAPER.sample_rate).astype(np.float32)
    assert frame_count(ERA_PAPER, len(audio)) == int(np.ceil(len(audio) / 512)) + 1 == 45
    mel = melspectrogram(audio, ERA_PAPER)  # the TensorFlow back-end: Essentia has no algorithm for it
    assert mel.shape == (45, 224) and mel.dtype == np.float32 and np.isfinite(mel).all()


def test_the_filterbank_is_essentia_melbands_with_the_paper_numbers():
    """Impulses of height 2 through es.MelBands (power: x4) recover the weights; every band has some."""
    melbands = essentia_standard().MelBands(
        inputSize=1025,
        numberBands=224,
        sampleRate=22050,
        lowFrequencyBound=0,
        highFrequencyBound=11025,
        warpingFormula="slaneyMel",
        weighting="linear",
        normalize="unit_tri",
        type="power",
    )
    weights = np.stack([melbands(impulse) for impulse in 2.0 * np.eye(1025, dtype=np.float32)]) / 4.0
    assert filterbank(ERA_PAPER).shape == (1025, 224)
    np.testing.assert_allclose(filterbank(ERA_PAPER), weights, rtol=0, atol=1e-6)
    assert (filterbank(ERA_PAPER) > 0).any(axis=0).all()


def test_tensorflow_mel_of_a_sine_is_the_numpy_recipe():
    """FrameCutter's centred framing, symmetric Hann, |rfft|^2, the filterbank, log10(10000 x + 1)."""
    n = 11025
    audio = (0.5 * np.sin(2 * np.pi * 1000.0 * np.arange(n) / ERA_PAPER.sample_rate)).astype(np.float32)
    frames = frame_count(ERA_PAPER, n)
    padded = np.pad(audio.astype(np.float64), (1024, (frames - 1) * 512 + 2048 - 1024 - n))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2048) / 2047)
    cut = np.stack([padded[i * 512 : i * 512 + 2048] for i in range(frames)]) * window
    reference = np.log10(10000.0 * (np.abs(np.fft.rfft(cut)) ** 2 @ filterbank(ERA_PAPER)) + 1.0)
    mel = tf_melspectrogram(audio, ERA_PAPER).numpy()
    np.testing.assert_allclose(mel, reference, rtol=1e-5, atol=1e-4)
    edges = [ERA_PAPER.low_hz, *np.flatnonzero(filterbank(ERA_PAPER)[round(1000 / (22050 / 2048))])]
    assert mel[frames // 2].argmax() in edges[1:]  # the loudest band is one whose triangle holds 1 kHz


def test_essentia_cannot_compute_it():
    with pytest.raises(ValueError, match='no Essentia algorithm computes the era_paper mels: .*backend="tensorflow"'):
        melspectrogram(np.zeros(4096, np.float32), ERA_PAPER, backend="essentia")


def test_store_front_ends_add_the_paper_to_the_families_ones():
    assert set(FRONT_ENDS) == {"musicnn", "vggish"} and STORE_FRONT_ENDS == FRONT_ENDS | {"era_paper": ERA_PAPER}
    assert len({spec.n_bands for spec in STORE_FRONT_ENDS.values()}) == len(STORE_FRONT_ENDS)  # bands name them
    assert store_front_end(224) is ERA_PAPER and store_front_end(96).name == "musicnn" and store_front_end(7) is None


@pytest.fixture(scope="module")
def paper_data(tmp_path_factory):
    """12 four-second synthetic tracks (4 artists, one year each) and their era_paper store (`data features`)."""
    folder = tmp_path_factory.mktemp("era_paper")
    rng = np.random.default_rng(0)
    rows = []
    for track in range(12):
        artist = track % 4
        t = np.arange(4 * 16000) / 16000
        audio = 0.3 * np.sin(2 * np.pi * 220 * (artist + 1) * t) + 0.05 * rng.standard_normal(t.size)
        wav = write_wav(folder / f"t{track}.wav", audio)
        rows.append(
            {
                "track_id": f"t{track}",
                "path": str(wav),
                "duration": 4.0,
                "artists": [f"a{artist}"],
                "year": YEARS[artist],
            }
        )
    write_catalogue(catalogue_frame(rows), folder / "catalogue.parquet")
    command = ["data", "features", str(folder / "catalogue.parquet"), "-o", str(folder / "features")]
    assert main([*command, "--frontend", "era_paper", "--workers", "1"]) == 0
    return folder


def test_the_store_holds_era_paper_mels(paper_data):
    store = FeatureStore(paper_data / "features")
    assert store.meta == {"frontend": "era_paper", "dtype": "float16", "bands": 224} and len(store) == 12
    audio = load_audio(paper_data / "t0.wav", ERA_PAPER.sample_rate)
    reference = melspectrogram(audio, ERA_PAPER)
    assert store.mel("t0").shape == reference.shape == (frame_count(ERA_PAPER, 4 * 22050), 224)
    np.testing.assert_allclose(store.mel("t0"), reference, rtol=2e-3, atol=2e-3)  # float16
    assert store.patch("t0", 1024).shape == (1024, 224)


def test_a_store_keeps_its_front_end(paper_data):
    tracks = pd.read_parquet(paper_data / "catalogue.parquet")
    with pytest.raises(ValueError, match="holds era_paper mels.*rebuild"):
        build_store(tracks, paper_data / "features", frontend="musicnn", progress=False)
    with pytest.raises(ValueError, match="unknown front-end 'paper'; expected one of musicnn, vggish, era_paper"):
        build_store(tracks, paper_data / "other", frontend="paper", progress=False)
    assert FeatureStore(paper_data / "features").meta["frontend"] == "era_paper"


def _untrained_run(run_dir, store):
    """A run folder of an untrained 224-band Audio-CNN, as `musiczoo train configs/era_cnn_paper.yaml` writes one."""
    model = registry.build("music_era_ce-cnn", head={"classes": len(YEARS)}, **PAPER_BACKBONE)
    run_dir.mkdir()
    write_run(run_dir, model, "music_era_ce-cnn", PAPER_BACKBONE, {"classes": len(YEARS)}, {"classes": YEARS})
    config = {"objectives": [{"loss": "era_ce", "unit": "year"}], "store": str(store)}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    return model


def test_a_224_band_run_predicts_in_python_and_does_not_export(paper_data, tmp_path, capsys):
    model = _untrained_run(tmp_path / "run", paper_data / "features")
    with pytest.raises(ValueError) as refused:
        export.export_model(model, registry.get("music_era_ce-cnn"), tmp_path / "export")
    assert str(refused.value) == (
        "music_era_ce-cnn was trained on 224-band era_paper mels; Essentia's TensorflowPredictMusiCNN computes "
        "96-band musicnn mels: not Essentia-exportable (an era run predicts in Python: "
        "`musiczoo era predict --run RUN AUDIO...`)"
    )
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "export")]) == 2
    assert "not Essentia-exportable" in capsys.readouterr().err and not (tmp_path / "export").exists()
    audio = str(paper_data / "t0.wav")
    assert main(["era", "predict", audio, "--run", str(tmp_path / "run")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "path,era,probability" and int(lines[1].split(",")[1]) in YEARS
    data = ["--catalogue", str(paper_data / "catalogue.parquet"), "--store", str(paper_data / "features")]
    assert main(["era", "evaluate", str(tmp_path / "run"), *data, "-o", str(tmp_path / "eval")]) == 0
    assert pd.read_csv(tmp_path / "eval" / "table1.csv").tracks.tolist() == [12]


def test_a_run_meets_only_a_store_of_its_bands(paper_data, tmp_path, capsys):
    musicnn = tmp_path / "musicnn"
    build_store(pd.read_parquet(paper_data / "catalogue.parquet").head(2), musicnn, progress=False)
    _untrained_run(tmp_path / "run", musicnn)
    data = ["--catalogue", str(paper_data / "catalogue.parquet"), "--store", str(musicnn)]
    assert main(["era", "evaluate", str(tmp_path / "run"), *data, "-o", str(tmp_path / "eval")]) == 2
    assert (
        f"{musicnn} holds 96-band musicnn mels; {tmp_path / 'run'} takes 224-band mels: "
        "build its store with `musiczoo data features --frontend era_paper`" in capsys.readouterr().err
    )


def test_a_fixed_length_graph_exports_at_its_metadata_length_only(tmp_path):
    entry = registry.get("playlist_co_embeddings-vggish")
    model = registry.build(entry, frames=128, width=0.0625)
    with pytest.raises(ValueError, match="takes 128-frame patches; its Essentia metadata says 256"):
        export.export_model(model, entry, tmp_path)


def _train(config, data, run, *extra):
    location = ["--catalogue", str(data / "catalogue.parquet"), "--store", str(data / "features")]
    return main(["train", f"configs/{config}.yaml", "-o", str(run), *location, *TINY, *extra])


def test_the_paper_config_trains_on_an_era_paper_store(paper_data, tmp_path, capsys):
    backbone = f"backbone={json.dumps(PAPER_BACKBONE)}"
    assert _train("era_cnn_paper", paper_data, tmp_path / "run", "--set", backbone) == 0, capsys.readouterr().err
    assert pd.read_csv(tmp_path / "run" / "log.csv").loss.notna().all()
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "export")]) == 2
    assert "224-band era_paper mels" in capsys.readouterr().err


def test_a_store_and_model_band_mismatch_is_named(paper_data, tmp_path, capsys):
    assert _train("era_cnn", paper_data, tmp_path / "run", "--set", "backbone={filters: [8, 16]}") == 2
    assert (
        f"{paper_data / 'features'} holds 224-band era_paper mels; music_era_ce-cnn takes 96-band mels: "
        "build its store with `musiczoo data features --frontend musicnn`" in capsys.readouterr().err
    )
