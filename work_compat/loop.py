"""A background loop: a daemon thread that runs ``tick()`` on a cadence until stopped.

The heartbeater, observer, requeuers, reaper and periodic enqueuer are all one of these. A failing
tick is logged and the loop goes on (Redis may come back); it never dies silently.
"""

from __future__ import annotations

import logging
import random
import threading

import redis

from .errors import RedisUnavailableError
from .outage import UNREACHABLE, RedisOutage

__all__ = ["BackgroundLoop"]

logger = logging.getLogger(__name__)


class BackgroundLoop:
    """Calls ``tick()`` after ``first_delay`` (default: one period), then every ``period`` plus a
    uniform 0..``jitter`` seconds, until ``stop()``."""

    name = "work-compat-loop"
    failure_text = "tick failed"  # how a failed tick is logged: "<failure_text>: <error>"

    def __init__(self, period: float, *, first_delay: float | None = None, jitter: float = 0.0) -> None:
        self.period = period
        self.first_delay = period if first_delay is None else first_delay
        self.jitter = jitter
        self._stop_event = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        # The pool's shared outage log: while Redis is down its failures are logged once, not per tick.
        self.outage: RedisOutage | None = None

    def tick(self) -> bool | None:
        """One round of the loop's work; False when it had nothing to send to Redis (an idle round
        proves nothing about an outage)."""
        raise NotImplementedError

    def next_wait(self) -> float:
        """Seconds from the end of a tick to the next one: ``period`` plus up to ``jitter``."""
        return self.period + (random.uniform(0, self.jitter) if self.jitter else 0.0)

    def on_error(self, err: redis.RedisError | RedisUnavailableError) -> None:
        """Called after a tick failed on Redis (and was logged), for a loop to undo or mark work."""

    def report(self, err: redis.RedisError | RedisUnavailableError) -> None:
        """Log a failed tick: through the pool's outage log when Redis is unreachable."""
        if self.outage is not None and isinstance(err, UNREACHABLE):
            self.outage.failed(self.name, err)
        else:
            logger.warning("%s: %s: %s", self.name, self.failure_text, err)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        """Started and not yet stopped."""
        return self._thread.is_alive() and not self._stop_event.is_set()

    def _loop(self) -> None:
        wait = self.first_delay
        while not self._stop_event.wait(wait):
            try:
                if self.tick() is not False and self.outage is not None:
                    self.outage.recovered()
            except (redis.RedisError, RedisUnavailableError) as err:
                self.report(err)
                self.on_error(err)
            except Exception:  # a bug in a tick must not end the loop for good
                logger.exception("%s: tick failed", self.name)
            wait = self.next_wait()

    def stop_loop(self, timeout: float | None = None) -> None:
        """Stop the thread, waiting for a tick in progress (up to ``timeout``)."""
        self._stop_event.set()
        if self._thread.is_alive():
            self._thread.join(self.period + 10 if timeout is None else timeout)
