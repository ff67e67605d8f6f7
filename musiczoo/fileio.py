"""Atomic file writes: a crash leaves the old file or the new one, never half of one; folder locks; file digests."""

import contextlib
import fcntl
import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path, data):
    """Write bytes to ``path`` through a temporary file in the same folder and a rename.

    The file gets the usual permissions (0666 less the umask), not mkstemp's private 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def atomic_save_npy(path, array):
    """``np.save`` made atomic."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    atomic_write(path, buffer.getvalue())


def atomic_save_parquet(path, frame):
    """``DataFrame.to_parquet`` made atomic."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write(path, buffer.getvalue())


def atomic_save_png(path, figure, dpi=110):
    """A matplotlib ``Figure`` as PNG, written atomically; returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure)  # attaches the raster canvas that savefig draws on
    figure.savefig(buffer, format="png", dpi=dpi)
    atomic_write(path, buffer.getvalue())
    return path


LOCK_FILE = ".lock"


class FolderBusyError(RuntimeError):
    """Another process is writing the folder."""


@contextlib.contextmanager
def folder_lock(folder, what, wait=False):
    """Hold ``folder/.lock`` for the block (the folder made if need be): one writer has the folder at a time.

    Another holder makes the block wait for it (``wait``) or raises :class:`FolderBusyError` at once. ``what``
    names the writer or the folder's content in errors; a file at ``folder`` raises FileExistsError. The lock
    goes with the process, however it ends.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} is a file: give a folder for the {what}")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusyError(
                f"{folder}: another {what} is writing it; wait for that one to end, or give another folder"
            ) from None
        yield


def sha256(path):
    """Hex SHA-256 of a file's bytes (read in chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
