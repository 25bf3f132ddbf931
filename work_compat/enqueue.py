"""Enqueuer: every way gocraft/work puts a job into Redis (gocraft ``enqueue.go``, protocol §3).

Commands, scripts, return values and ``known_jobs`` bookkeeping are Go's, so a Go pool and Go's
client cannot tell these jobs from their own. ``enqueue_many`` is an addition: one round trip for
a whole batch.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from .clock import SYSTEM_CLOCK, Clock
from .connection import RedisTarget
from .direct_push import DirectPush
from .errors import EncodeError
from .job import BackoffStrategy, Job, ScheduledJob, make_identifier
from .keys import validate_job_name
from .namespace import NamespaceBound

__all__ = ["EnqueueOptions", "Enqueuer", "RetryOptions"]

logger = logging.getLogger(__name__)

KNOWN_JOBS_CACHE_SECONDS = 300  # Go SADDs known_jobs at most once per name per 300 s per Enqueuer
_LPUSH_CHUNK = 5000  # values per LPUSH in enqueue_many; keeps single commands modest


@dataclass(frozen=True)
class RetryOptions:
    """The fork's per-job retry settings, stored in the job's JSON.

    ``max_retries`` counts total runs (as ``MaxFails`` does) and is written only when > 0;
    ``base_delay`` (seconds) only when > 0; ``strategy`` is always written.
    """

    max_retries: int = 0
    strategy: BackoffStrategy = BackoffStrategy.EXPONENTIAL
    base_delay: int = 0


@dataclass(frozen=True)
class EnqueueOptions:
    """What the fork's ``EnqueueWithOptions`` takes: delay (seconds or timedelta), retry, unique."""

    delay: float | dt.timedelta = 0
    retry: RetryOptions | None = None
    unique: bool = False
    unique_key: Mapping[str, Any] | None = None


