"""Keys of a namespace that hold the wrong Redis type, skipped and reported instead of failing.

A string where a heartbeat hash belongs (a stray ``SET``, a tool writing the wrong key) makes every
command on that key fail with ``WRONGTYPE``. Go's client and reaper then fail whole calls; the
Client, the reaper and the dashboard here skip that key, log it once, and list it in
``BadKeys.warnings()`` (the dashboard shows them as a banner and in its JSON's ``warnings``), so the
rest of the namespace is still read and recovered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

__all__ = ["BadKeys", "is_wrong_type"]

logger = logging.getLogger(__name__)

WARNING_TTL = 300.0  # a warning is shown this long after the key was last found bad


def is_wrong_type(err: BaseException) -> bool:
    """True for Redis's ``WRONGTYPE`` error reply."""
    return isinstance(err, redis.ResponseError) and str(err).startswith("WRONGTYPE")


class BadKeys:
    """The wrong-type keys one object (a Client, a reaper) met; each is logged once."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[str, float]] = {}
        self._logged: set[str] = set()
        self._monotonic = monotonic

    def report(self, key: str, expected: str, what: str, *, found: str | None = None) -> None:
        """Note that ``key`` is not a ``expected`` (hash, set, ...) and so ``what`` skipped it;
        ``found``: the type it has, when known."""
        kind = f"is a {found}, not a {expected}" if found else f"is not a {expected}"
        text = f"key {key!r} {kind}: {what} skipped it (delete or fix the key)"
        with self._lock:
            self._seen[key] = (text, self._monotonic())
            first = key not in self._logged
            self._logged.add(key)
        if first:
            logger.warning("%s", text)

    def warnings(self) -> list[str]:
        """What was skipped in the last WARNING_TTL seconds, one line per key, sorted by key."""
        now = self._monotonic()
        with self._lock:
            return [text for _, (text, at) in sorted(self._seen.items()) if now - at < WARNING_TTL]

    def guard(self, key: str, expected: str, what: str, default: Any, call: Callable[[], Any]) -> Any:
        """``call()``, or ``default`` after reporting ``key`` when Redis answers WRONGTYPE."""
        try:
            return call()
        except redis.ResponseError as err:
            if not is_wrong_type(err):
                raise
            self.report(key, expected, what)
            return default

    def pipeline_results(self, pipe: Any, keys: Sequence[str], expected: str, what: str) -> list[Any]:
        """Execute ``pipe`` (one command per key of ``keys``); a key of the wrong type is reported
        and gives None in its place. Any other error is raised."""
        out = []
        for key, value in zip(keys, pipe.execute(raise_on_error=False)):
            if isinstance(value, Exception):
                if not is_wrong_type(value):
                    raise value
                self.report(key, expected, what)
                value = None
            out.append(value)
        return out
