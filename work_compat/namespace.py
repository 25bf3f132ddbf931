"""What every namespace-bound object shares: the namespace's keys, a connection, scripts, a clock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .clock import SYSTEM_CLOCK, Clock
from .connection import Connection, RedisTarget, connect
from .keys import Keys
from .scripts import Scripts

if TYPE_CHECKING:  # typing.Self is 3.11+; only the type checker needs it
    from typing_extensions import Self

__all__ = ["NamespaceBound"]


class NamespaceBound:
    """Base of Enqueuer, Client and the worker pool: one namespace on one Redis.

    ``close()`` closes the connection only when it was made here from a URL; a client or pool you
    passed in stays open for you to close.
    """

    def __init__(self, namespace: str, redis: RedisTarget, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.namespace = namespace
        self.keys = Keys(namespace)
        self._conn: Connection = connect(redis)
        self._conn.require_namespace_fits(namespace)
        self._redis: Any = self._conn.client
        self._scripts = Scripts(self._redis)
        self._clock = clock

    @property
    def connection(self) -> Connection:
        """The connection this object uses. Another object built beside it (a dashboard store, a
        revoke done next to a Client) shares its socket pool and error mapping instead of opening
        a second connection that ``close()`` would not reach."""
        return self._conn

    @property
    def clock(self) -> Clock:
        """Where this object reads "now". An object built beside it agrees on the time, which is
        what lets tests that pass a fixed clock see one instant everywhere."""
        return self._clock

    def ping(self) -> None:
        """Check that Redis answers; RedisUnavailableError (naming the address) when it does not."""
        with self._conn.errors():
            self._redis.ping()

    def close(self) -> None:
        """Close the connection this object made from a URL."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
