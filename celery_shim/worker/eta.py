"""Sub-second countdowns and retry delays for the tasks a Python worker runs.

gocraft scores the ``scheduled`` and ``retry`` sets in whole epoch seconds, and a requeuer moves a
job once its score has passed: a countdown of 0.1 s waited up to a second, and retry_backoff's 1, 2,
4, 8 s ran at 1.7, 3.0, 4.8, 9.0 s. The score stays the whole second at or after the exact eta (so
Go pools, which read it, never run a job early); the exact eta is in the job's ``"celery"``
metadata (``eta``). Every ``period`` this loop looks at the members due within the second, and
moves those of its tasks whose exact eta has come to their queues (``move_early.lua``, atomic
against the requeuers), waking the pool's idle workers.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Collection
from importlib.resources import files
from typing import Any

from work_compat import Keys
from work_compat.loop import BackgroundLoop

__all__ = ["EtaMover"]

logger = logging.getLogger(__name__)

_MOVE_EARLY = (files("celery_shim.gocraft") / "lua" / "move_early.lua").read_text(encoding="utf-8")
_LOOK = 200  # members of one set looked at per round: the ones due within the second


def exact_eta(member: bytes | str) -> tuple[str, float] | None:
    """``(job name, exact eta)`` of a set member that carries one in its ``"celery"`` metadata."""
    try:
        job = json.loads(member)
    except ValueError:
        return None
    meta = job.get("celery") if isinstance(job, dict) else None
    eta = meta.get("eta") if isinstance(meta, dict) else None
    name = job.get("name")
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not isinstance(name, str):
        return None
    return name, float(eta)


class EtaMover(BackgroundLoop):
    """Moves the scheduled and retried jobs of ``names`` to their queues at their exact eta."""

    name = "celery-shim-eta"
    failure_text = "moving jobs due within the second failed"

    def __init__(
        self,
        client: Any,
        keys: Keys,
        names: Collection[str],
        on_moved: Callable[[], None],
        *,
        period: float = 0.1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(period)
        self.client = client
        self.keys = keys
        self.names = frozenset(names)
        self.on_moved = on_moved
        self.clock = clock
        self.script = client.register_script(_MOVE_EARLY)

    def due_soon(self) -> list[tuple[float, str, bytes, str]]:
        """``(eta, set, member, name)`` of this worker's jobs whose exact eta comes within a period,
        among the members whose whole-second score has not come yet."""
        now = self.clock()
        horizon = now + self.period
        found = []
        for zset in (self.keys.scheduled(), self.keys.retry()):
            for member in self.client.zrangebyscore(zset, f"({now}", math.floor(now) + 1, start=0, num=_LOOK):
                parsed = exact_eta(member)
                if parsed is not None and parsed[0] in self.names and parsed[1] <= horizon:
                    found.append((parsed[1], zset, member, parsed[0]))
        return sorted(found)

    def tick(self) -> bool:
        moved = 0
        for eta, zset, member, name in self.due_soon():
            wait = eta - self.clock()
            if wait > 0:
                time.sleep(wait)  # at most one period: the member was picked as due within it
            moved += int(self.script(keys=[zset, self.keys.jobs(name)], args=[member]))
        if moved:
            self.on_moved()
        return True
