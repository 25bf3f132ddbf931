"""Requeuers (gocraft ``requeuer.go``, protocol §5.3): due jobs from ``scheduled`` and ``retry``
back to their queues, once a second.

The script sets ``t`` to the time of the move, as Go does, by rewriting only its digits; every other
byte stays as stored (Go's re-encodes the member with cjson, which reorders fields, rounds long
numbers and turns ``[]`` into ``{}``). A unique job keeps even ``t``, so that a Go worker's release
of a by-key unique job (an LREM of the lock's value, the bytes as enqueued) still finds it. Jobs of
names this pool does not know are left for a pool that knows them (as the fork does; the original
kills them into dead), and the script looks past them, so one unknown name cannot block the set.
A queue of the wrong Redis type refuses its jobs, which then stay in the set (logged once, see
``badkeys``); a set of the wrong type is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from .badkeys import BadKeys
from .clock import Clock
from .job import make_identifier
from .keys import Keys
from .loop import BackgroundLoop

__all__ = ["Requeuer"]

logger = logging.getLogger(__name__)


class Requeuer(BackgroundLoop):
    """Moves due members of the given sorted sets to the queues of ``known_names``."""

    name = "work-compat-requeuer"
    failure_text = "moving due retry and scheduled jobs failed"

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
        on_moved: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(period)
        self.on_moved = on_moved  # told after a run moved jobs, so idle workers fetch them now
        self.script = script
        self.keys = keys
        self.zset_keys = zset_keys
        self.known_names = known_names
        self.clock = clock
        self.batch = batch
        self.bad_keys = BadKeys()

    def run_once(self) -> int:
        """Move everything due now; returns how many jobs moved."""
        queues = [self.keys.jobs(n) for n in self.known_names()]
        total = 0
        for zset in self.zset_keys:
            while True:
                args = [self.keys.jobs_prefix(), self.clock.now(), self.batch, make_identifier()]
                call = partial(self.script, keys=[zset, self.keys.dead(), *queues], args=args)
                reply = self.bad_keys.guard(zset, "sorted set", "the requeuer", None, call)
                if reply is None:
                    break
                moved, _looked, refused = reply
                if refused:
                    self.bad_keys.report(
                        refused.decode() if isinstance(refused, bytes) else refused,
                        "list or sorted set",
                        "the requeuer",
                    )
                total += int(moved)
                if int(moved) < self.batch:
                    break
        if total and self.on_moved is not None:
            self.on_moved()
        return total

    def tick(self) -> None:
        self.run_once()

    def stop(self) -> None:
        self.stop_loop()
