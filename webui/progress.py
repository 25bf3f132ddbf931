"""Progress of long actions (a bulk retry of 40,000 jobs, a queue purge), for the page that started them.

The page makes up an id, sends it with the action, and polls ``GET /api/ui/progress/<id>`` while
the action's request runs; the action reports ``(done, total)`` from its worker thread. Entries are
kept for a few minutes, at most a few hundred, in this process only (a second dashboard process
simply shows no progress).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

__all__ = ["ProgressBoard"]

KEEP_SECONDS = 300.0
MAX_ENTRIES = 256
_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class ProgressBoard:
    """``(done, total)`` by id, written by worker threads and read by the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, int, int]] = {}

    @staticmethod
    def valid(progress_id: str) -> bool:
        return bool(_ID.fullmatch(progress_id))

    def reporter(self, progress_id: str | None) -> Callable[[int, int], None] | None:
        """A callback that records progress under ``progress_id`` (None when there is no id)."""
        if progress_id is None:
            return None

        def report(done: int, total: int) -> None:
            with self._lock:
                self._drop_old()
                self._entries[progress_id] = (time.monotonic(), done, total)

        report(0, 0)
        return report

    def get(self, progress_id: str) -> tuple[int, int] | None:
        with self._lock:
            entry = self._entries.get(progress_id)
        return None if entry is None else (entry[1], entry[2])

    def _drop_old(self) -> None:
        now = time.monotonic()
        for key in [k for k, (at, _, _) in self._entries.items() if now - at > KEEP_SECONDS]:
            del self._entries[key]
        while len(self._entries) >= MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]
