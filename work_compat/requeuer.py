"""Requeuers (gocraft ``requeuer.go``, protocol §5.3): due jobs from ``scheduled`` and ``retry``
back to their queues, once a second.

The script moves the stored bytes as they are (Go's re-encodes them with cjson, which rounds long
numbers and turns ``[]`` into ``{}``), leaves jobs of names this pool does not know for a pool that
knows them (as the fork does; the original kills them into dead), and looks past them, so one
unknown name cannot block the set.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import redis

from .clock import Clock
from .job import make_identifier
from .keys import Keys

__all__ = ["Requeuer"]

logger = logging.getLogger(__name__)


class Requeuer:
    """Moves due members of the given sorted sets to the queues of ``known_names``."""

    def __init__(
        self,
        script: Any,
        keys: Keys,
        zset_keys: list[str],
        known_names: Callable[[], list[str]],
        *,
        clock: Clock,
        period: float,
        batch: int,
    ) -> None:
        self.script = script
        self.keys = keys
        self.zset_keys = zset_keys
        self.known_names = known_names
        self.clock = clock
        self.period = period
        self.batch = batch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="work-compat-requeuer", daemon=True)

    def run_once(self) -> int:
        """Move everything due now; returns how many jobs moved."""
        queues = [self.keys.jobs(n) for n in self.known_names()]
        total = 0
        for zset in self.zset_keys:
            while True:
                moved, _looked = self.script(
                    keys=[zset, self.keys.dead(), *queues],
                    args=[self.keys.jobs_prefix(), self.clock.now(), self.batch, make_identifier()],
                )
                total += int(moved)
                if int(moved) < self.batch:
                    break
        return total

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.run_once()
            except redis.RedisError as err:
                logger.warning("requeuing due jobs failed: %s", err)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.period + 10)
