"""The worker's copy of the revoked set (D17), so checking a fetched job costs no Redis round trip.

``<ns>:celery:revoked`` stays the source of truth (``app.control.revoke`` and the dashboard write it,
``inspect().revoked()`` reads it). A worker loads it before its pool fetches anything, adds the ids
of every ``revoke`` control message the moment its listener receives one, and re-reads the set every
``refresh`` seconds (``WorkController(revoked_refresh=...)``, 1 s by default) for ids that came by
another way (a missed message while the listener reconnected, a tool that only writes the set).

So a revoke is honoured by a running worker as soon as its control message arrives, and at the
latest ``refresh`` seconds after it was written to the set (plus one Redis round trip). A re-read
first compares the set's size and its oldest and newest members with the last read, and reads the
whole set only when they changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from work_compat import Connection
from work_compat.loop import BackgroundLoop

from ..app.revoke import REVOKE_EXPIRES

__all__ = ["RevokedIds", "RevokedRefresher"]

logger = logging.getLogger(__name__)

Fingerprint = tuple[int, tuple[Any, ...], tuple[Any, ...]]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _fingerprint(card: int, first: Any, last: Any) -> Fingerprint:
    """What tells one read of the set from the next: any id added changes the size, or (when a trim
    removed one) the oldest member; a newer revoke changes the newest."""
    return card, tuple(tuple(m) for m in first), tuple(tuple(m) for m in last)


class RevokedIds:
    """Revoked ids known to this worker: the last read of the set plus those heard on the channel.

    ``in`` is a plain set lookup (thread-safe: the set object is only ever replaced, never changed
    in place while a reader may iterate). Ids heard on the channel but not yet seen in the set are
    kept ``expires`` seconds (Celery's revoke expiry), as the set itself would keep them.
    """

    def __init__(self, conn: Connection, key: str, *, expires: float = REVOKE_EXPIRES) -> None:
        self.conn = conn
        self.key = key
        self.expires = expires
        self._lock = threading.Lock()
        self._ids: frozenset[str] = frozenset()
        self._stored: frozenset[str] = frozenset()  # the last read of the Redis set
        self._heard: dict[str, float] = {}  # from control messages, not (yet) in the last read
        self._fingerprint: Fingerprint | None = None
        self.loaded = False

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: Iterable[str]) -> None:
        """Ids from a ``revoke`` control message: honoured from now on."""
        now = time.monotonic()
        with self._lock:
            for task_id in ids:
                if task_id not in self._stored:
                    self._heard[task_id] = now
            self._ids = self._stored | self._heard.keys()

    def refresh(self) -> bool:
        """Re-read the set when its size, oldest or newest member changed; True if it was read.
        Raises redis errors (the caller's loop logs them and tries again next period)."""
        client = self.conn.client
        with self.conn.errors():
            if self._fingerprint is not None:
                pipe = client.pipeline(transaction=True)
                pipe.zcard(self.key)
                pipe.zrange(self.key, 0, 0, withscores=True)
                pipe.zrange(self.key, -1, -1, withscores=True)
                card, first, last = pipe.execute()
                if _fingerprint(int(card), first, last) == self._fingerprint:
                    self._expire_heard()
                    return False
            members = client.zrange(self.key, 0, -1, withscores=True)
        stored = frozenset(_text(m) for m, _score in members)
        fingerprint = _fingerprint(len(members), members[:1], members[-1:])
        with self._lock:
            self._stored = stored
            self._fingerprint = fingerprint
            for task_id in stored & self._heard.keys():
                del self._heard[task_id]
            self._expire_heard_locked()
            self._ids = stored | self._heard.keys()
            self.loaded = True
        return True

    def _expire_heard(self) -> None:
        if self._heard:
            with self._lock:
                self._expire_heard_locked()
                self._ids = self._stored | self._heard.keys()

    def _expire_heard_locked(self) -> None:
        cutoff = time.monotonic() - self.expires
        for task_id in [i for i, t in self._heard.items() if t < cutoff]:
            del self._heard[task_id]


class RevokedRefresher(BackgroundLoop):
    """Re-reads the revoked set every ``period`` seconds."""

    name = "celery-shim-revoked"

    def __init__(self, revoked: RevokedIds, period: float) -> None:
        super().__init__(period)
        self.revoked = revoked

    def tick(self) -> None:
        self.revoked.refresh()
