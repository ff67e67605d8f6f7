"""Global in-batch negatives: on 2 replicas, a step's loss and gradients are those of the global batch on one device."""

import json
import subprocess
import sys

import pytest

from musiczoo.config import ConfigError
from musiczoo.train.config import resolve

KINDS = ("cola", "ntxent", "era_suc")

# Logical CPU devices must be set before TensorFlow initialises: the 2-replica step runs in its own process.
TWO_REPLICAS = """
import json
import musiczoo
from musiczoo.train.distribute import make_strategy
strategy = make_strategy("mirrored", cpu_devices=2)
import keras, numpy as np, tensorflow as tf
from musiczoo.train.objectives import OBJECTIVES
from musiczoo.zoo.heads import head_name

SPECS = {"cola": {}, "ntxent": {}, "era_suc": {"unit": "year", "years": None, "beta": 1.0, "projection": 16}}
rng = np.random.default_rng(0)
data = {
    "anchor": rng.normal(size=(8, 5)).astype("float32"),
    "positive": rng.normal(size=(8, 5)).astype("float32"),
    "era": np.array([0, 0, 1, 2, 3, 1, 2, 4], "float32"),  # anchors with a positive: 4 on replica 0, 2 on 1
}


def tiny_objective(kind, negatives):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((5,))
    embeddings = keras.layers.Dense(6, name="embeddings")(inputs)
    head = keras.layers.Dense(5, activation="softmax" if kind == "era_suc" else None, name=head_name("t"))
    model = keras.Model(inputs, [head(embeddings), embeddings])
    objective = OBJECTIVES[kind]({"task": "t", **SPECS[kind]}, model, {"temperature": 0.1, "negatives": negatives})
    objective.loss({k: v[:2] for k, v in data.items()}, training=False)  # builds the objective's layers
    variables = model.trainable_variables + [v for layer in objective.layers.values() for v in layer.weights]
    return objective, variables


def gradients(objective, variables, batch, replicas):
    with tf.GradientTape() as tape:
        loss, top1 = objective.loss(batch, training=True)
        scaled = loss / replicas
    return loss, top1, tape.gradient(scaled, variables)


def replica_part(context):
    rows = slice(4 * context.replica_id_in_sync_group, 4 * (context.replica_id_in_sync_group + 1))
    return {k: tf.constant(v[rows]) for k, v in data.items()}


differences = {}
for kind in SPECS:
    for negatives in ("global", "local"):
        with strategy.scope():
            objective, variables = tiny_objective(kind, negatives)

        @tf.function
        def step(batch):
            loss, top1, grads = strategy.run(gradients, (objective, variables, batch, 2))
            grads = [strategy.reduce("SUM", g, axis=None) for g in grads]
            return strategy.reduce("MEAN", loss, axis=None), strategy.reduce("MEAN", top1, axis=None), grads

        loss, top1, grads = step(strategy.experimental_distribute_values_from_function(replica_part))
        one_loss, one_top1, one_grads = gradients(objective, variables, {k: tf.constant(v) for k, v in data.items()}, 1)
        differences[f"{kind} {negatives}"] = {
            "loss": abs(float(loss) - float(one_loss)),
            "top1": abs(float(top1) - float(one_top1)),
            "gradients": max(float(np.max(np.abs(g - h))) for g, h in zip(grads, one_grads)),
        }
from musiczoo.train.distribute import check_jit_compile

try:
    check_jit_compile(strategy, True)
except ValueError as error:
    differences["jit_compile refused"] = str(error)
check_jit_compile(strategy, False)
check_jit_compile(tf.distribute.get_strategy(), True)  # one device: XLA is fine
print("DIFFERENCES" + json.dumps(differences))
"""


@pytest.fixture(scope="module")
def differences():
    """``"KIND NEGATIVES" -> {loss, top1, gradients}``: the largest differences, 2 replicas vs one device
    (and ``"jit_compile refused"``: the message for XLA on those replicas)."""
    result = subprocess.run([sys.executable, "-c", TWO_REPLICAS], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.split("DIFFERENCES")[-1])


@pytest.mark.parametrize("kind", KINDS)
def test_global_negatives_match_one_device(differences, kind):
    found = differences[f"{kind} global"]
    assert found["loss"] <= 1e-5 and found["gradients"] <= 1e-5, found
    assert found["top1"] <= 1e-6, found


@pytest.mark.parametrize("kind", KINDS)
def test_local_negatives_differ_from_one_device(differences, kind):
    found = differences[f"{kind} local"]
    assert found["loss"] > 1e-3 and found["gradients"] > 1e-3, found


def test_jit_compile_is_refused_on_several_cpu_replicas(differences):
    assert "jit_compile cannot train 2 replicas on one machine's CPUs" in differences["jit_compile refused"]


def test_unknown_negatives_are_refused():
    raw = {"model": "discogs_artist_embeddings-effnet", "catalogue": "c.parquet", "store": "s", "negatives": "bogus"}
    with pytest.raises(ConfigError, match=r"unknown negatives 'bogus'; expected one of \('global', 'local'\)"):
        resolve(raw)
