"""Publishing with Celery's publish retry policy (D7) through work_compat's Enqueuer.

``Publisher`` is what ``Celery.publish`` writes with: the Enqueuer's commands, except that a plain
LPUSH of a job name it has already written goes straight to a Redis connection held for publishing
(``DirectPush``), without redis-py's per-command pool checkout, cleanliness poll and instrumentation.
Each call still waits for Redis's reply. Anything else (scheduled jobs, the known-jobs SADD every
300 s per name, Cluster, Sentinel-less special clients, in-memory Redis, a failed direct write) takes
the Enqueuer's own path, so what lands in Redis, the errors raised and redis-py's retries are the same.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import redis

from work_compat import Connection, Enqueuer, Job, RedisUnavailableError
from work_compat.enqueue import KNOWN_JOBS_CACHE_SECONDS

from .exceptions import OperationalError

__all__ = ["DirectPush", "Publisher", "push_with_retries"]

logger = logging.getLogger(__name__)

_IDLE_MAX = 8  # connections kept between calls (one per thread publishing at the same time)...
_POOL_SHARE = 4  # ...and at most a quarter of the pool's max_connections (100 by default)

_forks = 0  # how many forks this process descends from: a DirectPush made before one drops its connections


def _forked() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_forked)


def push_with_retries(enqueuer: Any, job: Job, run_at: int | None, policy: Mapping[str, Any] | None) -> None:
    """``enqueuer.enqueue_job`` retried on connection errors with Celery's publish retry policy.

    ``enqueuer`` is an Enqueuer or a Publisher. ``policy`` None means no retries; otherwise
    ``max_retries`` (None: forever), ``interval_start``, ``interval_step`` and ``interval_max`` in seconds.
    """
    if policy is None:
        try:
            enqueuer.enqueue_job(job, run_at=run_at)
        except RedisUnavailableError as err:
            raise OperationalError(str(err)) from err
        return
    max_retries = policy.get("max_retries", 3)
    interval = float(policy.get("interval_start", 0))
    step = float(policy.get("interval_step", 0.2))
    ceiling = float(policy.get("interval_max", 1))
    attempt = 0
    while True:
        try:
            enqueuer.enqueue_job(job, run_at=run_at)
            return
        except RedisUnavailableError as err:
            if max_retries is not None and attempt >= max_retries:
                raise OperationalError(str(err)) from err
            attempt += 1
            logger.warning(
                "publish of job %s id %s failed (%s); retry %d in %.1fs", job.name, job.id, err, attempt, interval
            )
            time.sleep(interval)
            interval = min(interval + step, ceiling)


def _idle_share(pool: Any) -> int:
    try:
        return int(getattr(pool, "max_connections", 100)) // _POOL_SHARE
    except (TypeError, ValueError):
        return 0


class DirectPush:
    """LPUSHes on connections taken from a redis-py client's pool and kept for this use.

    Thread-safe: each call takes a connection of its own from the idle list (or the pool) and puts
    it back after the reply. A forked child starts with none (the parent's sockets stay the parent's).
    """

    def __init__(self, client: redis.Redis) -> None:
        self.pool = client.connection_pool
        self._idle: list[Any] = []
        self._idle_max = min(_IDLE_MAX, _idle_share(self.pool))
        self._forks = _forks

    @classmethod
    def for_client(cls, client: Any) -> DirectPush | None:
        """A DirectPush for a plain redis-py client speaking RESP2; None for anything else
        (Cluster, fakeredis, a single-connection client, client-side caching, a pool of under
        four connections, which held ones could starve)."""
        if type(client) is not redis.Redis or getattr(client, "connection", None) is not None:
            return None
        pool = client.connection_pool
        if getattr(pool, "cache", None) is not None or pool.connection_kwargs.get("protocol") not in (None, 2, "2"):
            return None
        if _idle_share(pool) < 1:
            return None
        return cls(client)

    def lpush(self, packed: bytes) -> Any:
        """Send one packed command and return its reply (raises what redis-py raises)."""
        if self._forks != _forks:  # a forked child: the parent's sockets stay the parent's
            self._idle = []
            self._forks = _forks
        try:
            conn = self._idle.pop()
        except IndexError:
            conn = self.pool.get_connection()
        try:
            conn.send_packed_command((packed,))  # a sequence of chunks; bytes alone would be iterated
            reply = conn.read_response()
        except redis.ResponseError:
            self._put(conn)  # an error reply leaves the connection clean
            raise
        except BaseException:
            conn.disconnect()
            self.pool.release(conn)
            raise
        self._put(conn)
        return reply

    def _put(self, conn: Any) -> None:
        if len(self._idle) < self._idle_max:
            self._idle.append(conn)
        else:
            self.pool.release(conn)

    def close(self) -> None:
        """Hand the idle connections back to the pool."""
        idle, self._idle = self._idle, []
        if self._forks == _forks:
            for conn in idle:
                self.pool.release(conn)


class Publisher:
    """``enqueue_job`` as the Enqueuer's, with LPUSHes of known names through ``DirectPush``."""

    def __init__(self, enqueuer: Enqueuer, conn: Connection) -> None:
        self.enqueuer = enqueuer
        self.conn = conn
        self._direct = DirectPush.for_client(conn.client)
        self._prefixes: dict[str, tuple[bytes, float]] = {}  # job name -> (LPUSH prefix, direct until)

    def enqueue_job(self, job: Job, *, run_at: int | None = None) -> Job:
        if run_at is None and self._direct is not None:
            known = self._prefixes.get(job.name)
            if known is not None and time.monotonic() < known[1]:
                data = job.to_bytes()
                try:
                    self._direct.lpush(b"%s%d\r\n%s\r\n" % (known[0], len(data), data))
                    return job
                except (redis.ConnectionError, redis.TimeoutError, OSError) as err:
                    # The Enqueuer's path sends it again, with redis-py's retries, and raises what it raises.
                    logger.debug("direct publish of job %s id %s failed (%s); sending it again", job.name, job.id, err)
        self.enqueuer.enqueue_job(job, run_at=run_at)
        if run_at is None and self._direct is not None:
            # The Enqueuer added the name to known_jobs if it was due (Go does it once per 300 s per
            # name); until it is due again, plain LPUSHes of this name can go direct.
            key = self.enqueuer.keys.jobs(job.name).encode("utf-8")
            prefix = b"*3\r\n$5\r\nLPUSH\r\n$%d\r\n%s\r\n$" % (len(key), key)
            self._prefixes[job.name] = (prefix, time.monotonic() + KNOWN_JOBS_CACHE_SECONDS)
        return job

    def close(self) -> None:
        if self._direct is not None:
            self._direct.close()
