"""LPUSHes on Redis connections held for them: the Enqueuer's plain enqueue without redis-py's
per-command pool checkout, cleanliness poll and instrumentation (a third of a call's time here).

Only the command's transport changes: the same LPUSH, and each call still waits for Redis's reply.
Anything else (scheduled jobs, the known-jobs SADD, Cluster, special clients, a failed write) takes
redis-py's own path.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

import redis

__all__ = ["DirectPush"]

_IDLE_MAX = 8  # connections kept between calls (one per thread publishing at the same time)...
_POOL_SHARE = 4  # ...and at most a quarter of the pool's max_connections (100 by default)

_forks = 0  # how many forks this process descends from: a DirectPush made before one drops its connections


def _forked() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_forked)


def _idle_share(pool: Any) -> int:
    try:
        return int(getattr(pool, "max_connections", 100)) // _POOL_SHARE
    except (TypeError, ValueError):
        return 0


class _Held:
    """The connections a DirectPush keeps between calls, and the fork generation they belong to.
    A separate object so that the finalizer can hand them back without keeping the DirectPush."""

    __slots__ = ("conns", "forks")

    def __init__(self) -> None:
        self.conns: list[Any] = []
        self.forks = _forks


def _release(pool: Any, held: _Held) -> None:
    """Hand the held connections back to ``pool`` (not in a forked child: they are the parent's)."""
    conns, held.conns = held.conns, []
    if held.forks == _forks:
        for conn in conns:
            pool.release(conn)


class DirectPush:
    """LPUSHes on connections taken from a redis-py client's pool and kept for this use.

    Thread-safe: each call takes a connection of its own from the held ones (or the pool) and puts
    it back after the reply. A forked child starts with none (the parent's sockets stay the
    parent's). The held connections go back to the pool on ``close()``, or when the DirectPush is
    garbage-collected, so short-lived Enqueuers on a shared client never starve its pool.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.pool = client.connection_pool
        self._held = _Held()
        self._idle_max = min(_IDLE_MAX, _idle_share(self.pool))
        weakref.finalize(self, _release, self.pool, self._held)

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
        held = self._held
        if held.forks != _forks:  # a forked child: the parent's sockets stay the parent's
            held.conns = []
            held.forks = _forks
        try:
            conn = held.conns.pop()
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

    @property
    def held(self) -> int:
        """How many connections are kept for the next calls."""
        return len(self._held.conns)

    def _put(self, conn: Any) -> None:
        if len(self._held.conns) < self._idle_max:
            self._held.conns.append(conn)
        else:
            self.pool.release(conn)

    def close(self) -> None:
        """Hand the held connections back to the pool."""
        _release(self.pool, self._held)
