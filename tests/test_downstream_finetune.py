"""Fine-tuning a zoo backbone end to end (reduced width, tiny data, a few epochs)."""

import json

import keras
import numpy as np
import pytest

from conftest import write_wav
from musiczoo.cli import main
from musiczoo.downstream import FineTuneClassifier, load_classifier, load_fit
from musiczoo.downstream.inputs import mel_patches
from musiczoo.extractors.audio import SAMPLE_RATE, load_audio
from musiczoo.extractors.mel import melspectrogram
from musiczoo.zoo.frontends import MUSICNN
from musiczoo.downstream.finetune import TriangularSchedule
from musiczoo.zoo import registry
from musiczoo.zoo.run import RUN_FILE, WEIGHTS_FILE

MODEL, SMALL = "playlist_co_embeddings-vggish", {"width": 0.125}


def mel_tracks(n_tracks, seed=0):
    """Log-mel-like patches (256 x 96); "loud" tracks sit higher than "soft" ones."""
    rng = np.random.default_rng(seed)
    loud = rng.integers(0, 2, n_tracks)
    X = [(rng.gamma(2.0, 0.5, size=(rng.integers(1, 3), 256, 96)) + 0.8 * level).astype(np.float32) for level in loud]
    return X, [["loud"] if level else ["soft"] for level in loud]


def test_triangular_schedule_cycles_between_bounds():
    schedule = TriangularSchedule(1e-5, 1e-4, half_cycle=4)
    rates = [float(schedule(step)) for step in range(9)]
    assert rates[0] == pytest.approx(1e-5) and rates[4] == pytest.approx(1e-4) and rates[8] == pytest.approx(1e-5)
    assert rates[2] == pytest.approx(5.5e-5) and rates[6] == pytest.approx(5.5e-5)


def test_finetunes_a_small_vggish_end_to_end():
    X, y = mel_tracks(24)
    classifier = FineTuneClassifier(
        MODEL, backbone=SMALL, epochs=3, batch_size=8, validation_size=0.25, progress=False
    ).fit(X, y)
    history = classifier.history_
    assert len(history) == 3 and {"val_pr_auc", "val_roc_auc"} <= set(history)
    assert history.learning_rate.between(1e-5 * 0.999, 1e-4 * 1.001).all()  # float32 rates
    assert history.learning_rate.nunique() > 1  # cyclical, not constant
    assert history.loss.iloc[-1] < history.loss.iloc[0]
    assert classifier.predict_proba(X[:5]).shape == (5, 2) and list(classifier.classes_) == ["loud", "soft"]
    stopping = classifier._callbacks("val_loss")
    assert [(c.monitor, c.patience, c.mode) for c in stopping] == [("val_pr_auc", 10, "max")]
    with pytest.raises(ValueError, match=r"takes mel patches of shape \(256, 96\); X has \(128, 96\)"):
        classifier.fit([x[:, :128] for x in X], y)


def test_starts_from_a_training_run(tmp_path):
    keras.utils.set_random_seed(5)
    trained = registry.build(MODEL, **SMALL)
    trained.save_weights(tmp_path / WEIGHTS_FILE)
    (tmp_path / RUN_FILE).write_text(json.dumps({"model": MODEL, "backbone": SMALL}))
    network = FineTuneClassifier(MODEL, weights=tmp_path)._network((256, 96), {"labels": 3})
    patches = np.random.default_rng(0).gamma(2.0, 0.5, size=(2, 256, 96)).astype(np.float32)
    backbone = keras.Model(network.input, network.get_layer("logits_0").input)
    np.testing.assert_allclose(backbone(patches), trained(patches)[1], atol=1e-5)


def write_tones(folder, count, seconds=4.5, seed=0):
    """``count`` wavs, a low or a high tone in noise (one 256-frame patch each); returns their labels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    labels = {}
    for index in range(count):
        labels[f"tone{index:02d}"] = "high" if index % 2 else "low"
        audio = 0.3 * np.sin(2 * np.pi * (2000 if index % 2 else 200) * time) + 0.02 * rng.normal(size=time.size)
        write_wav(folder / f"tone{index:02d}.wav", audio)
    return labels


def test_mel_patches_are_the_models_patches(tmp_path):
    path = write_wav(tmp_path / "long.wav", np.random.default_rng(0).normal(0, 0.1, 7 * SAMPLE_RATE))
    patches = mel_patches(path, MODEL)  # 439 frames: patches at 0 and 128 (256 frames, hop 128)
    mel = melspectrogram(load_audio(path), MUSICNN)
    assert patches.shape == (2, 256, 96)
    np.testing.assert_array_equal(patches[1], mel[128:384])
    with pytest.raises(ValueError, match="too short: 64 mel frames, less than one 256-frame patch"):
        mel_patches(write_wav(tmp_path / "short.wav", np.full(16000, 0.1)), MODEL)


def test_fine_tunes_from_the_command_line(tmp_path, capsys):
    labels = write_tones(tmp_path / "audio", 12)
    ids = list(labels)
    for split, chosen in (("train", ids[:8]), ("test", ids[8:])):
        (tmp_path / f"{split}.csv").write_text("id,label\n" + "".join(f"{i},{labels[i]}\n" for i in chosen))
    keras.utils.set_random_seed(1)
    registry.build(MODEL, **SMALL).save_weights(tmp_path / "start.weights.h5")
    config = tmp_path / "fit.yaml"  # relative paths, the weights' too, are relative to the file
    config.write_text(
        "audio: audio\ntrain: train.csv\ntest: test.csv\noutput: run\n"
        f"classifier: {{name: finetune, model: {MODEL}, backbone: {{width: 0.125}}, "
        "weights: start.weights.h5, epochs: 2, batch_size: 4, validation_size: 0.25}\n"
    )
    assert main(["downstream", "fit", "--config", str(config)]) == 0
    assert "fitted FineTuneClassifier on 8 tracks (2 epochs)" in capsys.readouterr().out
    fit = load_fit(tmp_path / "run")
    assert isinstance(fit.classifier, FineTuneClassifier)
    assert fit.classifier.weights == str(tmp_path / "start.weights.h5")
    assert fit.record["model"] == MODEL and len(fit.record["audio"]) == 1 and "accuracy" in fit.record["test"]["labels"]
    assert (tmp_path / "run" / "test" / "confusion.png").is_file()

    assert (
        main(
            [
                "downstream",
                "evaluate",
                str(tmp_path / "run"),
                "--audio",
                str(tmp_path / "audio"),
                "--test",
                str(tmp_path / "test.csv"),
                "-o",
                str(tmp_path / "eval"),
            ]
        )
        == 0
    )
    evaluated = (tmp_path / "eval" / "metrics.csv").read_text()
    assert evaluated == (tmp_path / "run" / "test" / "metrics.csv").read_text()
    X = [mel_patches(tmp_path / "audio" / f"{i}.wav", MODEL) for i in ids[8:]]
    np.testing.assert_allclose(load_classifier(tmp_path / "run").predict_proba(X), fit.classifier.predict_proba(X))
    assert main(["downstream", "export", str(tmp_path / "run"), "-o", str(tmp_path / "heads")]) == 2
    assert "takes mel patches, not embeddings" in capsys.readouterr().err
