"""CLI errors as one line that names the thing and the fix (``-v`` or ``MUSICZOO_DEBUG=1`` adds the traceback)."""

import errno
import io
import traceback
from pathlib import Path

import yaml

EXPECTED_ERRORS = (OSError, ValueError, KeyError, RuntimeError, ImportError, yaml.YAMLError)  # bad input, not a bug


def _file_in_the_way(path):
    """The file at ``path`` or above it, where a folder was needed; None if there is none."""
    for part in (Path(path), *Path(path).parents):
        if part.exists():
            return part if not part.is_dir() else None
    return None


def _text_file(error):
    """The name of the text file whose decoding failed: the open text file of the innermost frame holding one."""
    for frame, _ in reversed(list(traceback.walk_tb(error.__traceback__))):
        for value in frame.f_locals.values():
            if isinstance(value, io.TextIOBase) and isinstance(getattr(value, "name", None), str):
                return value.name
    return None


def error_message(error):
    """An exception as one line that names the thing: ``PATH: reason`` for OS errors and undecodable text files."""
    if isinstance(error, UnicodeDecodeError):
        path = _text_file(error)
        return f"{path}: not a text file ({error.encoding} cannot decode it)" if path else f"not a text file: {error}"
    if isinstance(error, OSError) and error.strerror:
        paths = [str(path) for path in (error.filename, error.filename2) if path is not None]
        blocker = _file_in_the_way(paths[0]) if paths and error.errno in (errno.EEXIST, errno.ENOTDIR) else None
        hint = f" ({blocker} is a file; give a folder there)" if blocker else ""
        return f"{' -> '.join(paths)}: {error.strerror}{hint}" if paths else f"{error.strerror}{hint}"
    text = error.args[0] if isinstance(error, KeyError) and len(error.args) == 1 else error
    text = " ".join(line.strip() for line in str(text).splitlines() if line.strip())
    if isinstance(error, FileNotFoundError) and len(text.split()) == 1:  # a bare path (e.g. from pyarrow)
        return f"{text}: no such file or folder"
    if not isinstance(error, EXPECTED_ERRORS):
        return f"unexpected {type(error).__name__}: {text} (a bug: MUSICZOO_DEBUG=1 shows the traceback)"
    if len(text.split()) > 1:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__  # a bare token: say what it is
