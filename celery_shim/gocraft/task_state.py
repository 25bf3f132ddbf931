"""Where a task id is in the gocraft structures, and the Celery state that place means (spec D5).

A job is in one place at a time: its queue list, a pool's in-progress list (a worker's
observation once it runs), the ``retry``, ``dead`` or ``scheduled`` sorted set, or gone after
success; the fork's history log records each finished attempt. So without a stored result the
state still has an answer: history success = SUCCESS, dead = FAILURE, retry = RETRY (unless the
job is running again), observed = STARTED, in-progress = RECEIVED, revoked = REVOKED, retry set =
RETRY, dead set = FAILURE, scheduled or queued = PENDING, nowhere = PENDING that does not exist.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from work_compat import Client, Connection, HistoryJob, HistoryStatus, Job, Keys, WorkerPoolHeartbeat

from .. import states
from ..exceptions import TaskError, TaskRevokedError
from .job_search import find_in_list, find_in_progress, find_in_zset
from .keys import ShimKeys

__all__ = ["D5_ORDER", "GocraftJobError", "Located", "StateLookup", "history_place", "state_of"]

logger = logging.getLogger(__name__)

# The places a job id can be found, in the order that decides its Celery state (D5), with that
# state. "history:<status>" is the history log's latest attempt; the other names are the ``where``
# of a Located (and of the dashboard's sightings). A history retry ranks below a running attempt
# and the revoked set, since the job is then retried (or dropped) elsewhere.
D5_ORDER: tuple[tuple[str, str], ...] = (
    ("history:success", states.SUCCESS),
    ("history:dead", states.FAILURE),
    ("worker", states.STARTED),
    ("inprogress", states.RECEIVED),
    ("revoked", states.REVOKED),
    ("history:retry", states.RETRY),
    ("retry", states.RETRY),
    ("dead", states.FAILURE),
    ("scheduled", states.PENDING),
    ("queue", states.PENDING),
)
_STATE_AT = dict(D5_ORDER)


def history_place(entry: HistoryJob) -> str:
    """The D5 place of a history entry: its status (any but success or dead asked for a retry)."""
    if entry.status in (HistoryStatus.SUCCESS, HistoryStatus.DEAD):
        return "history:" + entry.status
    return "history:" + HistoryStatus.RETRY


def state_of(places: Collection[str]) -> str:
    """The state of a job seen in all of ``places`` at once: the first of them in D5_ORDER."""
    for place, state in D5_ORDER:
        if place in places:
            return state
    return states.PENDING


class GocraftJobError(TaskError):
    """A job failed in gocraft terms (a Go worker, or no stored result): ``str()`` is its ``err``."""


@dataclass(frozen=True)
class Located:
    """Where a job id was found: ``where`` is history, worker, inprogress, revoked, retry, dead,
    scheduled, queue, or "" (nowhere); ``at`` the relevant epoch (completed, died, retry or run at)."""

    state: str
    where: str = ""
    job: Job | None = None
    at: int = 0
    pool: WorkerPoolHeartbeat | None = None

    @property
    def exists(self) -> bool:
        return self.where != ""

    def meta(self, task_id: str) -> dict[str, Any]:
        """A meta dict shaped like a stored result's, for AsyncResult to read the same way."""
        result: Any = None
        err = self.job.last_err if self.job is not None else ""
        if self.state in (states.FAILURE, states.RETRY):
            result = GocraftJobError(err or "job failed")
        elif self.state == states.REVOKED:
            result = TaskRevokedError("revoked")
        elif self.state == states.STARTED and self.pool is not None:
            result = {"pid": self.pool.pid, "hostname": self.pool.host}
        done = None
        if self.state in states.READY_STATES and self.at:
            done = dt.datetime.fromtimestamp(self.at, dt.timezone.utc).isoformat()
        return {
            "status": self.state,
            "result": result,
            "traceback": None,
            "children": None,
            "date_done": done,
            "task_id": task_id,
            "name": self.job.name if self.job is not None else None,
            "retries": self.job.fails if self.job is not None else None,
            "worker": self.pool.host if self.pool is not None else None,
            "where": self.where,
        }


