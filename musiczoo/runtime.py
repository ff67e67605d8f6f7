"""The one module that loads Essentia and TensorFlow, in an order that never aborts.

essentia-tensorflow bundles its own TensorFlow C library. Loading it after the Python
`tensorflow` package aborts the process (``Op with name Bitcast ... ALREADY_EXISTS``), so
Essentia is loaded with ``RTLD_DEEPBIND | RTLD_LOCAL``: its symbols stay private and either
import order works. ``musiczoo/__init__`` calls :func:`essentia_standard` first, so every
musiczoo module is safe whatever the user imported before.
"""
import functools
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
        raise ImportError(
            "musiczoo needs essentia-tensorflow (pip install essentia-tensorflow)"
        ) from error
    finally:
        sys.setdlopenflags(flags)
    return essentia.standard
