"""Client: read and administer a namespace, as the fork's ``work.Client`` does (protocol §6).

Reads return what Go's client returns; writes leave what Go's client leaves. Where Go's client
fails a whole call on one bad entry (a malformed heartbeat field, an undecodable job, a key of the
wrong Redis type), this one logs the entry and goes on, so a dashboard built on it keeps working;
``warnings()`` lists the wrong-type keys it skipped (see ``badkeys``). Where §8 lists a Go defect,
this client does the right thing and says so in the method's docstring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import Any, TypeVar

import redis

from .badkeys import BadKeys
from .client_types import PeriodicSchedule, Queue, RedisStats, WorkerObservation, WorkerPoolHeartbeat
from .clock import SYSTEM_CLOCK, Clock
from .connection import RedisTarget
from .cron import ConstantDelaySchedule, CronSpecError, local_zone
from .errors import (
    DecodeError,
    InvalidJobNameError,
    NotDeletedError,
    NotRetriedError,
    ScheduleNotFoundError,
    WorkCompatError,
)
from .job import DeadJob, HistoryJob, Job, RetryJob, ScheduledJob, decode_job
from .namespace import NamespaceBound
from .periodic import REMOVAL_WINDOW, PeriodicJob, schedule_job

__all__ = ["PAGE_SIZE", "Client"]

logger = logging.getLogger(__name__)

PAGE_SIZE = 20
DEAD_REQUEUE_BATCH = 1000
DEAD_REQUEUE_MAX_BATCHES = 1000

T = TypeVar("T")


def _text(v: bytes | str | None) -> str:
    if v is None:
        return ""
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def _page_offset(page: int) -> int:
    if page < 0:
        raise ValueError(f"page must be 1 or more, got {page}")
    return (max(page, 1) - 1) * PAGE_SIZE


def _undecodable(raw: bytes, err: DecodeError) -> Job:
    """A stand-in for a member nobody can decode, so listings show it instead of failing."""
    return Job(name="", id="", enqueued_at=0, args={"raw": _text(raw)}, last_err=err.reason)


class Client(NamespaceBound):
    """Read and manage one namespace: queues, pools, workers, scheduled/retry/dead, history, schedules.

    ``zone`` is the zone the pools evaluate unprefixed cron specs in (None: the process local zone,
    as theirs); the client needs it only to find a runtime schedule's instances when it disables,
    deletes or replaces one.
    """

    def __init__(
        self, namespace: str, redis: RedisTarget, *, clock: Clock = SYSTEM_CLOCK, zone: tzinfo | None = None
    ) -> None:
        super().__init__(namespace, redis, clock=clock)
        self._zone = zone
        self.bad_keys: BadKeys = self._conn.bad_keys  # shared with stores built on this connection

    def warnings(self) -> list[str]:
        """Keys of the wrong Redis type that reads skipped in the last minutes, one line each."""
        return self.bad_keys.warnings()

    def _items(self, pipe: Any, keys: Sequence[str], expected: str, what: str) -> list[Any]:
        return self.bad_keys.pipeline_results(pipe, keys, expected, what)

    # -- pools and workers -----------------------------------------------------------------------
    def worker_pool_heartbeats(self) -> list[WorkerPoolHeartbeat]:
        """Every pool in ``worker_pools``, sorted by id; a pool whose hash is gone has only its id."""
        key = self.keys.worker_pools()
        with self._conn.errors():
            members = self.bad_keys.guard(key, "set", "the pool listing", set(), lambda: self._redis.smembers(key))
            ids = sorted(_text(x) for x in members)
            pipe = self._redis.pipeline(transaction=False)
            for pool_id in ids:
                pipe.hgetall(self.keys.heartbeat(pool_id))
            keys = [self.keys.heartbeat(i) for i in ids]
            hashes = self._items(pipe, keys, "hash", "the pool listing") if ids else []
        return [self._heartbeat(pool_id, h) for pool_id, h in zip(ids, hashes) if h is not None]

    def _heartbeat(self, pool_id: str, h: dict[bytes, bytes]) -> WorkerPoolHeartbeat:
        f = {_text(k): _text(v) for k, v in h.items()}
        names = sorted(f["job_names"].split(",")) if "job_names" in f else None
        workers = sorted(f["worker_ids"].split(",")) if "worker_ids" in f else None
        return WorkerPoolHeartbeat(
            worker_pool_id=pool_id,
            started_at=self._int(f, "started_at", pool_id),
            heartbeat_at=self._int(f, "heartbeat_at", pool_id),
            job_names=names,
            concurrency=self._int(f, "concurrency", pool_id),
            host=f.get("host", ""),
            pid=self._int(f, "pid", pool_id),
            worker_ids=workers,
        )

    @staticmethod
    def _int(fields: dict[str, str], name: str, owner: str) -> int:
        value = fields.get(name)
        if value is None or value == "":
            return 0
        try:
            return int(value)
        except ValueError:
            # Go's client fails the whole listing here; one bad pool should not hide the others.
            logger.warning("field %s of %s is not an integer: %r", name, owner, value)
            return 0

    def worker_observations(self) -> list[WorkerObservation]:
        """What every worker of every live pool is doing (pools in id order, workers sorted)."""
        worker_ids = [w for hb in self.worker_pool_heartbeats() for w in (hb.worker_ids or [])]
        if not worker_ids:
            return []
        with self._conn.errors():
            pipe = self._redis.pipeline(transaction=False)
            for wid in worker_ids:
                pipe.hgetall(self.keys.worker_observation(wid))
            keys = [self.keys.worker_observation(w) for w in worker_ids]
            hashes = self._items(pipe, keys, "hash", "the worker listing")
        out = []
        for wid, h in zip(worker_ids, hashes):
            if h is None:
                continue
            f = {_text(k): _text(v) for k, v in h.items()}
            out.append(
                WorkerObservation(
                    worker_id=wid,
                    is_busy=bool(f),
                    job_name=f.get("job_name", ""),
                    job_id=f.get("job_id", ""),
                    started_at=self._int(f, "started_at", wid),
                    args_json=f.get("args", ""),
                    checkin=f.get("checkin", ""),
                    checkin_at=self._int(f, "checkin_at", wid),
                )
            )
        return out

    # -- queues -----------------------------------------------------------------------------------
    def known_job_names(self) -> list[str]:
        """Every name in ``known_jobs``, sorted."""
        key = self.keys.known_jobs()
        with self._conn.errors():
            members = self.bad_keys.guard(key, "set", "the job name listing", set(), lambda: self._redis.smembers(key))
        return sorted(_text(x) for x in members)

    def queues(self) -> list[Queue]:
        """Every known job name with its queue length and latency (now minus the oldest job's t)."""
        names = self.known_job_names()
        if not names:
            return []
        with self._conn.errors():
            pipe = self._redis.pipeline(transaction=False)
            for name in names:
                pipe.llen(self.keys.jobs(name))
            listed = self._items(pipe, [self.keys.jobs(n) for n in names], "list", "the queue listing")
            names, counts = [n for n, c in zip(names, listed) if c is not None], [c for c in listed if c is not None]
            busy = [n for n, c in zip(names, counts) if c > 0]
            oldest: dict[str, Any] = {}
            if busy:
                pipe = self._redis.pipeline(transaction=False)
                for name in busy:
                    pipe.lindex(self.keys.jobs(name), -1)
                oldest = dict(zip(busy, pipe.execute()))
        now = self._clock.now()
        out = []
        for name, count in zip(names, counts):
            latency = 0
            raw = oldest.get(name)
            if raw is not None:
                try:
                    latency = now - decode_job(raw).enqueued_at
                except DecodeError as err:
                    logger.warning("oldest job of queue %s cannot be decoded: %s", name, err.reason)
            out.append(Queue(job_name=name, count=int(count), latency=latency))
        return out

    def pause(self, job_name: str) -> None:
        """Stop every pool, Go's or ours, from fetching ``job_name`` (sets ``jobs:N:paused``)."""
        with self._conn.errors():
            self._redis.set(self.keys.jobs_paused(job_name), "1")

    def unpause(self, job_name: str) -> None:
        """Let pools fetch ``job_name`` again."""
        with self._conn.errors():
            self._redis.delete(self.keys.jobs_paused(job_name))

    def is_paused(self, job_name: str) -> bool:
        """True when the pause key exists: any value pauses, as the fetch script tests existence."""
        with self._conn.errors():
            return bool(self._redis.exists(self.keys.jobs_paused(job_name)))

    def set_max_concurrency(self, job_name: str, limit: int) -> None:
        """Cap in-flight ``job_name`` jobs over all pools (0 = no cap).

        Every pool writes its own setting when it starts, so the next pool start overrides this.
        """
        if limit < 0:
            raise ValueError("max concurrency must be 0 (no cap) or more")
        with self._conn.errors():
            self._redis.set(self.keys.jobs_max_concurrency(job_name), str(int(limit)))

    def max_concurrency(self, job_name: str) -> int:
        """The cap now in force for ``job_name`` (0 = none)."""
        key = self.keys.jobs_max_concurrency(job_name)
        with self._conn.errors():
            raw = self.bad_keys.guard(key, "string", "max_concurrency", None, lambda: self._redis.get(key))
        try:
            return int(raw) if raw is not None else 0
        except ValueError:
            return 0

    # -- scheduled, retry and dead ------------------------------------------------------------------
    def _zset_page(self, key: str, page: int, make: Callable[[int, Job], T]) -> tuple[list[T], int]:
        offset = _page_offset(page)
        with self._conn.errors():
            pipe = self._redis.pipeline(transaction=False)
            pipe.zrangebyscore(key, "-inf", "+inf", start=offset, num=PAGE_SIZE, withscores=True)
            pipe.zcard(key)
            members, total = self._items(pipe, [key, key], "sorted set", "the job listing")
        if members is None or total is None:
            return [], 0
        items = []
        for raw, score in members:
            try:
                job = decode_job(raw)
            except DecodeError as err:
                logger.warning("member of %s cannot be decoded: %s", key, err.reason)
                job = _undecodable(raw, err)
            items.append(make(int(score), job))
        return items, int(total)

    def scheduled_jobs(self, page: int = 1) -> tuple[list[ScheduledJob], int]:
        """A page of 20 scheduled jobs, earliest first, and the total."""
        return self._zset_page(self.keys.scheduled(), page, lambda s, j: ScheduledJob(s, j))

    def retry_jobs(self, page: int = 1) -> tuple[list[RetryJob], int]:
        """A page of 20 jobs waiting to retry, earliest first, and the total."""
        return self._zset_page(self.keys.retry(), page, lambda s, j: RetryJob(s, j))

    def dead_jobs(self, page: int = 1) -> tuple[list[DeadJob], int]:
        """A page of 20 dead jobs, oldest death first, and the total."""
        return self._zset_page(self.keys.dead(), page, lambda s, j: DeadJob(s, j))

    def scheduled_count(self) -> int:
        """How many jobs ``scheduled`` holds (the total of ``scheduled_jobs``, without a page)."""
        return self._zcard(self.keys.scheduled())

    def retry_count(self) -> int:
        """How many jobs wait to retry."""
        return self._zcard(self.keys.retry())

    def dead_count(self) -> int:
        """How many jobs are dead."""
        return self._zcard(self.keys.dead())

    def _zcard(self, key: str) -> int:
        with self._conn.errors():
            return int(self.bad_keys.guard(key, "sorted set", "a count", 0, lambda: self._redis.zcard(key)))

    def _delete_single(self, key: str, score: int, job_id: str) -> bytes:
        count, member = self._script_once(
            self._scripts.delete_single,
            [key],
            [int(score), job_id],
            f"the delete of job {job_id} from {key}",
            f"see whether job {job_id} is still in {key}",
        )
        if int(count) == 0:
            raise NotDeletedError()
        return bytes(member)

    def delete_dead_job(self, died_at: int, job_id: str) -> None:
        """Remove one dead job; NotDeletedError when none has that score and id."""
        self._delete_single(self.keys.dead(), died_at, job_id)

    def delete_retry_job(self, retry_at: int, job_id: str) -> None:
        """Remove one job waiting to retry; NotDeletedError when none matches."""
        self._delete_single(self.keys.retry(), retry_at, job_id)

    def delete_scheduled_job(self, run_at: int, job_id: str) -> None:
        """Remove one scheduled job and release its unique lock; NotDeletedError when none matches.

        Go's client recomputes the lock key from the args, which is the wrong key for jobs made
        unique by a key map; this one deletes the key the job names in ``unique_key``.
        """
        member = self._delete_single(self.keys.scheduled(), run_at, job_id)
        try:
            job = decode_job(member)
        except DecodeError:
            return
        if job.unique:
            key = job.unique_key or self.keys.unique(job.name, job.args)
            with self._conn.errors():
                self._redis.delete(key)

    def _dead_requeue_keys(self) -> list[str]:
        return [self.keys.dead()] + [self.keys.jobs(n) for n in self.known_job_names()]

    def retry_dead_job(self, died_at: int, job_id: str) -> None:
        """Put one dead job back on its queue with a fresh set of attempts.

        NotRetriedError when no job matched, or its name is not in ``known_jobs`` (it then goes
        back to dead 5 s ahead with ``err`` "unknown job when requeueing", as in Go).
        """
        keys = self._dead_requeue_keys()
        n = self._script_once(
            self._scripts.requeue_dead,
            keys,
            [self.keys.jobs_prefix(), self._clock.now(), int(died_at), job_id],
            f"the retry of dead job {job_id}",
            f"see whether job {job_id} is still in {self.keys.dead()} or back in its queue",
        )
        if int(n) == 0:
            raise NotRetriedError()

    def retry_all_dead_jobs(self) -> int:
        """Requeue every dead job due by now, in batches of 1000; returns how many were requeued."""
        keys = self._dead_requeue_keys()
        now = self._clock.now()
        total = 0
        for _ in range(DEAD_REQUEUE_MAX_BATCHES):
            args = [self.keys.jobs_prefix(), now, DEAD_REQUEUE_BATCH]
            check = f"{total} were requeued before this batch; count {self.keys.dead()} to see what is left"
            n = int(self._script_once(self._scripts.requeue_dead, keys, args, "a batch of dead-job retries", check))
            if n == 0:
                break
            total += n
        return total

    def delete_all_dead_jobs(self) -> None:
        """Remove the whole dead set."""
        with self._conn.errors():
            self._redis.delete(self.keys.dead())

    # -- history [FORK] ---------------------------------------------------------------------------
    def history_jobs(self, page: int = 1, job_name: str = "") -> tuple[list[HistoryJob], int]:
        """A page of 20 completed attempts, newest first, optionally of one job name, and the total.

        The fork keeps a job named ``index`` in the same key as its id index, which breaks its
        listing; here such a name is read from the overall history instead.
        """
        offset = _page_offset(page)
        if job_name == "index":
            return self._history_filtered(offset, job_name)
        key = self.keys.history_for(job_name) if job_name else self.keys.history()
        with self._conn.errors():
            pipe = self._redis.pipeline(transaction=False)
            pipe.zrevrangebyscore(key, "+inf", "-inf", start=offset, num=PAGE_SIZE)
            pipe.zcard(key)
            members, total = self._items(pipe, [key, key], "sorted set", "the history listing")
        if members is None or total is None:
            return [], 0
        return self._history_items(members), int(total)

    def _history_filtered(self, offset: int, job_name: str) -> tuple[list[HistoryJob], int]:
        key = self.keys.history()
        with self._conn.errors():
            members = self.bad_keys.guard(
                key, "sorted set", "the history listing", [], lambda: self._redis.zrevrangebyscore(key, "+inf", "-inf")
            )
        matching = [h for h in self._history_items(members) if h.job.name == job_name]
        return matching[offset : offset + PAGE_SIZE], len(matching)

    def _history_items(self, members: Sequence[bytes]) -> list[HistoryJob]:
        items = []
        for raw in members:
            try:
                items.append(HistoryJob.from_json(raw))
            except DecodeError as err:
                logger.warning("history entry cannot be decoded: %s", err.reason)
        return items

    def history_job_by_id(self, job_id: str) -> HistoryJob | None:
        """The latest completed attempt of ``job_id``, or None."""
        with self._conn.errors():
            try:
                raw = self._redis.hget(self.keys.history_index(), job_id)
            except redis.ResponseError as err:
                if "WRONGTYPE" not in str(err):
                    raise
                # A job named "index" took the key first; fall back to the overall history.
                raw = self._scan_history_for(job_id)
        if raw is None:
            return None
        try:
            return HistoryJob.from_json(raw)
        except DecodeError as err:
            logger.warning("history entry of %s cannot be decoded: %s", job_id, err.reason)
            return None

    def _scan_history_for(self, job_id: str) -> bytes | None:
        for raw in self._redis.zrevrangebyscore(self.keys.history(), "+inf", "-inf"):
            try:
                if decode_job(raw).id == job_id:
                    return bytes(raw)
            except DecodeError:
                continue
        return None

    def history_count(self) -> int:
        """How many attempts the overall history holds."""
        return self._zcard(self.keys.history())

    # -- runtime schedules [FORK] -------------------------------------------------------------------
    def periodic_schedules(self) -> list[PeriodicSchedule]:
        """Every stored schedule that parses, sorted by name (Go returns hash order)."""
        key = self.keys.periodic_schedules()
        with self._conn.errors():
            stored = self.bad_keys.guard(key, "hash", "the schedule listing", {}, lambda: self._redis.hgetall(key))
        out = []
        for field, raw in stored.items():
            try:
                out.append(PeriodicSchedule.from_json(raw))
            except ValueError as err:
                logger.warning("periodic schedule %s cannot be parsed: %s", _text(field), err)
        return sorted(out, key=lambda s: s.name)

    def add_periodic_schedule(self, schedule: PeriodicSchedule) -> PeriodicSchedule:
        """Store (or replace) a schedule under its name; sets created_at (if 0) and updated_at.

        Unlike Go's client, this refuses a schedule no pool could enqueue: a spec that is invalid or
        never fires (CronSpecError, naming the field), a job name that breaks the key layout
        (InvalidJobNameError), args with a number Go cannot decode (ValueError). Replacing a
        schedule with another job name, spec or args, or with a disabled one, removes the old one's
        instances already scheduled, as ``disable_periodic_schedule`` does.
        """
        if not schedule.name:
            raise ValueError("a periodic schedule needs a name")
        try:
            schedule_job(schedule, zone=self._evaluation_zone())
        except CronSpecError as err:
            raise CronSpecError(err.spec, err.field, f"{err.reason} (periodic schedule {schedule.name!r})") from None
        except InvalidJobNameError as err:
            raise InvalidJobNameError(err.name, f"{err.reason} (periodic schedule {schedule.name!r})") from None
        except ValueError as err:
            raise ValueError(f"periodic schedule {schedule.name!r}: {err}") from None
        now = self._clock.now()
        if not schedule.created_at:
            schedule.created_at = now
        schedule.updated_at = now
        data = schedule.to_json()
        key = self.keys.periodic_schedules()
        with self._conn.errors():
            old = self._redis.hget(key, schedule.name)
            self._redis.hset(key, schedule.name, data.encode("utf-8"))
        old_job = self._stored_job(schedule.name, old)
        if old_job is not None:
            new_job = self._job_of(PeriodicSchedule.from_json(data))
            if not schedule.enabled or new_job is None or new_job.member(0) != old_job.member(0):
                self._remove_instances(old_job)
        return schedule

    def delete_periodic_schedule(self, name: str) -> None:
        """Remove a schedule and its instances already scheduled; a missing name is not an error.

        Go's client only removes the schedule, leaving up to 4 minutes of instances to run; this
        one also removes those within the next horizon + period (6 min), recomputed from the stored
        schedule in the client's ``zone``. A code-defined periodic job with the same job name, spec
        and args writes the same members: it loses them too and writes them again at its next run.
        A pool's run that read the schedule just before may still add one more batch.
        """
        key = self.keys.periodic_schedules()
        with self._conn.errors():
            old = self._redis.hget(key, name)
            self._redis.hdel(key, name)
        old_job = self._stored_job(name, old)
        if old_job is not None:
            self._remove_instances(old_job)

    def enable_periodic_schedule(self, name: str) -> None:
        """Turn a schedule on; ScheduleNotFoundError when there is none of that name."""
        self._set_enabled(name, True)

    def disable_periodic_schedule(self, name: str) -> None:
        """Turn a schedule off and remove its instances already scheduled (see
        ``delete_periodic_schedule``; Go's client leaves them); ScheduleNotFoundError when there is
        none of that name."""
        schedule = self._set_enabled(name, False)
        job = self._job_of(schedule)
        if job is not None:
            self._remove_instances(job)

    def _set_enabled(self, name: str, enabled: bool) -> PeriodicSchedule:
        key = self.keys.periodic_schedules()
        with self._conn.errors():
            raw = self._redis.hget(key, name)
            if raw is None:
                raise ScheduleNotFoundError(name)
            schedule = PeriodicSchedule.from_json(raw)
            schedule.enabled = enabled
            schedule.updated_at = self._clock.now()
            self._redis.hset(key, name, schedule.to_json().encode("utf-8"))
        return schedule

    def _evaluation_zone(self) -> tzinfo:
        return self._zone if self._zone is not None else local_zone()

    def _job_of(self, schedule: PeriodicSchedule) -> PeriodicJob | None:
        """The periodic job pools make of a schedule; None when they skip it (nothing to remove)."""
        try:
            return schedule_job(schedule, zone=self._evaluation_zone())
        except (WorkCompatError, ValueError):
            return None

    def _stored_job(self, name: str, raw: bytes | None) -> PeriodicJob | None:
        if raw is None:
            return None
        try:
            return self._job_of(PeriodicSchedule.from_json(raw))
        except ValueError as err:
            logger.warning("periodic schedule %s cannot be parsed: %s", name, err)
            return None

    def _remove_instances(self, job: PeriodicJob) -> None:
        """ZREM the job's members for the instants from now to REMOVAL_WINDOW ahead.

        Go's ``@every`` counts from each run, so its instants cannot be recomputed: those stay.
        """
        if isinstance(job.schedule, ConstantDelaySchedule):
            return
        now = self._clock.now()
        members = list(job.members(now, now + REMOVAL_WINDOW))
        if members:
            with self._conn.errors():
                self._redis.zrem(self.keys.scheduled(), *members)

    # -- server ------------------------------------------------------------------------------------
    def redis_info(self) -> RedisStats:
        """The fork's summary of ``INFO`` (version, memory, clients, keys over all databases)."""
        with self._conn.errors():
            info = self._redis.info()
        if self._conn.cluster and info and all(isinstance(v, dict) for v in info.values()):
            info = next(iter(info.values()))  # one node's view is enough for a summary

        def num(key: str) -> int:
            try:
                return int(info.get(key, 0))
            except (TypeError, ValueError):
                return 0

        db_keys = sum(int(v.get("keys", 0)) for k, v in info.items() if k.startswith("db") and isinstance(v, dict))
        return RedisStats(
            version=str(info.get("redis_version", "")),
            uptime_seconds=num("uptime_in_seconds"),
            connected_clients=num("connected_clients"),
            used_memory=num("used_memory"),
            used_memory_human=str(info.get("used_memory_human", "")),
            used_memory_peak_human=str(info.get("used_memory_peak_human", "")),
            total_commands_processed=num("total_commands_processed"),
            instantaneous_ops_per_sec=num("instantaneous_ops_per_sec"),
            keyspace_hits=num("keyspace_hits"),
            keyspace_misses=num("keyspace_misses"),
            db_keys=db_keys,
        )
