"""TaskStore: where the Flower API finds a namespace's tasks, with a bounded amount of Redis work.

Flower keeps every task it has seen in memory; gocraft keeps jobs in several places at once: the
queue lists, each pool's in-progress lists (and its workers' observations), the scheduled, retry
and dead sorted sets, the fork's history log, and the shim's revoked set. A listing reads at most
``window`` entries from each place; a lookup by id reads the id's own entries where an index
exists (history, observations, the revoked set, a periodic id's score) and scans the rest up to a
``budget`` of entries, so one request never walks a million-job queue. The searches by id and the
revoke are celery_shim's (``job_search``, ``control_core``), the ones AsyncResult and
``app.control.revoke`` use.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from celery_shim.app.revoke import revoke_ids
from celery_shim.backends.redis import RedisBackend
from celery_shim.gocraft.job_search import CHUNK, ReadBudget, find_in_list, find_in_progress, find_in_zset
from celery_shim.gocraft.keys import ShimKeys
from work_compat import (
    Client,
    DecodeError,
    HistoryJob,
    Job,
    WorkerObservation,
    WorkerPoolHeartbeat,
    decode_job,
    gojson,
)
from work_compat.clock import SYSTEM_CLOCK, Clock
from work_compat.connection import RedisTarget
from work_compat.namespace import NamespaceBound

__all__ = ["LOOKUP_BUDGET", "RunTime", "Sighting", "Snapshot", "TaskStore"]

logger = logging.getLogger(__name__)

# Entries a lookup by id may read from the sets and queues, in all: each Redis call reads at most
# CHUNK of them (ZSCAN with the id as MATCH pattern filters on the server; lists come in LRANGE
# chunks), so no call blocks Redis; a million entries is well under a second of Redis time.
LOOKUP_BUDGET = 1_000_000
_HMGET_CHUNK = 500


@dataclass(frozen=True)
class Sighting:
    """One place a job was seen. ``where``: queue, inprogress, worker, scheduled, retry, dead or
    history; ``at``: the run-at, retry-at, died-at, completed-at or started-at epoch (0: none);
    ``status``: the history status; ``pool``: the pool running it."""

    where: str
    job: Job
    at: int = 0
    status: str = ""
    pool: str = ""
    checkin: str = ""


@dataclass(frozen=True)
class RunTime:
    """One finished attempt as a Python pool recorded it (work_compat's ``run_times``): its end
    (epoch s, the history entry's ``completed_at``), start (epoch ms), pool and run time (ms)."""

    ended_at: int
    started_ms: int
    runtime_ms: int
    pool: str


def _run_time(raw: bytes, score: float) -> tuple[str, RunTime] | None:
    try:
        doc = json.loads(raw)
        return str(doc["id"]), RunTime(int(score), int(doc["started_ms"]), int(doc["runtime_ms"]), str(doc["pool"]))
    except (ValueError, KeyError, TypeError):
        return None


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


@dataclass
class Snapshot:
    """What one listing or lookup read: sightings, the ids' latest history entries, revoke times."""

    sightings: list[Sighting] = field(default_factory=list)
    history: dict[str, HistoryJob] = field(default_factory=dict)
    revoked: dict[str, float] = field(default_factory=dict)
    runs: dict[str, list[RunTime]] = field(default_factory=dict)  # recorded attempts, latest first
    complete: bool = True  # False when a scan stopped at its budget
    searched: int = 0  # set and queue entries a lookup read
    unsearched: list[str] = field(default_factory=list)  # places a lookup did not read to the end

    def search_note(self) -> str:
        """What a bounded lookup could not cover, in words ("" when it read everything)."""
        if self.complete:
            return ""
        return (
            f"the search stopped after {self.searched:,} entries (its bound) before the end of "
            f"{', '.join(self.unsearched)}, so the job may be there"
        )

    def ids(self) -> list[str]:
        """Every id seen, in first-seen order."""
        return list(dict.fromkeys([s.job.id for s in self.sightings] + list(self.history) + list(self.revoked)))


def _text(v: bytes | str | None) -> str:
    if v is None:
        return ""
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def _decode(raw: bytes, where: str) -> Job | None:
    try:
        return decode_job(raw)
    except DecodeError as err:
        logger.warning("a member of %s cannot be decoded: %s", where, err.reason)
        return None


class TaskStore(NamespaceBound):
    """Reads (and, for revoke, removes) tasks in one namespace for the Flower API."""

    def __init__(self, namespace: str, redis_target: RedisTarget, *, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(namespace, redis_target, clock=clock)
        self.client = Client(namespace, self._conn, clock=clock)
        self.shim_keys = ShimKeys(namespace)
        self.lookup_budget = LOOKUP_BUDGET
        self._bad = self._conn.bad_keys  # the Client's too: the dashboard's warnings list them all

    @classmethod
    def beside(cls, client: Client) -> TaskStore:
        """A store on the Client's own connection and clock (one socket pool, one notion of now)."""
        return cls(client.namespace, client.connection, clock=client.clock)

    def now(self) -> int:
        return self._clock.now()

    # -- what runs now ----------------------------------------------------------------------------
    def running(self, pools: list[WorkerPoolHeartbeat] | None = None) -> list[Sighting]:
        """Busy workers' jobs, with the bytes from their pool's in-progress list when found there."""
        pools = self.client.worker_pool_heartbeats() if pools is None else pools
        owner = {w: hb.worker_pool_id for hb in pools for w in (hb.worker_ids or [])}
        busy = [o for o in self.client.worker_observations() if o.is_busy and o.job_id]
        pairs = sorted({(o.job_name, owner.get(o.worker_id, "")) for o in busy if o.job_name})
        jobs: dict[str, Job] = {}
        if pairs:
            with self._conn.errors():
                pipe = self._redis.pipeline(transaction=False)
                for name, pool in pairs:
                    pipe.lrange(self.keys.jobs_in_progress(name, pool), 0, CHUNK - 1)
                in_progress = [self.keys.jobs_in_progress(name, pool) for name, pool in pairs]
                lists = self._bad.pipeline_results(pipe, in_progress, "list", "the task listing")
            for members in lists:
                for raw in members or []:
                    job = _decode(raw, "an in-progress list")
                    if job is not None:
                        jobs.setdefault(job.id, job)
        return [self._running(o, jobs.get(o.job_id), owner.get(o.worker_id, "")) for o in busy]

    @staticmethod
    def _running(o: WorkerObservation, job: Job | None, pool: str) -> Sighting:
        if job is None:  # the observation alone: name, id and args, no enqueue time
            args: Any = None
            if o.args_json:
                try:
                    args = gojson.loads(o.args_json)
                except ValueError:
                    args = {"raw": o.args_json}
            job = Job(name=o.job_name, id=o.job_id, enqueued_at=0, args=args if isinstance(args, dict) else None)
        return Sighting("worker", job, o.started_at, pool=pool, checkin=o.checkin)

    # -- listings ---------------------------------------------------------------------------------
    def recent(self, window: int, job_name: str = "") -> Snapshot:
        """At most ``window`` entries from each place (newest first where there is an order), then
        the latest history entry and the revoke time of every id seen."""
        names = [job_name] if job_name else self.client.known_job_names()
        per_queue = max(1, window // max(1, len(names)))
        history_key = self.keys.history_for(job_name) if job_name and job_name != "index" else self.keys.history()
        with self._conn.errors():
            pipe = self._redis.pipeline(transaction=False)
            pipe.zrevrangebyscore(history_key, "+inf", "-inf", start=0, num=window)
            pipe.zrangebyscore(self.keys.scheduled(), "-inf", "+inf", start=0, num=window, withscores=True)
            pipe.zrangebyscore(self.keys.retry(), "-inf", "+inf", start=0, num=window, withscores=True)
            pipe.zrevrangebyscore(self.keys.dead(), "+inf", "-inf", start=0, num=window, withscores=True)
            pipe.zrevrangebyscore(self.shim_keys.revoked(), "+inf", "-inf", start=0, num=window, withscores=True)
            pipe.zrevrangebyscore(self.keys.run_times(), "+inf", "-inf", start=0, num=window, withscores=True)
            for name in names:
                pipe.lrange(self.keys.jobs(name), 0, per_queue - 1)
            read = [history_key, self.keys.scheduled(), self.keys.retry(), self.keys.dead(), self.shim_keys.revoked()]
            read += [self.keys.run_times()]
            read += [self.keys.jobs(name) for name in names]
            history, scheduled, retry, dead, revoked, runs, *queues = [
                r or [] for r in self._bad.pipeline_results(pipe, read, "sorted set or list", "the task listing")
            ]
        snap = Snapshot()
        for raw in history:
            try:
                entry = HistoryJob.from_json(raw)
            except DecodeError as err:
                logger.warning("history entry cannot be decoded: %s", err.reason)
                continue
            snap.history.setdefault(entry.job.id, entry)  # newest first: the first is the latest
        for where, members in (("scheduled", scheduled), ("retry", retry), ("dead", dead)):
            for raw, score in members:
                job = _decode(raw, where)
                if job is not None:
                    snap.sightings.append(Sighting(where, job, int(score)))
        for name, members in zip(names, queues):
            for raw in members:
                job = _decode(raw, f"queue {name}")
                if job is not None:
                    snap.sightings.append(Sighting("queue", job))
        snap.sightings.extend(self.running())
        for member, score in revoked:
            snap.revoked[_text(member)] = float(score)
        self._add_runs(snap, runs)
        self._fill_in(snap)
        return snap

    @staticmethod
    def _add_runs(snap: Snapshot, rows: Iterable[tuple[bytes, float]]) -> None:
        for raw, score in rows:
            found = _run_time(raw, score)
            if found is not None:
                snap.runs.setdefault(found[0], []).append(found[1])
        for runs in snap.runs.values():
            runs.sort(key=lambda r: r.ended_at, reverse=True)

    def run_times_of(self, task_id: str, budget: ReadBudget) -> list[tuple[bytes, float]]:
        """The ``run_times`` records of one id, found by ZSCAN with its JSON fragment as MATCH."""
        pattern = _glob_escape('{"id":' + gojson.encode_string(task_id) + ",") + "*"
        out: list[tuple[bytes, float]] = []
        cursor = 0
        with self._conn.errors():
            while not budget.spent:
                cursor, rows = self._redis.zscan(self.keys.run_times(), cursor, match=pattern, count=CHUNK)
                budget.charge(CHUNK)
                out.extend((bytes(raw), float(score)) for raw, score in rows)
                if cursor == 0:
                    break
        return out

    def _fill_in(self, snap: Snapshot) -> None:
        """The latest history entry and revoke time of each id not already known."""
        ids = [i for i in snap.ids() if i]
        snap.history.update(self.latest_history(i for i in ids if i not in snap.history))
        missing = [i for i in ids if i not in snap.revoked]
        if missing:
            with self._conn.errors():
                pipe = self._redis.pipeline(transaction=False)
                for task_id in missing:
                    pipe.zscore(self.shim_keys.revoked(), task_id)
                keys = [self.shim_keys.revoked()] * len(missing)
                scores = self._bad.pipeline_results(pipe, keys, "sorted set", "the task listing")
            snap.revoked.update({i: float(s) for i, s in zip(missing, scores) if s is not None})

    def latest_history(self, ids: Iterable[str]) -> dict[str, HistoryJob]:
        """The latest completed attempt of each id that has one (the fork's ``history:index``)."""
        wanted = list(dict.fromkeys(ids))
        out: dict[str, HistoryJob] = {}
        for start in range(0, len(wanted), _HMGET_CHUNK):
            chunk = wanted[start : start + _HMGET_CHUNK]
            index = self.keys.history_index()
            with self._conn.errors():  # a job named "index" may have taken the key (the fork's collision)
                values = self._bad.guard(
                    index, "hash", "the task listing", None, partial(self._redis.hmget, index, chunk)
                )
            if values is None:
                return out
            for task_id, raw in zip(chunk, values):
                if raw is None:
                    continue
                try:
                    out[task_id] = HistoryJob.from_json(raw)
                except DecodeError as err:
                    logger.warning("history entry of %r cannot be decoded: %s", task_id, err.reason)
        return out

    def history_counts(self, scores: Sequence[int]) -> list[int]:
        """How many history entries completed in each of these seconds (ZCOUNT each)."""
        with self._conn.errors():
            pipe = self._redis.pipeline(transaction=False)
            for score in scores:
                pipe.zcount(self.keys.history(), score, score)
            counts = self._bad.pipeline_results(pipe, [self.keys.history()] * len(scores), "sorted set", "metrics")
            return [int(n or 0) for n in counts]

    def history_between(self, low: str, high: str, offset: int, count: int) -> list[tuple[bytes, float]]:
        """History entries with ``low <= score <= high`` (Redis score syntax), oldest first, a slice."""
        key = self.keys.history()
        read = partial(self._redis.zrangebyscore, key, low, high, start=offset, num=count, withscores=True)
        with self._conn.errors():
            rows = self._bad.guard(key, "sorted set", "metrics", [], read)
        return [(bytes(raw), float(score)) for raw, score in rows]

    def paused(self, names: list[str]) -> dict[str, bool]:
        """Which of the job names are paused (their pause key exists, as the fetch script tests)."""
        if not names:
            return {}
        with self._conn.errors():
            pipe = self._redis.pipeline(transaction=False)
            for name in names:
                pipe.exists(self.keys.jobs_paused(name))
            flags = pipe.execute()
        return {name: bool(flag) for name, flag in zip(names, flags)}

    def task_types(self) -> list[str]:
        """Every job name known here: ``known_jobs`` and the names pools register (Go or Python)."""
        names = set(self.client.known_job_names())
        for pool in self.client.worker_pool_heartbeats():
            names.update(n for n in pool.job_names or [] if n)
        return sorted(names)

    # -- one task ---------------------------------------------------------------------------------
    def lookup(self, task_id: str, budget: int | None = None) -> Snapshot:
        """Every place ``task_id`` is now, reading at most ``budget`` (default ``lookup_budget``)
        set and queue entries; the snapshot says how many it read and which places it did not
        finish."""
        snap = Snapshot()
        pools = self.client.worker_pool_heartbeats()
        snap.sightings.extend(s for s in self.running(pools) if s.job.id == task_id)
        held = find_in_progress(self._conn, self.keys, task_id, pools)  # these skip wrong-type keys
        snap.sightings.extend(Sighting("inprogress", job, pool=hb.worker_pool_id) for hb, job in held)
        total = self.lookup_budget if budget is None else budget
        left = ReadBudget(total)
        zsets = (("scheduled", self.keys.scheduled()), ("retry", self.keys.retry()), ("dead", self.keys.dead()))
        for where, key in zsets:
            found = find_in_zset(self._conn, key, task_id, left) if not left.spent else []
            snap.sightings.extend(Sighting(where, job, score) for score, job in found)
            if left.spent and not found:
                snap.unsearched.append(f"the {where} set")
        for name in self.client.known_job_names():
            job = find_in_list(self._conn, self.keys.jobs(name), task_id, left) if not left.spent else None
            if job is not None:
                snap.sightings.append(Sighting("queue", job))
            elif left.spent:
                snap.unsearched.append(f"queue {name!r}")
        snap.searched = total - (left.left or 0)
        snap.complete = not snap.unsearched
        self._fill_in_one(snap, task_id)
        if task_id in snap.history:
            self._add_runs(snap, self.run_times_of(task_id, ReadBudget(self.lookup_budget)))
        return snap

    def _fill_in_one(self, snap: Snapshot, task_id: str) -> None:
        snap.history.update(self.latest_history([task_id]))
        revoked = self.shim_keys.revoked()
        with self._conn.errors():
            score = self._bad.guard(
                revoked, "sorted set", "the task lookup", None, partial(self._redis.zscore, revoked, task_id)
            )
        if score is not None:
            snap.revoked[task_id] = float(score)

    # -- revoke ---------------------------------------------------------------------------------
    def revoke(
        self, task_id: str, *, terminate: bool = False, signal: str = "SIGTERM", backend: RedisBackend | None = None
    ) -> tuple[list[str], bool]:
        """Celery's revoke over gocraft (spec D17), as celery_shim's ``app.control.revoke`` does it
        (``control_core.revoke_ids``), reading at most ``lookup_budget`` entries to find the job; a
        job removed gets a REVOKED result in ``backend``. Returns where it was removed from, and
        False when the search stopped at its bound (the job may still be queued)."""
        budget = ReadBudget(self.lookup_budget)
        removed = revoke_ids(
            self.client,
            [task_id],
            float(self.now()),
            terminate=terminate,
            signal=signal,
            backend=backend,
            budget=budget,
        )
        return [r.where for r in removed], not budget.spent
