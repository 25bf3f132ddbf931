"""SharedCalls: one computation for every client that asks for the same thing at about the same time.

Twenty browsers refreshing the tasks page, or two Prometheus scrapers, would otherwise each run the
same Redis reads and the same decoding on the thread pool, and a probe queued behind them would
wait seconds. Here the first request for a key starts the work; requests arriving while it runs
await the same future, and for ``ttl`` seconds after it ends they get its result at no cost.
Runs on the event loop only (no locks): the futures are asyncio's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SharedCalls"]

T = TypeVar("T")


class SharedCalls(Generic[T]):
    """Single-flight calls with a short cache, per key."""

    def __init__(self, ttl: float, max_keys: int = 64) -> None:
        self.ttl = ttl
        self.max_keys = max_keys
        self._entries: dict[Hashable, tuple[float, asyncio.Future[T]]] = {}

    async def get(self, key: Hashable, start: Callable[[], Awaitable[T]]) -> T:
        """The result for ``key``: a running call's, a fresh one's, or a new call's (``start()``)."""
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None:
            done_at, future = entry
            if not future.done() or (
                not future.cancelled() and future.exception() is None and now - done_at < self.ttl
            ):
                return await asyncio.shield(future)
        future = asyncio.ensure_future(start())
        self._forget_old(now)
        self._entries[key] = (float("inf"), future)
        future.add_done_callback(lambda f: self._finished(key, f))
        return await asyncio.shield(future)

    def clear(self) -> None:
        """Forget every result: the next request computes afresh (a running call still finishes
        for those awaiting it)."""
        self._entries.clear()

    def _finished(self, key: Hashable, future: asyncio.Future[T]) -> None:
        entry = self._entries.get(key)
        if entry is None or entry[1] is not future:
            return
        if future.cancelled() or future.exception() is not None:
            del self._entries[key]  # a failure is not shared with later callers
        else:
            self._entries[key] = (time.monotonic(), future)

    def _forget_old(self, now: float) -> None:
        stale = [k for k, (at, f) in self._entries.items() if f.done() and now - at >= self.ttl]
        for k in stale:
            del self._entries[k]
        while len(self._entries) >= self.max_keys:
            self._entries.pop(next(iter(self._entries)))
