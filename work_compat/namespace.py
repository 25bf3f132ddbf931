"""What every namespace-bound object shares: the namespace's keys, a connection, scripts, a clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis

from .clock import SYSTEM_CLOCK, Clock
from .connection import Connection, RedisTarget, connect
from .direct_push import Sender, Unanswered, pack
from .errors import OutcomeUnknownError
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
        self._sender_made = False
        self._sender_value: Sender | None = None

    @property
    def _sender(self) -> Sender | None:
        """Sends writes at most once (see ``direct_push``); None for clients it does not suit."""
        if not self._sender_made:
            self._sender_value = Sender.for_client(self._redis)
            self._sender_made = True
        return self._sender_value

    def _send_once(
        self, sender: Sender, commands: Sequence[bytes], action: str, check: str, job_ids: tuple[str, ...] = ()
    ) -> list[Any]:
        """Send packed ``commands`` once and return their replies; an error reply is raised.

        RedisUnavailableError when nothing could be sent; OutcomeUnknownError, saying ``action``
        and ``check``, when they were sent and the replies did not come.
        """
        try:
            with self._conn.errors():
                replies = sender.call(commands, self.keys.prefix)
        except Unanswered as err:
            raise OutcomeUnknownError(action, check, err.cause, job_ids) from err.cause
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    def _script_once(
        self,
        script: Any,
        keys: Sequence[str],
        args: Sequence[Any],
        action: str,
        check: str,
        job_ids: tuple[str, ...] = (),
    ) -> Any:
        """Run a registered script once (EVALSHA; EVAL after a NOSCRIPT, which ran nothing) and
        return its reply; through redis-py when there is no Sender (fakeredis)."""
        sender = self._sender
        if sender is None:
            with self._conn.errors():
                return script(keys=list(keys), args=list(args))
        tail = (len(keys), *keys, *args)
        try:
            return self._send_once(sender, [pack("EVALSHA", script.sha, *tail)], action, check, job_ids)[0]
        except redis.exceptions.NoScriptError:
            return self._send_once(sender, [pack("EVAL", script.script, *tail)], action, check, job_ids)[0]

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
        """Close the connection this object made from a URL (after giving back held ones)."""
        if self._sender_value is not None:
            self._sender_value.close()
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
