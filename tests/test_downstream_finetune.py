"""Fine-tuning a zoo backbone end to end (reduced width, tiny data, a few epochs)."""
import json

import keras
import numpy as np
import pytest

from musiczoo.downstream import FineTuneClassifier
from musiczoo.downstream.finetune import TriangularSchedule
from musiczoo.zoo import registry
from musiczoo.zoo.export import RUN_FILE, WEIGHTS_FILE

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
    classifier = FineTuneClassifier(MODEL, backbone=SMALL, epochs=3, batch_size=8, validation_size=0.25,
                                    progress=False).fit(X, y)
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