def _as_args(args: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if args is None:
        return None
    if type(args) is dict:
        return args
    if isinstance(args, Mapping):
        return dict(args)
    raise EncodeError("args", args, f"args must be a mapping of str to JSON values, not {type(args).__name__}")


class Enqueuer(NamespaceBound):
    """Puts jobs into one namespace, exactly as ``work.NewEnqueuer(namespace, pool)`` does.

    Thread-safe: redis-py clients are, and the known-jobs cache only ever skips a redundant SADD.
    """

    def __init__(
        self,
        namespace: str,
        redis: RedisTarget,
        *,
        clock: Clock = SYSTEM_CLOCK,
        make_id: Callable[[], str] = make_identifier,
    ) -> None:
        super().__init__(namespace, redis, clock=clock)
        self._make_id = make_id
        self._known_until: dict[str, int] = {}
        # Plain LPUSHes of names already in known_jobs skip redis-py's per-command work (None for
        # clients it does not suit: Cluster, fakeredis, RESP3, client-side caching).
        self._direct = DirectPush.for_client(self._redis)
        self._lpush_heads: dict[str, bytes] = {}  # job name -> its packed "LPUSH <queue key>" head

    # -- plain ------------------------------------------------------------------------------------
    def enqueue(self, job_name: str, args: Mapping[str, Any] | None = None) -> Job:
        """LPUSH a job onto its queue; returns the Job as stored."""
        return self.enqueue_job(Job(job_name, self._make_id(), self._clock.now(), _as_args(args)))

    def enqueue_in(self, job_name: str, seconds_from_now: int, args: Mapping[str, Any] | None = None) -> ScheduledJob:
        """Schedule a job ``seconds_from_now`` ahead (zero or negative: due at once)."""
        now = self._clock.now()
        job = Job(job_name, self._make_id(), now, _as_args(args))
        run_at = now + int(seconds_from_now)
        self.enqueue_job(job, run_at=run_at)
        return ScheduledJob(run_at=run_at, job=job)

    def enqueue_job(self, job: Job, *, run_at: int | None = None) -> Job:
        """Put a Job you built on its queue (or in ``scheduled`` at ``run_at``), with the commands
        ``enqueue``/``enqueue_in`` use. For layers that choose the id or keep fields beside ``args``
        (``job.extra``; Go ignores them, Lua moves keep them)."""
        validate_job_name(job.name)
        now = self._clock.now()
        data = job.to_bytes()
        with self._conn.errors():
            if run_at is not None:
                self._redis.zadd(self.keys.scheduled(), {data: int(run_at)})
                self._add_to_known_jobs(job.name, now)
            elif self._known_due(job.name, now):
                pipe = self._redis.pipeline(transaction=False)
                pipe.lpush(self.keys.jobs(job.name), data)
                pipe.sadd(self.keys.known_jobs(), job.name)
                pipe.execute()
                self._known_until[job.name] = now + KNOWN_JOBS_CACHE_SECONDS
            else:
                direct = self._direct
                if direct is not None and self._push_direct(direct, job, data):
                    return job
                self._redis.lpush(self.keys.jobs(job.name), data)
        return job

    def _push_direct(self, direct: DirectPush, job: Job, data: bytes) -> bool:
        """LPUSH on a held connection; False when that failed (the caller sends it the usual way,
        with redis-py's retries, and raises what that raises). An error reply is raised as is."""
        head = self._lpush_heads.get(job.name)
        if head is None:
            key = self.keys.jobs(job.name).encode("utf-8")
            head = self._lpush_heads[job.name] = b"*3\r\n$5\r\nLPUSH\r\n$%d\r\n%s\r\n$" % (len(key), key)
        try:
            direct.lpush(b"%s%d\r\n%s\r\n" % (head, len(data), data))
        except (redis.ConnectionError, redis.TimeoutError, OSError) as err:
            logger.debug("direct LPUSH of job %s id %s failed (%s); sending it again", job.name, job.id, err)
            return False
        return True

    def release_held_connections(self) -> None:
        """Give the connections held for plain LPUSHes back to the client's pool."""
        if self._direct is not None:
            self._direct.close()

    def close(self) -> None:
        self.release_held_connections()
        super().close()

    # -- unique -----------------------------------------------------------------------------------
    def enqueue_unique(self, job_name: str, args: Mapping[str, Any] | None = None) -> Job | None:
        """Enqueue unless a job with the same name and args is queued; None for a duplicate."""
        return self.enqueue_unique_by_key(job_name, args, None)

    def enqueue_unique_in(
        self, job_name: str, seconds_from_now: int, args: Mapping[str, Any] | None = None
    ) -> ScheduledJob | None:
        """Schedule unless a job with the same name and args is held; None for a duplicate."""
        return self.enqueue_unique_in_by_key(job_name, seconds_from_now, args, None)

    def enqueue_unique_by_key(
        self, job_name: str, args: Mapping[str, Any] | None, key_map: Mapping[str, Any] | None
    ) -> Job | None:
        """Enqueue unless ``key_map`` (or the args when None) is held; None for a duplicate.

        With a key map, a duplicate replaces the held job: the worker runs the latest submission.
        """
        job = self._unique_job(job_name, args, key_map)
        if self._run_unique(job, key_map is not None, None):
            return job
        return None

    def enqueue_unique_in_by_key(
        self,
        job_name: str,
        seconds_from_now: int,
        args: Mapping[str, Any] | None,
        key_map: Mapping[str, Any] | None,
    ) -> ScheduledJob | None:
        """The scheduled form of ``enqueue_unique_by_key``."""
        job = self._unique_job(job_name, args, key_map)
        run_at = job.enqueued_at + int(seconds_from_now)
        if self._run_unique(job, key_map is not None, run_at):
            return ScheduledJob(run_at=run_at, job=job)
        return None

    # -- the fork's options -------------------------------------------------------------------------
    def enqueue_with_options(
        self, job_name: str, args: Mapping[str, Any] | None, options: EnqueueOptions
    ) -> Job | None:
        """The fork's ``EnqueueWithOptions``: delay, per-job retry settings and uniqueness.

        Always returns the Job (never a ScheduledJob), or None for a unique duplicate. A delay under
        one second schedules the job due at once, as Go truncates it to whole seconds.
        """
        delay = options.delay.total_seconds() if isinstance(options.delay, dt.timedelta) else options.delay
        seconds = int(delay)
        if options.unique:
            job = self._unique_job(job_name, args, options.unique_key, options.retry)
            if self._run_unique(
                job, options.unique_key is not None, job.enqueued_at + seconds if seconds > 0 else None
            ):
                return job
            return None
        validate_job_name(job_name)
        now = self._clock.now()
        job = Job(job_name, self._make_id(), now, _as_args(args))
        _apply_retry(job, options.retry)
        data = job.to_bytes()
        with self._conn.errors():
            if delay > 0:
                self._redis.zadd(self.keys.scheduled(), {data: now + seconds})
            else:
                self._redis.lpush(self.keys.jobs(job_name), data)
            self._add_to_known_jobs(job_name, now)
        return job

    # -- batches ----------------------------------------------------------------------------------
    def enqueue_many(self, jobs: Iterable[tuple[str, Mapping[str, Any] | None]]) -> list[Job]:
        """Enqueue many ``(job_name, args)`` pairs in one round trip; returns the Jobs in order.

        Every job is encoded before anything is sent, so a bad argument writes nothing. Jobs of one
        name keep their order (one multi-value LPUSH per name); on a single Redis the batch is one
        MULTI/EXEC, so it lands whole or not at all.
        """
        now = self._clock.now()
        built: list[Job] = []
        by_queue: dict[str, list[bytes]] = {}
        for i, (job_name, args) in enumerate(jobs):
            if type(job_name) is not str or job_name not in by_queue:  # grouped names were validated
                validate_job_name(job_name)
            job = Job(job_name, self._make_id(), now, _as_args(args))
            try:
                data = job.to_bytes()
            except EncodeError as err:
                raise EncodeError(f"jobs[{i}].{err.path}", err.value, err.reason) from None
            built.append(job)
            by_queue.setdefault(job_name, []).append(data)
        if not built:
            return built
        due = [name for name in by_queue if self._known_due(name, now)]
        with self._conn.errors():
            pipe = self._redis.pipeline(transaction=not self._conn.cluster)
            for job_name, values in by_queue.items():
                key = self.keys.jobs(job_name)
                for start in range(0, len(values), _LPUSH_CHUNK):
                    pipe.lpush(key, *values[start : start + _LPUSH_CHUNK])
            if due:
                pipe.sadd(self.keys.known_jobs(), *due)
            pipe.execute()
        for name in due:
            self._known_until[name] = now + KNOWN_JOBS_CACHE_SECONDS
        return built

    # -- helpers ----------------------------------------------------------------------------------
    def _unique_job(
        self,
        job_name: str,
        args: Mapping[str, Any] | None,
        key_map: Mapping[str, Any] | None,
        retry: RetryOptions | None = None,
    ) -> Job:
        validate_job_name(job_name)
        job_args = _as_args(args)
        basis = job_args if key_map is None else _as_args(key_map)
        job = Job(job_name, self._make_id(), self._clock.now(), job_args, unique=True)
        job.unique_key = self.keys.unique(job_name, basis)
        _apply_retry(job, retry)
        return job

    def _run_unique(self, job: Job, keyed: bool, run_at: int | None) -> bool:
        """Run enqueue-unique(-in); True when queued, False for a duplicate."""
        data = job.to_bytes()
        value = data if keyed else b"1"
        with self._conn.errors():
            # Go adds the name to known_jobs before the script, and enqueues nothing if that fails.
            self._add_to_known_jobs(job.name, job.enqueued_at)
            if run_at is None:
                res = self._scripts.enqueue_unique(keys=[self.keys.jobs(job.name), job.unique_key], args=[data, value])
            else:
                res = self._scripts.enqueue_unique_in(
                    keys=[self.keys.scheduled(), job.unique_key], args=[data, value, run_at]
                )
        return res in (b"ok", "ok")

    def _known_due(self, job_name: str, now: int) -> bool:
        until = self._known_until.get(job_name)
        return until is None or now >= until

    def _add_to_known_jobs(self, job_name: str, now: int) -> None:
        if self._known_due(job_name, now):
            self._redis.sadd(self.keys.known_jobs(), job_name)
            self._known_until[job_name] = now + KNOWN_JOBS_CACHE_SECONDS


def _apply_retry(job: Job, retry: RetryOptions | None) -> None:
    if retry is None:
        return
    if retry.max_retries > 0:
        job.max_retries = retry.max_retries
    job.backoff_type = int(retry.strategy)
    if retry.base_delay > 0:
        job.backoff_base = retry.base_delay
