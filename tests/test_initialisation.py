"""Initial weights: every layer draws its own values, and the run's seed alone decides them."""

import itertools
import subprocess
import sys

import numpy as np
import pytest

from conftest import registry_kinds
import musiczoo  # noqa: F401
import keras
from musiczoo.zoo import registry
from musiczoo.zoo.backbones import BACKBONES

# Small enough to build in a second; the sharing this guards against shows at any width.
TINY = {
    "efficientnet_b0": {"width": 0.25, "depth": 0.34},
    "vggish": {"width": 0.0625},
    "resnet50": {"width": 0.0625, "blocks": (1, 1, 1, 1)},
    "era_cnn": {"filters": (8, 16, 16)},
    "musicnn": {},  # its size is the published checkpoint's
}


def _build(kind, name):
    if kind == "backbone":
        return BACKBONES[name](**TINY[name])
    entry = registry.get(name)
    return registry.build(entry, **TINY[entry["musiczoo"]["backbone"]["name"]])


def equal_kernel_pairs(model):
    """Names of same-shaped kernel pairs (dense, conv, depthwise) that are bit-identical."""
    kernels = [(w.path, np.asarray(w)) for w in model.weights if w.path.endswith("kernel")]
    return [
        (a, b) for (a, x), (b, y) in itertools.combinations(kernels, 2) if x.shape == y.shape and np.array_equal(x, y)
    ]


@pytest.mark.parametrize(
    "kind, name", [("backbone", name) for name in BACKBONES] + [("registry", name) for name in registry_kinds()]
)
def test_no_two_kernels_are_equal_at_initialisation(kind, name):
    keras.utils.set_random_seed(0)
    model = _build(kind, name)
    assert sum(w.path.endswith("kernel") for w in model.weights) >= 3
    assert equal_kernel_pairs(model) == []


WEIGHTS_DIGEST = """
import hashlib, sys
{imports}
import keras, numpy as np
from musiczoo.zoo import registry
keras.utils.set_random_seed(int(sys.argv[1]))
model = registry.build(registry.get("discogs_artist_embeddings-effnet"), width=0.25, depth=0.34)
print(hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.weights)).hexdigest())
"""
IMPORT_ORDERS = {
    # the zoo's modules imported long before the run seeds anything, Python's RNG used meanwhile
    "zoo-first": "import random; import musiczoo.zoo.backbones, musiczoo.zoo.heads; random.random()",
    "keras-first": "import keras, random; random.seed(123); import musiczoo",
    "registry-only": "from musiczoo.zoo import registry",
}


def _digest(order, seed):
    code = WEIGHTS_DIGEST.format(imports=IMPORT_ORDERS[order])
    result = subprocess.run([sys.executable, "-c", code, str(seed)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()[-1]


def test_the_seed_alone_decides_the_weights_whatever_the_import_order():
    """Fresh processes: one seed gives bit-identical weights in every import order, another seed others."""
    digests = {order: _digest(order, 0) for order in IMPORT_ORDERS}
    assert len(set(digests.values())) == 1, digests
    assert _digest("zoo-first", 1) != digests["zoo-first"]
