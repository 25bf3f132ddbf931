"""Time as the protocol sees it: whole Unix seconds (Go's ``time.Now().Unix()``).

Every component takes a Clock; nothing patches time globally (contrast gocraft's ``time.go``).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """A source of ``now``: integer epoch seconds, truncated as Go truncates."""

    def now(self) -> int: ...


class SystemClock:
    """The process clock."""

    def now(self) -> int:
        return int(time.time())


class ManualClock:
    """A clock that moves only when told; for tests of scheduling and retries."""

    def __init__(self, start: int) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> int:
        return self._now

    def __reduce__(self) -> tuple[type[ManualClock], tuple[int]]:
        """A copy in another process (a process pool's child) starts at this clock's time now."""
        return (ManualClock, (self._now,))

    def set(self, value: int) -> None:
        with self._lock:
            self._now = value

    def advance(self, seconds: int) -> int:
        with self._lock:
            self._now += seconds
            return self._now


SYSTEM_CLOCK = SystemClock()
