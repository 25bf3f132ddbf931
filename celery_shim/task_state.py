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
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from work_compat import (
    Client,
    Connection,
    DecodeError,
    HistoryJob,
    HistoryStatus,
    Job,
    Keys,
    WorkerPoolHeartbeat,
    decode_job,
)
from work_compat.gojson import encode_string

from . import states
from .exceptions import TaskError, TaskRevokedError
from .keys import ShimKeys

__all__ = ["GocraftJobError", "Located", "StateLookup", "id_needles", "job_with_id"]

logger = logging.getLogger(__name__)

_SCAN_COUNT = 1000
_LIST_CHUNK = 1000


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


def id_needles(job_id: str) -> list[str]:
    """``"id":"<id>"`` as Go's encoder and as Redis's cjson (which escapes ``/``) write it."""
    go = '"id":' + encode_string(job_id)
    cjson = go.replace("/", "\\/")
    return [go] if cjson == go else [go, cjson]


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _decoded(raw: bytes) -> Job | None:
    try:
        return decode_job(raw)
    except DecodeError:
        return None


def job_with_id(raw: bytes, job_id: str) -> Job | None:
    """The job when ``raw`` decodes to one with this id (a needle can also match inside args)."""
    job = _decoded(raw)
    return job if job is not None and job.id == job_id else None


def _verdict(entry: HistoryJob | None) -> Located | None:
    if entry is not None and entry.status == HistoryStatus.SUCCESS:
        return Located(states.SUCCESS, "history", entry.job, entry.completed_at)
    if entry is not None and entry.status == HistoryStatus.DEAD:
        return Located(states.FAILURE, "history", entry.job, entry.completed_at)
    return None


class StateLookup:
    """Finds task ids in one namespace. Reads only; never changes anything."""

    def __init__(self, conn: Connection, namespace: str) -> None:
        self.conn = conn
        self.keys = Keys(namespace)
        self.shim_keys = ShimKeys(namespace)
        self.client = Client(namespace, conn)
        self._redis: Any = conn.client

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
        """Where ``job_id`` is now, in the D5 order. Queue lists are read only with ``scan_queues``
        (a queued job is PENDING either way; only ``exists()`` needs to tell it from an unknown id)."""
        entry = self.client.history_job_by_id(job_id)
        verdict = _verdict(entry)
        if verdict is not None:
            return verdict
        pools = self.client.worker_pool_heartbeats()
        running = self._observed(job_id, pools)
        if running is not None:
            return running
        received = self._in_progress(job_id, job_name, pools)
        if received is not None:
            return received
        revoked = self.revoked_at(job_id)
        if revoked is not None:
            return Located(states.REVOKED, "revoked", at=int(revoked))
        if entry is not None:  # the latest attempt asked for a retry, and it is not running now
            return Located(states.RETRY, "history", entry.job, entry.completed_at)
        for key, state, where in (
            (self.keys.retry(), states.RETRY, "retry"),
            (self.keys.dead(), states.FAILURE, "dead"),
            (self.keys.scheduled(), states.PENDING, "scheduled"),
        ):
            found = self.find_in_zset(key, job_id)
            if found is not None:
                return Located(state, where, found[1], found[0])
        if scan_queues:
            names = [job_name] if job_name else self.client.known_job_names()
            for name in names:
                job = self.find_in_list(self.keys.jobs(name), job_id)
                if job is not None:
                    return Located(states.PENDING, "queue", job)
        return Located(states.PENDING)

    def _observed(self, job_id: str, pools: list[WorkerPoolHeartbeat]) -> Located | None:
        owners = {w: hb for hb in pools for w in (hb.worker_ids or [])}
        if not owners:
            return None
        ids = sorted(owners)
        with self.conn.errors():
            pipe = self._redis.pipeline(transaction=False)
            for wid in ids:
                pipe.hmget(self.keys.worker_observation(wid), "job_id", "job_name", "started_at", "args")
            rows = pipe.execute()
        for wid, (jid, name, started, args) in zip(ids, rows):
            if jid is not None and jid.decode("utf-8", "replace") == job_id:
                job = Job(name=(name or b"").decode("utf-8", "replace"), id=job_id, enqueued_at=0)
                try:
                    at = int(started or 0)
                except ValueError:
                    at = 0
                return Located(states.STARTED, "worker", job, at, owners[wid])
        return None

    def _in_progress(self, job_id: str, job_name: str | None, pools: list[WorkerPoolHeartbeat]) -> Located | None:
        pairs = [
            (hb, name) for hb in pools for name in ([job_name] if job_name else (hb.job_names or [])) if name
        ]
        if not pairs:
            return None
        with self.conn.errors():
            pipe = self._redis.pipeline(transaction=False)
            for hb, name in pairs:
                pipe.lrange(self.keys.jobs_in_progress(name, hb.worker_pool_id), 0, -1)
            lists = pipe.execute()
        needles = [n.encode("utf-8", "surrogatepass") for n in id_needles(job_id)]
        for (hb, _name), members in zip(pairs, lists):
            for raw in members:
                if any(n in raw for n in needles):
                    job = job_with_id(raw, job_id)
                    if job is not None:
                        return Located(states.RECEIVED, "inprogress", job, pool=hb)
        return None

    def find_in_zset(self, key: str, job_id: str) -> tuple[int, Job] | None:
        """The (score, job) of the member of sorted set ``key`` with this id (ZSCAN, no blocking)."""
        for raw, score in self._zscan(key, job_id):
            job = job_with_id(raw, job_id)
            if job is not None:
                return int(score), job
        return None

    def _zscan(self, key: str, job_id: str) -> Iterator[tuple[bytes, float]]:
        for needle in id_needles(job_id):
            with self.conn.errors():
                yield from self._redis.zscan_iter(key, match=f"*{_glob_escape(needle)}*", count=_SCAN_COUNT)

    def find_in_list(self, key: str, job_id: str) -> Job | None:
        """The job with this id in list ``key``, or None."""
        for _raw, job in self.scan_list(key, [job_id]):
            return job
        return None

    def scan_list(self, key: str, job_ids: Iterable[str]) -> Iterator[tuple[bytes, Job]]:
        """Every member of list ``key`` (raw bytes and job) whose id is one of ``job_ids``, read in
        chunks since lists have no SCAN. A job pushed meanwhile shifts the list toward higher
        indexes, so a chunk may repeat members but none is skipped."""
        wanted = set(job_ids)
        needles = [n.encode("utf-8", "surrogatepass") for i in wanted for n in id_needles(i)]
        start = 0
        while True:
            with self.conn.errors():
                chunk = self._redis.lrange(key, start, start + _LIST_CHUNK - 1)
            for raw in chunk:
                if any(n in raw for n in needles):
                    job = _decoded(raw)
                    if job is not None and job.id in wanted:
                        yield bytes(raw), job
            if len(chunk) < _LIST_CHUNK:
                return
            start += _LIST_CHUNK
