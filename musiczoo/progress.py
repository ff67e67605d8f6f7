"""Progress: a tqdm bar on a terminal; on a file or pipe, plain lines (one per tenth and one at the end).

Every long loop of the zoo calls :func:`progress_bar` with tqdm's arguments, so a log file gets a few
readable lines instead of hundreds of ``\\r`` frames.
"""

import sys
import time

from tqdm.auto import tqdm


class LineProgress:
    """The part of tqdm's API the zoo uses, written as whole lines at each tenth of ``total``."""

    def __init__(self, iterable=None, total=None, desc="", unit="it", initial=0, disable=False, file=None, **_):
        self.iterable = iterable
        self.total = len(iterable) if total is None and hasattr(iterable, "__len__") else total
        self.n, self.desc, self.unit, self.disable = initial, desc, unit, disable
        self.file = file or sys.stderr
        self.postfix = ""
        self.started = time.monotonic()
        self.shown = self._tenth()

    def _tenth(self):
        return min(10, 10 * self.n // self.total) if self.total else None

    def _write(self):
        count = (
            f"{self.n}/{self.total} {self.unit} ({100 * self.n / self.total:.0f}%)"
            if self.total
            else f"{self.n} {self.unit}"
        )
        postfix = f", {self.postfix}" if self.postfix else ""
        self.file.write(f"{self.desc}: {count} in {time.monotonic() - self.started:.1f} s{postfix}\n")
        self.file.flush()

    def update(self, n=1):
        self.n += n
        if not self.disable and self._tenth() not in (None, self.shown):
            self.shown = self._tenth()
            self._write()

    def set_postfix(self, ordered_dict=None, refresh=True, **values):
        values = {**(ordered_dict or {}), **values}
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def close(self):
        if not self.disable and self.shown != 10:  # the end is always reported, once
            self.shown = 10
            self._write()
        self.disable = True

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update()
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def progress_bar(*args, **kwargs):
    """``tqdm(*args, **kwargs)`` on a terminal, :class:`LineProgress` otherwise."""
    file = kwargs.get("file") or sys.stderr
    return tqdm(*args, **kwargs) if file.isatty() else LineProgress(*args, **kwargs)
