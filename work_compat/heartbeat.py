"""The pool heartbeat (gocraft ``heartbeater.go``, protocol §5.1): who is alive, and with what.

Go's client, workwebui and every reaper read the hash; a Go reaper declares the pool dead once
``heartbeat_at`` is 10 s old, so the beat must never stall.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import redis

from .clock import Clock
from .keys import Keys
from .loop import BackgroundLoop

__all__ = ["GO_HEARTBEAT_FIELDS", "Heartbeater"]

# The fields Go writes and reads; extra fields (``WorkerPool.set_heartbeat_field``) are skipped by
# Go's client, which reads the hash field by field and ignores names it does not know.
GO_HEARTBEAT_FIELDS = frozenset({"heartbeat_at", "started_at", "job_names", "concurrency", "worker_ids", "host", "pid"})

logger = logging.getLogger(__name__)


def _hostname() -> str:
    try:
        return socket.gethostname()
    except OSError:
        return "hostname_errored"  # what Go writes when the lookup fails


class Heartbeater(BackgroundLoop):
    """Beats at start and every ``period`` seconds; removes the pool's entries on a clean stop."""

    name = "work-compat-heartbeat"
    failure_text = "heartbeat failed"

    def __init__(
        self,
        client: Any,
        keys: Keys,
        pool_id: str,
        *,
        job_names: list[str],
        concurrency: int,
        worker_ids: list[str],
        clock: Clock,
        period: float,
        extra_fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(period)
        self.client = client
        self.keys = keys
        self.pool_id = pool_id
        self.clock = clock
        self.started_at = clock.now()
        self.fields = {
            "job_names": ",".join(sorted(job_names)),
            "concurrency": str(concurrency),
            "worker_ids": ",".join(sorted(worker_ids)),
            "host": _hostname(),
            "pid": str(os.getpid()),
        }
        for name, value in (extra_fields or {}).items():
            self.fields.setdefault(name, value)

    def beat(self) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.sadd(self.keys.worker_pools(), self.pool_id)
        mapping = {"heartbeat_at": str(self.clock.now()), "started_at": str(self.started_at), **self.fields}
        pipe.hset(self.keys.heartbeat(self.pool_id), mapping=mapping)
        pipe.execute()

    def start(self) -> None:
        self.beat()  # the first beat is synchronous: the pool is visible before it fetches
        super().start()

    def beat_if_running(self) -> None:
        """Beat now, unless the pool has stopped beating (a stopped or aborted pool must stay
        stopped, so that a reaper can recover an aborted one's jobs). Called when Redis is back
        after an outage: every pool's heartbeat went stale meanwhile, and a reaper must not take
        this live pool for a dead one."""
        if self.running:
            self.beat()

    def tick(self) -> None:
        self.beat()

    def stop(self, *, deregister: bool = True) -> None:
        """Stop beating; unless told otherwise, remove the pool from ``worker_pools``.

        ``deregister=False`` leaves the entries for a reaper (Go's or ours) to find, which is what a
        hard stop wants: the jobs still in progress are then requeued by that reaper.
        """
        self.stop_loop()
        if not deregister:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.srem(self.keys.worker_pools(), self.pool_id)
            pipe.delete(self.keys.heartbeat(self.pool_id))
            pipe.execute()
        except redis.RedisError as err:
            logger.warning("could not deregister pool %s: %s (a reaper will)", self.pool_id, err)
