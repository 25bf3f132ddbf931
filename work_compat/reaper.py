"""Dead-pool reaper (gocraft ``dead_pool_reaper.go``, protocol §5.4).

A pool whose heartbeat is more than ``dead_after`` seconds old is dead, Go's or ours: its
in-progress jobs go back to their queues (bytes unchanged), its lock counts are taken out of the
shared counters, and its heartbeat entries are removed. With history on (the fork), entries older
than the retention are cleaned at the end of every run.

Go's reaper first runs ``dead_after`` after its pool starts, then every 10 minutes, so a lone pool
restarted after a crash left the crashed pool's jobs in progress for 10 s or more. Here a pool
reaps when it starts, and once more ``dead_after`` + 1 s later: a pool that died before this one
started is stale by then at the latest, so its jobs are back in their queues within ``dead_after``
+ 1 s of the start (at once when it died more than ``dead_after`` ago). When Redis itself started
less than ``dead_after`` ago, the pass at start leaves pools whose last beat predates that start
to the second pass: they may be alive and not have beaten again yet, as after an outage this pool
saw.

A key of the wrong Redis type (a string where a heartbeat hash belongs, a hash for a lock counter)
made Go's reaper, and this one, fail every pass. Here such a key is skipped and logged once (see
``badkeys``): a dead pool with a bad key for one of its job names has its other names' jobs
requeued and stays registered, so that a pass after the key is fixed takes the rest back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial
from typing import Any

import redis

from .badkeys import BadKeys
from .clock import Clock
from .job import HistoryJob
from .keys import Keys
from .loop import BackgroundLoop

__all__ = ["Reaper"]

logger = logging.getLogger(__name__)


def _text(v: bytes | str | None) -> str:
    return "" if v is None else v.decode("utf-8", "replace") if isinstance(v, bytes) else v


_TYPE_NAMES = {"list": "list", "string": "string", "hash": "hash", "set": "set", "zset": "sorted set"}

_COMPLETED_AT = re.compile(rb'^\{"completed_at":(-?\d+),')


def _completed_at(raw: bytes) -> int | None:
    """A history entry's completed_at; Go writes it first, so most entries need no full parse.
    None for entries that cannot be parsed (kept, as in Go)."""
    m = _COMPLETED_AT.match(raw)
    if m is not None:
        return int(m.group(1))
    try:
        return HistoryJob.from_json(raw).completed_at
    except ValueError:
        return None


class Reaper(BackgroundLoop):
    """Finds dead pools and recovers their jobs; cleans old history."""

    name = "work-compat-reaper"
    failure_text = "reaping dead pools failed; the next run retries"

    def __init__(
        self,
        client: Any,
        scripts: Any,
        keys: Keys,
        known_names: Callable[[], list[str]],
        *,
        own_pool_id: str = "",
        clock: Clock,
        dead_after: float,
        first_delay: float,
        period: float,
        jitter: float,
        history_retention: int | None,
    ) -> None:
        super().__init__(period, first_delay=first_delay, jitter=jitter)
        self.client = client
        self.scripts = scripts
        self.keys = keys
        self.known_names = known_names
        self.own_pool_id = own_pool_id
        self.clock = clock
        self.dead_after = dead_after
        self.history_retention = history_retention
        self._ticks = 0
        self.bad_keys = BadKeys()

    def dead_pools(self, beat_since: int | None = None) -> dict[str, list[str] | None]:
        """Pool id -> its job names (None when its heartbeat hash is gone) for every dead pool;
        with ``beat_since``, only pools that beat at or after that second."""
        dead: dict[str, list[str] | None] = {}
        now = self.clock.now()
        pools_key = self.keys.worker_pools()
        for raw_id in self.bad_keys.guard(
            pools_key, "set", "the reaper", set(), partial(self.client.smembers, pools_key)
        ):
            pool_id = _text(raw_id)
            if pool_id == self.own_pool_id:
                continue  # we are running this: a clock jump must not make a pool reap itself
            key = self.keys.heartbeat(pool_id)
            fields = self.bad_keys.guard(
                key, "hash", "the reaper", None, partial(self.client.hmget, key, "heartbeat_at", "job_names")
            )
            if fields is None:
                continue  # not a heartbeat: the pool may be alive, its jobs are left alone
            beat, names = fields
            if beat is None:
                dead[pool_id] = None
                continue
            try:
                if int(beat) + self.dead_after > now or (beat_since is not None and int(beat) < beat_since):
                    continue
            except ValueError:
                logger.warning("pool %s has a heartbeat_at that is not a number: %r", pool_id, beat)
            if names is None:
                continue  # as Go: a pool without job_names is never reaped
            dead[pool_id] = [n for n in _text(names).split(",") if n]
        return dead

    def reap(self, beat_since: int | None = None) -> int:
        """One pass over every dead pool (see ``dead_pools``); returns how many jobs went back to
        their queues."""
        requeued = 0
        for pool_id, names in self.dead_pools(beat_since).items():
            # Go requeues nothing for a pool whose heartbeat hash is gone; our own names at least
            # cover the jobs this pool handles, which are then not orphaned.
            job_names = names if names is not None else self.known_names()
            usable = [n for n in job_names if self._keys_usable(pool_id, n)]
            count = self._requeue(pool_id, usable)
            requeued += count
            self._remove_stale_locks(pool_id, usable)
            if len(usable) < len(job_names):
                logger.warning(
                    "dead pool %s: %d job(s) back in their queues; it stays registered until the keys of %s are fixed",
                    pool_id,
                    count,
                    ", ".join(sorted(set(job_names) - set(usable))),
                )
                continue
            if names is not None:
                self.client.delete(self.keys.heartbeat(pool_id))
            self.client.srem(self.keys.worker_pools(), pool_id)
            logger.info("reaped dead pool %s: %d job(s) back in their queues", pool_id, count)
        if self.history_retention is not None:
            self.clean_history()
        return requeued

    def _keys_usable(self, pool_id: str, name: str) -> bool:
        """True when the keys the reaper's scripts touch for ``name`` are absent or of their type.

        Checked first, because a script failing half-way keeps its earlier writes.
        """
        expected = {
            self.keys.jobs_in_progress(name, pool_id): "list",
            self.keys.jobs(name): "list",
            self.keys.jobs_lock(name): "string",
            self.keys.jobs_lock_info(name): "hash",
        }
        pipe = self.client.pipeline(transaction=False)
        for key in expected:
            pipe.type(key)
        usable = True
        for (key, want), got in zip(expected.items(), pipe.execute()):
            if _text(got) not in ("none", want):
                self.bad_keys.report(key, _TYPE_NAMES[want], "the reaper")
                usable = False
        return usable

    def _requeue(self, pool_id: str, names: list[str]) -> int:
        keys: list[str] = []
        for n in names:
            keys += [
                self.keys.jobs_in_progress(n, pool_id),
                self.keys.jobs(n),
                self.keys.jobs_lock(n),
                self.keys.jobs_lock_info(n),
            ]
        count = 0
        while keys and self.scripts.reenqueue_job(keys=keys, args=[pool_id]) is not None:
            count += 1
        return count

    def _remove_stale_locks(self, pool_id: str, names: list[str]) -> None:
        keys: list[str] = []
        for n in names:
            keys += [self.keys.jobs_lock(n), self.keys.jobs_lock_info(n)]
        if keys:
            self.scripts.remove_stale_locks(keys=keys, args=[pool_id])

    def clean_history(self) -> None:
        """Remove history older than the retention (the fork's 15 days), as the fork's reaper does."""
        assert self.history_retention is not None
        cutoff = self.clock.now() - self.history_retention
        guard, what = self.bad_keys.guard, "history cleaning"
        history_keys = [self.keys.history()]
        known = self.keys.known_jobs()
        for raw_name in guard(known, "set", what, set(), lambda: self.client.smembers(known)):
            name = _text(raw_name)
            if name != "index":  # that key is the id index, a hash (the fork's name collision)
                history_keys.append(self.keys.history_for(name))
        for key in history_keys:
            guard(key, "sorted set", what, 0, partial(self.client.zremrangebyscore, key, "-inf", cutoff))
        stale = []
        index = self.keys.history_index()
        for job_id, raw in guard(index, "hash", what, [], lambda: list(self.client.hscan_iter(index, count=100))):
            completed_at = _completed_at(raw)
            if completed_at is not None and completed_at < cutoff:
                stale.append(job_id)
        for start in range(0, len(stale), 500):
            self.client.hdel(self.keys.history_index(), *stale[start : start + 500])

    def next_wait(self) -> float:
        if self._ticks == 1:  # the pass at start: a pool that died just before is stale by then
            return self.dead_after + 1
        return super().next_wait()

    def _redis_started_at(self) -> int | None:
        """When Redis started, if that was less than ``dead_after`` ago (in Redis's clock, which
        the hosts writing heartbeats share within their skew); None otherwise, and when INFO is
        unavailable (renamed, a cluster's per-node reply), so that this pass reaps as any other."""
        try:
            uptime = int(self.client.info("server").get("uptime_in_seconds", 0))
            if uptime >= self.dead_after:
                return None
            return int(self.client.time()[0]) - uptime
        except (TypeError, ValueError, AttributeError, IndexError, redis.ResponseError):
            return None

    def tick(self) -> bool | None:
        self._ticks += 1
        outage = self.outage
        if outage is not None and outage.seconds_since_recovery() < self.dead_after:
            # Redis was unreachable a moment ago: every pool's heartbeat went stale with ours, and the
            # live ones have not beaten again yet. Reaping now would take them for dead and run their
            # jobs twice; the next run judges on fresh beats.
            logger.info("reaper: Redis was unreachable until just now; this run is skipped")
            return False
        restarted_at = self._redis_started_at() if self._ticks == 1 else None
        if restarted_at is not None:
            logger.info("reaper: Redis started at %d; pools that last beat before are judged later", restarted_at)
        self.reap(beat_since=restarted_at)
        return None

    def stop(self) -> None:
        self.stop_loop(30)
