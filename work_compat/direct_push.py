"""Writes sent at most once: the Enqueuer's pushes and the Client's admin scripts.

redis-py sends a command again when its reply does not come (a socket timeout, 5 s by default, or a
dropped connection), on a new connection, up to three times. For an LPUSH whose first copy reached
Redis during a stall, that is a second copy of the job, silently. Here a command goes out once:
failures before anything was sent (no connection, connection refused) are retried by redis-py's own
connect logic; a failure after sending raises ``Unanswered``, which the caller turns into an error
that says the outcome is unknown and names the job. Replies Redis did send are definite: ``NOSCRIPT``
and a cluster's ``MOVED``/``ASK`` mean nothing ran, so those are sent again.

Plain LPUSHes also skip redis-py's per-command work (a third of a call's time here): their
connections are held between calls (RESP2 only, up to a quarter of the pool), checked for a close
by Redis before each use. Cluster, clients with client-side caching or a single connection, and clients
that are not redis-py's (fakeredis) go through redis-py as before (``Sender.for_client`` is None).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from typing import Any

import redis
import redis.cluster

__all__ = ["Sender", "Unanswered", "pack"]

_IDLE_MAX = 8  # connections kept between calls (one per thread publishing at the same time)...
_POOL_SHARE = 4  # ...and at most a quarter of the pool's max_connections (100 by default)

_forks = 0  # how many forks this process descends from: a Sender made before one drops its connections


def _forked() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_forked)


class Unanswered(Exception):
    """Commands were sent and their replies did not come: they may or may not have run."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


def pack(*args: str | bytes | int) -> bytes:
    """One command in RESP, as redis-py packs it (str as UTF-8, ints in decimal)."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode("utf-8", "surrogatepass")
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


def _idle_share(pool: Any) -> int:
    try:
        return int(getattr(pool, "max_connections", 100)) // _POOL_SHARE
    except (TypeError, ValueError):
        return 0


class _Held:
    """The connections a _PoolSender keeps between calls, and the fork generation they belong to.
    A separate object so that the finalizer can hand them back without keeping the sender."""

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


class _PoolSender:
    """Sends on connections of one redis-py pool, keeping up to ``idle_max`` of them between calls."""

    def __init__(self, client: redis.Redis) -> None:
        self.pool = client.connection_pool
        self._held = _Held()
        resp2 = self.pool.connection_kwargs.get("protocol") in (None, 2, "2")
        # RESP3 connections may carry push messages between commands: those go back to the pool,
        # whose checkout reads them, instead of being held.
        checks = hasattr(self.pool, "ensure_connection")  # how a held connection is checked before use
        self._idle_max = min(_IDLE_MAX, _idle_share(self.pool)) if resp2 and checks else 0
        weakref.finalize(self, _release, self.pool, self._held)

    def _take(self) -> Any:
        held = self._held
        if held.forks != _forks:  # a forked child: the parent's sockets stay the parent's
            held.conns = []
            held.forks = _forks
        try:
            conn = held.conns.pop()
        except IndexError:
            return self.pool.get_connection()  # connects, and reconnects a connection Redis closed
        try:
            self.pool.ensure_connection(conn)  # Redis may have closed it since (a restart, a kill)
        except BaseException:
            self.pool.release(conn)
            raise
        return conn

    def call(self, packed: bytes, replies: int) -> list[Any]:
        """Send ``packed`` (``replies`` commands) once and read every reply; an error reply comes
        back as the ResponseError in its place. Unanswered when the replies did not all come."""
        conn = self._take()  # raises redis' ConnectionError when nothing could be sent
        try:
            # A sequence of chunks (bytes alone would be iterated); no health-check PING first: the
            # checkout just checked the connection, and a failed PING would read as a sent write.
            conn.send_packed_command((packed,), check_health=False)
            out: list[Any] = []
            for _ in range(replies):
                try:
                    out.append(conn.read_response())
                except redis.ResponseError as err:
                    out.append(err)
        except BaseException as err:
            conn.disconnect()
            self.pool.release(conn)
            if isinstance(err, (redis.ConnectionError, redis.TimeoutError, OSError)):
                raise Unanswered(err) from err
            raise
        self._put(conn)
        return out

    @property
    def held(self) -> int:
        return len(self._held.conns)

    def _put(self, conn: Any) -> None:
        if self._held.forks == _forks and len(self._held.conns) < self._idle_max:
            self._held.conns.append(conn)
        else:
            self.pool.release(conn)

    def close(self) -> None:
        _release(self.pool, self._held)


class Sender:
    """Sends a batch of commands once, on a plain redis-py client or a Redis Cluster (the node that
    holds the namespace's slot). Thread-safe; a forked child starts without connections."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._cluster = isinstance(client, redis.cluster.RedisCluster)
        self._senders: dict[str, _PoolSender] = {}
        if not self._cluster:
            self._senders[""] = _PoolSender(client)

    @classmethod
    def for_client(cls, client: Any) -> Sender | None:
        """A Sender for a plain redis-py client or a RedisCluster; None for anything else (a
        single-connection client, client-side caching, fakeredis), which keeps redis-py's path."""
        if isinstance(client, redis.cluster.RedisCluster):
            return cls(client)
        if type(client) is not redis.Redis or getattr(client, "connection", None) is not None:
            return None
        if getattr(client.connection_pool, "cache", None) is not None:
            return None
        return cls(client)

    def call(self, commands: Sequence[bytes], key: str) -> list[Any]:
        """Send the packed ``commands`` once; ``key`` picks a cluster node (every key of a
        namespace shares its slot). Returns each reply, a ResponseError in place of an error reply."""
        packed = b"".join(commands)
        if not self._cluster:
            return self._senders[""].call(packed, len(commands))
        for _ in range(3):  # a MOVED/ASK reply means nothing ran: ask the cluster where, and send again
            replies = self._node_sender(key).call(packed, len(commands))
            if not any(isinstance(r, redis.exceptions.AskError) for r in replies):
                return replies
            self.client.nodes_manager.initialize()
        return replies

    def _node_sender(self, key: str) -> _PoolSender:
        node = self.client.get_node_from_key(key)
        sender = self._senders.get(node.name)
        if sender is None:
            sender = self._senders[node.name] = _PoolSender(self.client.get_redis_connection(node))
        return sender

    @property
    def held(self) -> int:
        """How many connections are kept for the next calls."""
        return sum(s.held for s in self._senders.values())

    def close(self) -> None:
        """Hand the held connections back to their pools."""
        for sender in self._senders.values():
            sender.close()
