"""Quiet start-up: TensorFlow's native lines never reach a `musiczoo` user's terminal unless `-v`; Python's do."""

import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

from conftest import MUSICNN_GRAPH, require, write_wav
from musiczoo.runtime import native_stderr_silenced

# absl's notice, and glog-style lines ("I0000 00:00:1796130607.177128   14961 cudart_stub.cc:31] ...")
NATIVE_LINE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWEF]\d{4} \d\d:\d\d:\d\d)")


def test_native_writes_vanish_python_warnings_stay(capfd):
    with pytest.warns(UserWarning, match="a Python warning"):
        with native_stderr_silenced():
            os.write(2, b"a native line\n")
            warnings.warn("a Python warning", UserWarning)
    with pytest.raises(RuntimeError), native_stderr_silenced():
        raise RuntimeError("propagates")
    os.write(2, b"stderr is back\n")
    err = capfd.readouterr().err
    assert "a native line" not in err and "stderr is back" in err


def native_lines(stderr):
    return [line for line in stderr.splitlines() if NATIVE_LINE.match(line)]


def test_tensorflow_start_up_lines_only_with_verbose(tmp_path):
    """`musiczoo extract --backend tensorflow` imports TensorFlow in a fresh process: quiet unless -v."""
    graph = require(MUSICNN_GRAPH)
    audio = write_wav(tmp_path / "noise.wav", 0.1 * np.random.default_rng(0).standard_normal(4 * 16000))

    def run(*options):
        command = [
            sys.executable,
            "-m",
            "musiczoo.cli",
            *options,
            "extract",
            str(graph),
            str(audio),
            "-o",
            str(tmp_path / "out"),
            "--backend",
            "tensorflow",
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stderr

    verbose = native_lines(run("-v"))
    if not verbose:
        pytest.skip("this TensorFlow build prints no native start-up lines here")
    assert native_lines(run()) == []


ONEDNN_PROBE = """
import os, numpy as np, musiczoo
from musiczoo.runtime import essentia_standard
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port
print(_pywrap_util_port.IsMklEnabled(), os.environ.get("TF_ENABLE_ONEDNN_OPTS"))
model = essentia_standard().TensorflowPredictMusiCNN(graphFilename={graph!r})
print(model(0.1 * np.random.default_rng(0).standard_normal(5 * 16000).astype(np.float32)).shape)
"""


@pytest.mark.parametrize("user, expected", [(None, "True None"), ("0", "False 0")])
def test_onednn_for_tensorflow_never_for_essentia(user, expected):
    """Python's TensorFlow gets oneDNN (unless the user says 0); Essentia's, which dies with it, never sees it on."""
    code = ONEDNN_PROBE.format(graph=str(require(MUSICNN_GRAPH)))
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"} | (
        {"TF_ENABLE_ONEDNN_OPTS": user} if user else {}
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[:2] == [expected, "(2, 9)"]
