"""A progress bar for long commands: tqdm when installed, else a plain one on stderr."""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any, Protocol, TextIO

__all__ = ["Progress", "make_progress"]


class Progress(Protocol):
    def update(self, n: int = 1) -> Any: ...
    def close(self) -> None: ...


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class _Bar:
    """``label [#####.....] 50/100`` redrawn at most 10 times a second on a terminal; on anything
    else (a log file, a pipe) only the final line is written."""

    WIDTH = 30

    def __init__(self, total: int, label: str, stream: TextIO) -> None:
        self.total, self.label, self.stream = total, label, stream
        self.done = 0
        self.live = stream.isatty()
        self._drawn = 0.0

    def _line(self) -> str:
        filled = self.WIDTH * self.done // self.total if self.total else self.WIDTH
        return f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total}"

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.live and now - self._drawn >= 0.1:
            self._drawn = now
            self.stream.write("\r" + self._line())
            self.stream.flush()

    def close(self) -> None:
        self.stream.write(("\r" if self.live else "") + self._line() + "\n")
        self.stream.flush()


def make_progress(total: int, label: str, *, enabled: bool = True) -> Progress:
    """A bar counting to ``total``: tqdm's if it is installed, else the plain one."""
    if not enabled:
        return _Silent()
    try:
        tqdm = importlib.import_module("tqdm").tqdm
    except ImportError:
        return _Bar(total, label, sys.stderr)
    bar: Progress = tqdm(total=total, desc=label, unit="msg", file=sys.stderr)
    return bar
