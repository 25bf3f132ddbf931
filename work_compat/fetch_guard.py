"""A job name whose queue keys hold the wrong Redis type is left out of fetching, not the pool.

A string at ``jobs:<name>`` (or a hash at its lock, in-progress list, ...) makes Redis refuse the
whole ``work_step`` call, so before this every job name of the pool stopped with it. Nothing is
checked while fetches succeed; after a failed fetch the guard asks Redis for the TYPE of each key
the fetch named, leaves out the names with a key of the wrong type (logged once and listed in
``warnings()``, as ``badkeys`` does elsewhere), and checks them again every ``recheck`` seconds,
so a name resumes once its key is fixed (``PoolSettings.bad_key_recheck``, 15 s).

Completions that ``work_step`` could not write (a fate key of the wrong type: the job is still in
progress) are parked here and sent again at the same pace, never dropped silently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .badkeys import BadKeys
from .keys import Keys

if TYPE_CHECKING:
    from .processor import Completion

__all__ = ["FETCH_KEY_TYPES", "FetchGuard"]

logger = logging.getLogger(__name__)

# The Redis type each key of one fetch group must have (or not exist), in work_step's order.
FETCH_KEY_TYPES = ("list", "list", "string", "string", "hash", "string")


def _text(v: bytes | str) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


class FetchGuard:
    """The job names a pool (or a process pool's child) leaves out of fetching, and the
    completions it sends again later. Thread-safe; every worker of a host shares one."""

    def __init__(
        self,
        redis_client: Any,
        keys: Keys,
        pool_id: str,
        *,
        recheck: float,
        monotonic: Callable[[], float] = time.monotonic,
        on_report: Callable[[str, str, str, str | None], None] | None = None,
    ) -> None:
        self._redis = redis_client
        self._keys = keys
        self._pool_id = pool_id
        self.recheck = recheck
        self._monotonic = monotonic
        self.bad_keys = BadKeys(monotonic=monotonic)
        self._lock = threading.Lock()
        self._excluded: dict[str, float] = {}  # job name -> when to check its keys again
        self._parked: list[tuple[float, Completion]] = []
        self._on_report = on_report
        self._types: dict[str, tuple[str, float]] = {}  # key -> (type, when asked), for write_failed

    def _report(self, key: str, expected: str, what: str, found: str) -> None:
        self.bad_keys.report(key, expected, what, found=found)
        if self._on_report is not None:
            self._on_report(key, expected, what, found)

    # -- fetching ---------------------------------------------------------------------------------
    def active(self) -> bool:
        """True while some name is left out (only then does a fetch ask ``keep``)."""
        return bool(self._excluded)

    def keep(self, name: str) -> bool:
        """False for a name left out whose next check is not due; a due check runs here."""
        due = self._excluded.get(name)
        if due is None:
            return True
        if self._monotonic() < due:
            return False
        with self._lock:
            if self._excluded.get(name) != due:  # another worker is checking it, or did
                return name not in self._excluded
            self._excluded[name] = self._monotonic() + self.recheck
        if self._bad_names([name]):
            return False
        with self._lock:
            self._excluded.pop(name, None)
        logger.warning("job %r: its keys have the right types again; fetching it resumes", name)
        return True

    def fetch_failed(self, names: Sequence[str], error: str) -> bool:
        """A fetch of ``names`` failed with ``error``: leave out the names with a key of the wrong
        type. True if any was left out (the next fetch can go at once)."""
        bad = self._bad_names(names) if error.startswith("WRONGTYPE") else []
        if not bad:
            logger.error("work step: the fetch failed: %s", error)
            return False
        due = self._monotonic() + self.recheck
        with self._lock:
            for name in bad:
                self._excluded[name] = due
        return True

    def group_keys(self, name: str) -> list[str]:
        """The six keys work_step reads for one job name, in its order (see FETCH_KEY_TYPES)."""
        k = self._keys
        return [
            k.jobs(name),
            k.jobs_in_progress(name, self._pool_id),
            k.jobs_paused(name),
            k.jobs_lock(name),
            k.jobs_lock_info(name),
            k.jobs_max_concurrency(name),
        ]

    def in_progress(self, name: str) -> list[bytes]:
        """This pool's in-progress list of ``name`` (for the repairs after a lost reply or a dead
        child); empty, and reported, if that key is not a list, so the other names are repaired."""
        key = self._keys.jobs_in_progress(name, self._pool_id)
        jobs: list[bytes] = self.bad_keys.guard(
            key, "list", "the in-progress repair", [], lambda: self._redis.lrange(key, 0, -1)
        )
        return jobs

    def _bad_names(self, names: Sequence[str]) -> list[str]:
        """The names with a key of the wrong type, each such key reported (one round trip)."""
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            for key in self.group_keys(name):
                pipe.type(key)
        found = iter(pipe.execute())
        bad = []
        for name in names:
            wrong = False
            for key, expected in zip(self.group_keys(name), FETCH_KEY_TYPES):
                kind = _text(next(found))
                if kind not in ("none", expected):
                    wrong = True
                    what = f"the fetch of job {name!r} (checked again every {self.recheck:g}s)"
                    self._report(key, expected, what, kind)
            if wrong:
                bad.append(name)
        return bad

    # -- completions that could not be written ----------------------------------------------------
    def write_failed(self, completion: Completion, key: str, error: str, kept: bool, stopping: bool) -> bool:
        """Report a completion write that ``work_step`` refused. ``kept``: the job is still in
        progress and the completion is parked to be sent again (True is returned), unless the pool
        is stopping, when it is logged as left in progress."""
        if error.startswith("WRONGTYPE"):
            expected = _expected_type(self._keys, completion, key)
            self._report(key, expected, "a job completion", self._type_of(key))
        else:
            logger.error("job completion: a write to %s failed: %s", key, error)
        job = completion.fetched
        if not kept:
            return False
        if stopping:
            logger.error(
                "job in %s: its completion (%s) could not be written (%s); it stays in progress",
                job.inprogress_key,
                completion.kind,
                error,
            )
            return False
        with self._lock:
            self._parked.append((self._monotonic() + self.recheck, completion))
        return True

    def take_due(self, everything: bool = False) -> list[Completion]:
        """Parked completions whose time to be sent again has come (``everything``: all)."""
        if not self._parked:
            return []
        now = self._monotonic()
        with self._lock:
            due = [c for at, c in self._parked if everything or at <= now]
            self._parked = [(at, c) for at, c in self._parked if not (everything or at <= now)]
        return due

    def _type_of(self, key: str) -> str:
        """The key's type, asked at most once per ``recheck`` seconds (a bad history key would
        otherwise cost a round trip per completion)."""
        now = self._monotonic()
        known = self._types.get(key)
        if known is not None and now - known[1] < self.recheck:
            return known[0]
        try:
            kind = _text(self._redis.type(key))
        except Exception:  # only for the report
            kind = "unknown"
        self._types[key] = (kind, now)
        return kind


def _expected_type(keys: Keys, completion: Completion, key: str) -> str:
    """The type a completion writes at ``key``: lock counter, lock_info, history index, sorted
    sets (retry, dead, history), or a list (in progress, or the queue of a job handed back)."""
    name = completion.fetched.queue_name
    if key == keys.jobs_lock(name):
        return "string"
    if key in (keys.jobs_lock_info(name), keys.history_index()):
        return "hash"
    if key in (completion.fetched.inprogress_key, completion.fetched.queue_key):
        return "list"
    return "sorted set"
