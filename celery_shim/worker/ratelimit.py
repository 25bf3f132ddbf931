"""Per-worker rate limits (spec D14): one token bucket per task name, as Celery's worker keeps.

A name whose bucket is empty is left out of the pool's fetches (``WorkerPool.set_fetch_filter``)
until a token is back, rather than fetched and held. A job fetched anyway (a batch can take several
jobs of one name) goes back to the front of its queue, uncounted. Rates come from the task's
``rate_limit`` (annotations included), else ``task_default_rate_limit``; ``app.control.rate_limit``
writes ``<ns>:celery:rate_limits``, which ``refresh`` reads for live and late-starting workers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..utils.time import parse_rate

__all__ = ["RateLimits", "TokenBucket"]

logger = logging.getLogger(__name__)


class TokenBucket:
    """``fill_rate`` tokens a second up to ``capacity`` (Celery's buckets hold one: no bursts)."""

    def __init__(self, fill_rate: float, capacity: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.fill_rate = fill_rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._stamp = clock()

    def _fill(self) -> float:
        now = self._clock()
        if self._tokens < self.capacity:
            self._tokens = min(self.capacity, self._tokens + self.fill_rate * (now - self._stamp))
        self._stamp = now
        return self._tokens

    def ready(self, tokens: float = 1.0) -> bool:
        """Whether ``tokens`` could be taken now (takes nothing)."""
        return self._fill() >= tokens

    def take(self, tokens: float = 1.0) -> bool:
        """Take ``tokens`` if there are enough; True if taken."""
        if self._fill() >= tokens:
            self._tokens -= tokens
            return True
        return False

    def wait_time(self, tokens: float = 1.0) -> float:
        """Seconds until ``tokens`` are there."""
        missing = tokens - self._fill()
        return max(0.0, missing / self.fill_rate) if self.fill_rate else 0.0


class RateLimits:
    """The buckets of one worker: ``keep(name)`` is the fetch filter, ``take(name)`` runs a job.

    ``share``: this process holds one of ``share`` equal parts of the worker's rates (a prefork
    child whose worker has ``share`` children, each fetching for itself).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, share: int = 1) -> None:
        self._clock = clock
        self._share = max(1, share)
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}
        self._rates: dict[str, float] = {}
        self._base: dict[str, float] = {}  # from task options and settings
        self._runtime: dict[str, float] = {}  # from <ns>:celery:rate_limits

    def configure(self, rates: Mapping[str, Any]) -> None:
        """Set each name's rate from its task options (invalid rates are logged and ignored)."""
        base: dict[str, float] = {}
        for name, rate in rates.items():
            try:
                base[name] = parse_rate(rate)
            except ValueError as err:
                logger.error("task %s: %s; no rate limit applied", name, err)
        with self._lock:
            self._base = base
            self._apply()

    def update_runtime(self, rates: Mapping[str, Any], names: Iterable[str]) -> None:
        """Overrides set at runtime (``app.control.rate_limit``), for the names this worker runs."""
        known = set(names)
        runtime: dict[str, float] = {}
        for name, rate in rates.items():
            if name not in known:
                continue
            try:
                runtime[name] = parse_rate(rate)
            except ValueError as err:
                logger.error("runtime rate limit of %s: %s; ignored", name, err)
        with self._lock:
            if runtime != self._runtime:
                self._runtime = runtime
                self._apply()

    def _apply(self) -> None:
        rates = {name: rate / self._share for name, rate in {**self._base, **self._runtime}.items()}
        for name, rate in rates.items():
            if self._rates.get(name) == rate:
                continue
            if rate > 0:
                logger.info("rate limit of %s: %.4g tasks a second", name, rate)
                self._buckets[name] = TokenBucket(rate, clock=self._clock)
            else:
                self._buckets.pop(name, None)
        for name in set(self._buckets) - {n for n, r in rates.items() if r > 0}:
            del self._buckets[name]
        self._rates = rates

    def rate(self, name: str) -> float:
        """Tokens a second for ``name`` (0: unlimited)."""
        with self._lock:
            return self._rates.get(name, 0.0)

    @property
    def active(self) -> bool:
        with self._lock:
            return bool(self._buckets)

    def keep(self, name: str) -> bool:
        """The fetch filter: False while ``name``'s bucket is empty."""
        if not self._buckets:  # no rate limits at all: the common case, without the lock
            return True
        with self._lock:
            bucket = self._buckets.get(name)
            return bucket is None or bucket.ready()

    def take(self, name: str) -> bool:
        """Take a token to run a job of ``name``; False means put the job back."""
        if not self._buckets:
            return True
        with self._lock:
            bucket = self._buckets.get(name)
            return bucket is None or bucket.take()
