"""One Lua script, called on a connection kept for one thread: the worker loop's hot path.

A work step is the only command a busy worker sends, thousands of times a second. Through redis-py
each call checks out a pooled connection (a lock, a pid check and a ``poll`` for data Redis may have
sent), encodes every argument in Python and goes through its retry wrapper: about a third of the
worker's own CPU per job here. A ``ScriptCaller`` keeps one connection for its thread, packs
EVALSHA in one call (hiredis's packer when installed) and checks the connection only after it sat
idle, when Redis may have closed it (its ``timeout``, a restart). A connection or timeout error
leaves the connection closed and raises redis-py's error, as a failed ``Script`` call does; the
callers (worker, flusher) treat the step as possibly run, which it is safe to send again.

Anything but a plain RESP2 redis-py client (Cluster, client-side caching, a single-connection
client, fakeredis) calls the ``Script`` as before.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

from .direct_push import pack

__all__ = ["ScriptCaller"]

IDLE_CHECK_SECONDS = 1.0  # a connection unused this long is checked for a close before it is used

_hiredis_pack: Callable[[tuple[Any, ...]], Any] | None
try:
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # pragma: no cover - the hiredis extra is optional
    _hiredis_pack = None


def _pack(args: tuple[Any, ...]) -> bytes:
    if _hiredis_pack is not None:
        return bytes(_hiredis_pack(args))
    return pack(*args)


def _direct_pool(script: Any) -> Any:
    """The connection pool a caller may take a connection from, or None to go through ``script``."""
    client = getattr(script, "registered_client", None)
    if type(client) is not redis.Redis or getattr(client, "connection", None) is not None:
        return None
    pool = client.connection_pool
    if getattr(pool, "cache", None) is not None or not hasattr(pool, "ensure_connection"):
        return None
    if pool.connection_kwargs.get("protocol") not in (None, 2, "2"):
        return None
    return pool


class ScriptCaller:
    """Calls one registered ``Script`` with ``(keys, args)``; not thread-safe: one per thread."""

    def __init__(self, script: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.script = script
        self._pool = _direct_pool(script)
        self._clock = clock
        self._conn: Any = None
        self._pid = 0
        self._last_used = 0.0

    def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        if self._pool is None:
            return self.script(keys=keys, args=args)
        conn = self._connection()
        head = ("EVALSHA", self.script.sha, len(keys))
        try:
            conn.send_packed_command((_pack((*head, *keys, *args)),), check_health=False)
            try:
                reply = conn.read_response()
            except redis.exceptions.NoScriptError:  # Redis restarted or flushed its scripts: nothing ran
                source = ("EVAL", self.script.script, len(keys))
                conn.send_packed_command((_pack((*source, *keys, *args)),), check_health=False)
                reply = conn.read_response()
        except redis.ResponseError:
            self._last_used = self._clock()  # an error reply: the connection is sound
            raise
        except BaseException:
            self.close(broken=True)
            raise
        self._last_used = self._clock()
        return reply

    def _connection(self) -> Any:
        conn = self._conn
        if conn is not None and self._pid != os.getpid():
            conn = self._conn = None  # a forked child: that socket is the parent's
        if conn is None:
            conn = self._pool.get_connection()  # connects (and checks) a pooled connection
            self._conn, self._pid = conn, os.getpid()
        elif self._clock() - self._last_used >= IDLE_CHECK_SECONDS:
            try:
                self._pool.ensure_connection(conn)  # reconnects one Redis closed while it sat idle
            except BaseException:
                self.close(broken=True)
                raise
        return conn

    def close(self, broken: bool = False) -> None:
        """Hand the connection back to its pool (closed first when ``broken``: its state is unknown)."""
        conn, self._conn = self._conn, None
        if conn is None or self._pid != os.getpid():
            return
        if broken:
            conn.disconnect()
        self._pool.release(conn)
