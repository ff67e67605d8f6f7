"""The one module that loads Essentia and TensorFlow: in an order that never aborts, and quietly.

essentia-tensorflow bundles its own TensorFlow C library. Loading it after the Python
`tensorflow` package aborts the process (``Op with name Bitcast ... ALREADY_EXISTS``), so
Essentia is loaded with ``RTLD_DEEPBIND | RTLD_LOCAL``: its symbols stay private and either
import order works. ``musiczoo/__init__`` calls :func:`essentia_standard` first, so every
musiczoo module is safe whatever the user imported before.

TensorFlow's C++ start-up lines (absl's ``All log messages before absl::InitializeLog()``, CUDA
probing, ``failed call to cuInit``) go straight to file descriptor 2 before any log level
applies, so ``TF_CPP_MIN_LOG_LEVEL`` cannot stop them. :func:`quiet_tensorflow_start` sends
them to /dev/null, whoever imports TensorFlow first; the ``musiczoo`` command calls it unless
``-v`` is given. Outside a child process (which keeps its parent's choice) it also sets
``TF_CPP_MIN_LOG_LEVEL=3``, fatal lines only, for the Python ``tensorflow`` and the processes started later (each
library reads it once, when loaded: Essentia's is loaded already). At level 2, the default, C++ errors that are no
error come through, such as ``E0000 ... node_def_util.cc:682] NodeDef mentions attribute use_unbounded_threadpool``
whenever Keras fits arrays after training enabled op determinism (the demo's downstream step): tf.data's
``make_deterministic`` rewrite of a parallel map keeps that attribute.

oneDNN: TensorFlow leaves its oneDNN kernels off on AMD CPUs; on, EfficientNet-B0 trains faster
here (2.8-3.5x in a loaded A/B; benchmarks/README.md, "Training throughput"), but Essentia's
bundled TensorFlow dies of a floating-point exception with them. So the Python ``tensorflow`` is
imported (by an import hook, whoever imports it after ``musiczoo``) with ``TF_ENABLE_ONEDNN_OPTS=1``
(or the user's value), which it reads once, and the variable is put back before Essentia's library
reads it.
"""

import contextlib
import functools
import importlib.abc
import importlib.util
import multiprocessing
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ONEDNN = "TF_ENABLE_ONEDNN_OPTS"  # read once by each TensorFlow library: "1" for Python's, unset or "0" for Essentia's


@functools.cache
def essentia_standard():
    """Return ``essentia.standard``, loaded with private symbol binding and quiet logs."""
    flags = sys.getdlopenflags()
    sys.setdlopenflags(os.RTLD_NOW | os.RTLD_LOCAL | os.RTLD_DEEPBIND)
    try:
        import essentia

        essentia.log.infoActive = False
        essentia.log.warningActive = False
        import essentia.standard
    except ImportError as error:  # pragma: no cover - depends on the platform
        raise ImportError("musiczoo needs essentia-tensorflow (pip install essentia-tensorflow)") from error
    finally:
        sys.setdlopenflags(flags)
    return essentia.standard


@contextlib.contextmanager
def native_stderr_silenced():
    """File descriptor 2 on /dev/null meanwhile: what C and C++ code writes there is lost.

    Python warnings issued meanwhile are held and shown once the descriptor is back (the
    warning filters are left alone: an import may add its own); an exception propagates as usual.
    """
    held = []

    def hold(*warning):
        held.append(warning)

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    show, warnings.showwarning = warnings.showwarning, hold
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if warnings.showwarning is hold:
            warnings.showwarning = show
        for warning in held:
            show(*warning)


class _TensorFlowImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """A one-time import hook: ``tensorflow`` is found as usual, then run with oneDNN on (the user's
    ``TF_ENABLE_ONEDNN_OPTS`` wins) and, once :func:`quiet_tensorflow_start` asked, silenced."""

    quiet = False

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None:
            self.loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        user, enabled = os.environ.get(ONEDNN), False
        os.environ[ONEDNN] = user or "1"
        try:
            with native_stderr_silenced() if self.quiet else contextlib.nullcontext():
                self.loader.exec_module(module)
                from tensorflow.python.util import _pywrap_util_port

                enabled = _pywrap_util_port.IsMklEnabled()  # TensorFlow reads the variable now, once
                if self.quiet:
                    module.config.list_physical_devices()  # the CUDA probe, which prints the last start-up lines
        finally:
            if enabled or user is None:  # Essentia's library: unset, its default (off); a child: this hook again
                os.environ.pop(ONEDNN, None)
            else:
                os.environ[ONEDNN] = user


def _tensorflow_import():
    """The hook while ``tensorflow`` is not imported yet, else None."""
    return next((f for f in sys.meta_path if isinstance(f, _TensorFlowImport)), None)


def quiet_tensorflow_start():
    """Silence TensorFlow's native start-up lines in this process and, outside a child process, its log lines but
    fatal ones here and in the processes started later (nothing to do in a library already loaded)."""
    if multiprocessing.parent_process() is None:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    hook = _tensorflow_import()
    if hook is not None:
        hook.quiet = True


if "tensorflow" not in sys.modules and _tensorflow_import() is None:
    sys.meta_path.insert(0, _TensorFlowImport())
