"""Enqueuer: every way gocraft/work puts a job into Redis (gocraft ``enqueue.go``, protocol §3).

Commands, scripts, return values and ``known_jobs`` bookkeeping are Go's, so a Go pool and Go's
client cannot tell these jobs from their own. ``enqueue_many`` is an addition: one round trip for
a whole batch.

Every write is sent once (``direct_push``): when Redis does not answer it, OutcomeUnknownError
names the job ids, and no second copy exists (redis-py would send an LPUSH again on a new
connection, and a unique enqueue sent again answers "duplicate" for its own job).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .clock import SYSTEM_CLOCK, Clock
from .connection import RedisTarget
from .direct_push import Sender, pack
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
        if run_at is not None:
            self._schedule(job, data, int(run_at), now)
        else:
            self._push(job, data, now)
        return job

    def _schedule(self, job: Job, data: bytes, run_at: int, now: int) -> None:
        """ZADD one job into ``scheduled`` (then the known_jobs SADD when due, as Go), sent once."""
        sender = self._sender
        if sender is None:
            with self._conn.errors():
                self._redis.zadd(self.keys.scheduled(), {data: run_at})
        else:
            command = pack("ZADD", self.keys.scheduled(), run_at, data)
            self._send_once(sender, [command], *_lpush_outcome(self.keys.scheduled(), [job], "ZADD"))
        with self._conn.errors():
            self._add_to_known_jobs(job.name, now)

    def _push(self, job: Job, data: bytes, now: int) -> None:
        """LPUSH one job (with the known_jobs SADD when due), sent once."""
        due = self._known_due(job.name, now)
        sender = self._sender
        if sender is None:
            with self._conn.errors():
                pipe = self._redis.pipeline(transaction=False)
                pipe.lpush(self.keys.jobs(job.name), data)
                if due:
                    pipe.sadd(self.keys.known_jobs(), job.name)
                pipe.execute()
        else:
            head = self._lpush_heads.get(job.name)
            if head is None:
                key = self.keys.jobs(job.name).encode("utf-8")
                head = self._lpush_heads[job.name] = b"*3\r\n$5\r\nLPUSH\r\n$%d\r\n%s\r\n$" % (len(key), key)
            commands = [b"%s%d\r\n%s\r\n" % (head, len(data), data)]
            if due:
                commands.append(pack("SADD", self.keys.known_jobs(), job.name))
            self._send_once(sender, commands, *_lpush_outcome(self.keys.jobs(job.name), [job]))
        if due:
            self._known_until[job.name] = now + KNOWN_JOBS_CACHE_SECONDS

    def release_held_connections(self) -> None:
        """Give the connections held for plain LPUSHes back to the client's pool."""
        if self._sender is not None:
            self._sender.close()

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
        if delay > 0:
            self._schedule(job, data, now + seconds, now)
        else:
            self._push(job, data, now)
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
        sender = self._sender
        if sender is None:
            with self._conn.errors():
                pipe = self._redis.pipeline(transaction=not self._conn.cluster)
                for job_name, values in by_queue.items():
                    key = self.keys.jobs(job_name)
                    for start in range(0, len(values), _LPUSH_CHUNK):
                        pipe.lpush(key, *values[start : start + _LPUSH_CHUNK])
                if due:
                    pipe.sadd(self.keys.known_jobs(), *due)
                pipe.execute()
        else:
            self._push_many(sender, by_queue, due, built)
        for name in due:
            self._known_until[name] = now + KNOWN_JOBS_CACHE_SECONDS
        return built

    def _push_many(self, sender: Sender, by_queue: dict[str, list[bytes]], due: list[str], built: list[Job]) -> None:
        """The batch's LPUSHes (and SADD) in one MULTI/EXEC on a single Redis, sent once."""
        transaction = not self._conn.cluster
        commands = [pack("MULTI")] if transaction else []
        for job_name, values in by_queue.items():
            key = self.keys.jobs(job_name)
            for start in range(0, len(values), _LPUSH_CHUNK):
                commands.append(pack("LPUSH", key, *values[start : start + _LPUSH_CHUNK]))
        if due:
            commands.append(pack("SADD", self.keys.known_jobs(), *due))
        if transaction:
            commands.append(pack("EXEC"))
        keys = ", ".join(self.keys.jobs(n) for n in by_queue)
        replies = self._send_once(sender, commands, *_lpush_outcome(keys, built))
        if transaction:
            for reply in replies[-1] or []:  # an error of one command comes back inside EXEC's reply
                if isinstance(reply, Exception):
                    raise reply

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
        # Sent once: a resent script finds its own lock and answers "duplicate" for a queued job.
        args: list[Any]
        if run_at is None:
            where = self.keys.jobs(job.name)
            script, keys, args = self._scripts.enqueue_unique, [where, job.unique_key], [data, value]
        else:
            where = self.keys.scheduled()
            script, keys, args = self._scripts.enqueue_unique_in, [where, job.unique_key], [data, value, run_at]
        action, check, ids = _lpush_outcome(where, [job])
        check += f"; its unique lock is {job.unique_key!r}"
        res = self._script_once(script, keys, args, action.replace("LPUSH", "the unique enqueue"), check, ids)
        return res in (b"ok", "ok")

    def _known_due(self, job_name: str, now: int) -> bool:
        until = self._known_until.get(job_name)
        return until is None or now >= until

    def _add_to_known_jobs(self, job_name: str, now: int) -> None:
        if self._known_due(job_name, now):
            self._redis.sadd(self.keys.known_jobs(), job_name)
            self._known_until[job_name] = now + KNOWN_JOBS_CACHE_SECONDS


def _lpush_outcome(where: str, jobs: list[Job], command: str = "LPUSH") -> tuple[str, str, tuple[str, ...]]:
    """What OutcomeUnknownError says of a write of ``jobs`` to ``where``: the action, how to check."""
    ids = tuple(j.id for j in jobs)
    shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    names = sorted({j.name for j in jobs})
    action = f"the {command} of {len(ids)} job(s) {'/'.join(names)} (id {shown}) to {where}"
    check = (
        f"look for id {shown} in {where} (or, if a worker took it, in the in-progress lists, the "
        "retry/dead sets or the history) before enqueueing again; or enqueue again if handlers are idempotent"
    )
    return action, check, ids


def _apply_retry(job: Job, retry: RetryOptions | None) -> None:
    if retry is None:
        return
    if retry.max_retries > 0:
        job.max_retries = retry.max_retries
    job.backoff_type = int(retry.strategy)
    if retry.base_delay > 0:
        job.backoff_base = retry.base_delay
