"""One account of a Redis outage for a whole worker pool.

When Redis goes away every worker thread and background loop of a pool fails at once and keeps
failing until it is back. Logging each failure buries the one fact an operator needs (Redis at this
address is down, since when, and that it came back) under hundreds of identical lines. So the first
failure of an outage is a WARNING, the rest are DEBUG, a reminder is logged while it lasts, and the
first success afterwards logs how long it was down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from .errors import RedisUnavailableError

__all__ = ["UNREACHABLE", "RedisOutage"]

# The errors that mean "Redis cannot be reached" (redis-py's, and ours that names the address).
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, RedisUnavailableError)

logger = logging.getLogger(__name__)


class RedisOutage:
    """Shared by the workers and loops of one pool; thread-safe; ``recovered()`` is cheap when up."""

    def __init__(self, address: str, *, remind: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.address = address
        self.remind = remind
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._next_reminder = 0.0
        self._failures = 0
        self._recovered_at: float | None = None
        self._on_recovery: list[Callable[[], object]] = []

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def on_recovery(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` (in the thread that saw Redis answer again) at the end of each outage."""
        self._on_recovery.append(callback)

    def seconds_since_recovery(self) -> float:
        """How long ago the last outage ended (infinite if none did); 0 while one is on."""
        if self._down_since is not None:
            return 0.0
        if self._recovered_at is None:
            return float("inf")
        return self._clock() - self._recovered_at

    def failed(self, who: str, err: BaseException) -> None:
        """``who`` could not reach Redis; log it once per outage (and a reminder every ``remind`` s)."""
        now = self._clock()
        with self._lock:
            self._failures += 1
            if self._down_since is None:
                self._down_since = now
                self._next_reminder = now + self.remind
                logger.warning(
                    "Redis at %s is unreachable (%s: %s); retrying until it is back, "
                    "finished jobs are recorded then and unfinished ones stay in progress",
                    self.address,
                    who,
                    err,
                )
                return
            if now >= self._next_reminder:
                self._next_reminder = now + self.remind
                logger.warning(
                    "Redis at %s still unreachable after %.0fs (%d failed calls; last, %s: %s)",
                    self.address,
                    now - self._down_since,
                    self._failures,
                    who,
                    err,
                )
                return
        logger.debug("%s: Redis unreachable: %s", who, err)

    def recovered(self) -> None:
        """A call to Redis succeeded; if an outage was on, log its end."""
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            self._recovered_at = self._clock()
            seconds = self._recovered_at - self._down_since
            failures, self._down_since, self._failures = self._failures, None, 0
        logger.info("Redis at %s is reachable again after %.1fs (%d failed calls)", self.address, seconds, failures)
        for callback in self._on_recovery:
            try:
                callback()
            except Exception as err:  # Redis may have gone again; the callback's own loop retries
                logger.debug("after the outage, %r failed: %s", callback, err)