def _verdict(entry: HistoryJob | None) -> Located | None:
    if entry is None:
        return None
    place = history_place(entry)
    state = _STATE_AT[place]
    return Located(state, "history", entry.job, entry.completed_at) if state in states.READY_STATES else None


Found = tuple[Job | None, int, WorkerPoolHeartbeat | None]  # the job, the place's epoch, the pool


class StateLookup:
    """Finds task ids in one namespace. Reads only; never changes anything."""

    def __init__(self, conn: Connection, namespace: str) -> None:
        self.conn = conn
        self.keys = Keys(namespace)
        self.shim_keys = ShimKeys(namespace)
        self.client = Client(namespace, conn)
        self._redis: Any = conn.client
        self._zsets = {"retry": self.keys.retry(), "dead": self.keys.dead(), "scheduled": self.keys.scheduled()}

    # -- the cheap checks (a few O(1) commands) ---------------------------------------------------
    def finished(self, job_id: str) -> Located | None:
        """The history log's verdict on a finished job (success or dead), else None."""
        return _verdict(self.client.history_job_by_id(job_id))

    def revoked_at(self, job_id: str) -> float | None:
        with self.conn.errors():
            score = self._redis.zscore(self.shim_keys.revoked(), job_id)
        return None if score is None else float(score)

    # -- the whole search -------------------------------------------------------------------------
    def locate(self, job_id: str, job_name: str | None = None, *, scan_queues: bool = False) -> Located:
        """Where ``job_id`` is now: the first D5 place that has it, each read only when the ones
        before it did not. Queue lists are read only with ``scan_queues`` (a queued job is PENDING
        either way; only ``exists()`` needs to tell it from an unknown id)."""
        entry = self.client.history_job_by_id(job_id)
        heartbeats = functools.cache(self.client.worker_pool_heartbeats)  # read once, when first needed
        for place, state in D5_ORDER:
            found = self._probe(place, job_id, job_name, entry, heartbeats, scan_queues)
            if found is not None:
                job, at, pool = found
                return Located(state, place.partition(":")[0], job, at, pool)
        return Located(states.PENDING)

    def _probe(
        self,
        place: str,
        job_id: str,
        job_name: str | None,
        entry: HistoryJob | None,
        pools: Callable[[], list[WorkerPoolHeartbeat]],
        scan_queues: bool,
    ) -> Found | None:
        """Whether ``job_id`` is at D5 place ``place``, and what that place says about it."""
        if place.startswith("history:"):
            if entry is not None and history_place(entry) == place:
                return entry.job, entry.completed_at, None
            return None
        if place == "worker":
            return self._observed(job_id, pools())
        if place == "inprogress":
            held = find_in_progress(self.conn, self.keys, job_id, pools(), job_name)
            return (held[0][1], 0, held[0][0]) if held else None
        if place == "revoked":
            revoked = self.revoked_at(job_id)
            return None if revoked is None else (None, int(revoked), None)
        if place in self._zsets:
            hits = find_in_zset(self.conn, self._zsets[place], job_id)
            return (hits[0][1], hits[0][0], None) if hits else None
        if place == "queue" and scan_queues:
            for name in [job_name] if job_name else self.client.known_job_names():
                job = find_in_list(self.conn, self.keys.jobs(name), job_id)
                if job is not None:
                    return job, 0, None
        return None

    def _observed(self, job_id: str, pools: list[WorkerPoolHeartbeat]) -> Found | None:
        owners = {w: hb for hb in pools for w in (hb.worker_ids or [])}
        if not owners:
            return None
        ids = sorted(owners)
        with self.conn.errors():
            pipe = self._redis.pipeline(transaction=False)
            for wid in ids:
                pipe.hmget(self.keys.worker_observation(wid), "job_id", "job_name", "started_at", "args")
            rows = pipe.execute()
        for wid, (jid, name, started, _args) in zip(ids, rows):
            if jid is not None and jid.decode("utf-8", "replace") == job_id:
                job = Job(name=(name or b"").decode("utf-8", "replace"), id=job_id, enqueued_at=0)
                try:
                    at = int(started or 0)
                except ValueError:
                    at = 0
                return job, at, owners[wid]
        return None
