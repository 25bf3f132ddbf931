"""WorkerPool: run jobs beside Go pools on one namespace (gocraft ``worker_pool.go``, §4-5).

``concurrency`` workers (see ``worker``) each complete and fetch in one round trip and run their
jobs through a runner: the worker thread itself, an event loop for ``async def`` handlers, or a
child process. Beside them: the heartbeater, the observer, the two requeuers, the dead-pool
reaper and the periodic enqueuer (see ``periodic``).
"""

from __future__ import annotations

import copy
import logging
import pickle
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta, tzinfo
from typing import Any

import redis

from .clock import SYSTEM_CLOCK, Clock
from .connection import RedisTarget
from .cron import local_zone
from .errors import ConfigurationError
from .fetch_guard import FetchGuard
from .flusher import Flusher
from .heartbeat import GO_HEARTBEAT_FIELDS, Heartbeater
from .job import make_identifier
from .job_options import JobOptions, JobType
from .keys import validate_job_name
from .middleware import Handler, Middleware
from .namespace import NamespaceBound
from .observer import Observer
from .outage import UNREACHABLE, RedisOutage
from .periodic import AlignedEvery, PeriodicEnqueuer, PeriodicJob, every_seconds, parse_spec, periodic_member
from .pool_children import PoolChildren
from .pool_settings import DEFAULT_SLEEP_BACKOFFS, PoolSettings
from .processor import JobProcessor
from .reaper import Reaper
from .requeuer import Requeuer
from .runner import AsyncRunner, Outcome, ProcessRunner, ThreadRunner
from .sampler import PrioritySampler
from .worker import Worker
from .worker_host import WorkerHost

__all__ = ["WorkerPool"]

logger = logging.getLogger(__name__)


class WorkerPool(NamespaceBound, WorkerHost):
    """A pool of ``concurrency`` workers on one namespace, as ``work.NewWorkerPool`` makes.

    Register with ``job`` / ``job_with_options`` and ``middleware``, and periodic jobs with
    ``periodically_enqueue`` and friends, then ``start()``; ``drain()`` waits until the queues are
    empty, ``stop()`` finishes in-flight jobs and leaves.

    ``zone`` evaluates cron specs without a ``CRON_TZ=`` prefix; None is the process local zone,
    as Go's ``time.Local`` (``cron.local_zone``). Pools sharing periodic jobs must agree on it.
    """

    def __init__(
        self,
        concurrency: int,
        namespace: str,
        redis: RedisTarget,
        *,
        context: Callable[[], Any] | None = None,
        sleep_backoffs: Sequence[int] = DEFAULT_SLEEP_BACKOFFS,
        processes: bool = False,
        settings: PoolSettings | None = None,
        clock: Clock = SYSTEM_CLOCK,
        zone: tzinfo | None = None,
    ) -> None:
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be 1 or more, got {concurrency!r}")
        if len(sleep_backoffs) < 2 or any(ms < 0 for ms in sleep_backoffs):
            raise ConfigurationError("sleep_backoffs needs at least two non-negative millisecond values")
        super().__init__(namespace, redis, clock=clock)
        self.concurrency = concurrency
        self.context = context
        self.sleep_backoffs = tuple(sleep_backoffs)
        self.processes = processes
        self._url = redis if isinstance(redis, str) else None  # what children connect with
        self._children: PoolChildren | None = None
        self.settings = settings or PoolSettings()
        self.zone = zone if zone is not None else local_zone()
        self.periodic_jobs: list[PeriodicJob] = []
        self.pool_id = make_identifier()
        self.outage = RedisOutage(self._conn.address)  # one log of a Redis outage for all threads
        self.worker_ids = [make_identifier() for _ in range(concurrency)]
        self.job_types: dict[str, JobType] = {}
        self._middleware: list[Middleware] = []
        self._extra_known: set[str] = set()
        self._fetch_filter: Callable[[str], bool] | None = None
        self._heartbeat_extra: dict[str, str] = {}
        self.lost_job_handler: Callable[[JobType, Any, Outcome], Outcome] | None = None
        self._started = False
        self._aborted = False
        self._init_host()
        self._drain_cond = threading.Condition()
        self._repair_lock = threading.Lock()

    # -- registration -------------------------------------------------------------------------------
    def job(self, name: str, handler: Handler) -> WorkerPool:
        """Run ``handler`` for jobs named ``name`` with default options."""
        return self.job_with_options(name, JobOptions(), handler)

    def job_with_options(self, name: str, options: JobOptions, handler: Handler) -> WorkerPool:
        """Run ``handler`` for jobs named ``name`` with the given options."""
        self._require_not_started()
        self.job_types[name] = JobType.make(name, handler, options)
        return self

    def middleware(self, fn: Middleware) -> WorkerPool:
        """Add a middleware; they run in registration order around every handler."""
        self._require_not_started()
        if not callable(fn):
            raise ConfigurationError(f"middleware must be callable, got {fn!r}")
        self._middleware.append(fn)
        return self

    def add_known_job_names(self, *names: str) -> WorkerPool:
        """Names this pool's requeuers and reaper handle without fetching them (the fork's call)."""
        for name in names:
            validate_job_name(name)
        self._extra_known.update(names)
        return self

    # -- periodic jobs (gocraft PeriodicallyEnqueue; the fork's WithArgs, Daily, Hourly, Every) ------
    def periodically_enqueue(self, spec: str, job_name: str) -> WorkerPool:
        """Enqueue ``job_name`` (args null) at every instant of the cron ``spec``.

        robfig's syntax, as Go's pools read it: six fields with seconds first, or five with
        minutes first, ``CRON_TZ=``/``TZ=`` prefixes, ``@daily`` and the other descriptors. Pools
        that define the same job with the same spec and args enqueue each instant once between them.

        Raises:
            CronSpecError: the spec is invalid or never fires; ``field`` names the part at fault.
            InvalidJobNameError: the name would break the key layout.
        """
        return self.periodically_enqueue_with_args(spec, job_name, None)

    def periodically_enqueue_with_args(self, spec: str, job_name: str, args: Mapping[str, Any] | None) -> WorkerPool:
        """As ``periodically_enqueue``, with ``args`` on every instance (``{}`` stays ``{}``, as Go's)."""
        self._require_not_started()
        validate_job_name(job_name)
        schedule = parse_spec(spec, zone=self.zone, horizon=self.settings.periodic_horizon)
        job_args = None if args is None else copy.deepcopy(dict(args))
        periodic_member(job_name, spec, 0, job_args)  # EncodeError now, not in the enqueuer later
        self.periodic_jobs.append(PeriodicJob(job_name, schedule, job_args))
        return self

    def daily(self, job_name: str, hour: int, minute: int) -> WorkerPool:
        """Enqueue ``job_name`` every day at ``hour:minute`` in the pool's zone (spec ``"M H * * *"``).

        Five fields, as the fork writes them (both Go libraries read five fields minutes first).
        """
        return self.periodically_enqueue(f"{_whole(minute, 'minute')} {_whole(hour, 'hour')} * * *", job_name)

    def hourly(self, job_name: str, minute: int) -> WorkerPool:
        """Enqueue ``job_name`` every hour at ``minute`` (spec ``"M * * * *"``; see ``daily``)."""
        return self.periodically_enqueue(f"{_whole(minute, 'minute')} * * * *", job_name)

    def every(self, job_name: str, interval: float | timedelta) -> WorkerPool:
        """Enqueue ``job_name`` at every multiple of ``interval`` (seconds) since the Unix epoch.

        Deliberately not Go's ``Every`` (``@every``, relative to each enqueue run, so never
        de-duplicated and silent for 4 min or more): the instants are aligned, so every Python
        pool writes the same ones, and any interval fires. The id reads
        ``periodic:<name>:@every <Go duration>:<t>``. Sub-second parts are dropped.
        """
        self._require_not_started()
        validate_job_name(job_name)
        seconds = interval.total_seconds() if isinstance(interval, timedelta) else interval
        self.periodic_jobs.append(PeriodicJob(job_name, AlignedEvery(every_seconds(seconds))))
        return self

    def set_fetch_filter(self, keep: Callable[[str], bool] | None) -> WorkerPool:
        """Ask ``keep(job_name)`` before every fetch; False leaves that name out of it (rate limits)."""
        self._fetch_filter = keep
        return self

    def set_lost_job_handler(self, handler: Callable[[JobType, Any, Outcome], Outcome] | None) -> WorkerPool:
        """In a pool whose children fetch their own jobs: ``handler(job_type, job, outcome)`` decides,
        in the parent, the outcome of a job whose child died or overran its time limit (``outcome``
        says which); celery_shim stores Celery's failure there. The default is ``outcome`` as is."""
        self.lost_job_handler = handler
        return self

    @property
    def children_fetch(self) -> bool:
        """Whether this pool's children fetch and complete their own jobs (``processes=True`` and a URL)."""
        return self.processes and self._url is not None

    def tell_children(self, payload: Any) -> None:
        """Hand ``payload`` (picklable) to the ``pool_child.on_tell`` listeners of every child."""
        if self._children is not None:
            self._children.broadcast(("tell", payload))

    def signal_job(self, job_id: str, signum: int) -> bool:
        """Send ``signum`` to the child process running the job ``job_id``; True if a child of this
        pool was running it. Its job then fails as lost (see ``set_lost_job_handler``)."""
        if self._children is None:
            return False
        return self._children.signal_running(job_id, signum)

    def set_heartbeat_field(self, name: str, value: str) -> WorkerPool:
        """Write one more field into the pool's heartbeat hash (a Celery worker's node name, say).

        Go's readers skip fields they do not know; Go's own fields cannot be replaced.
        """
        self._require_not_started()
        if name in GO_HEARTBEAT_FIELDS or not name or not isinstance(value, str):
            raise ConfigurationError(f"cannot set heartbeat field {name!r} to {value!r}: Go's fields are fixed")
        self._heartbeat_extra[name] = value
        return self

    def reconfigured(
        self,
        *,
        concurrency: int | None = None,
        namespace: str | None = None,
        redis: RedisTarget | None = None,
        processes: bool | None = None,
    ) -> WorkerPool:
        """A new, unstarted pool with this one's jobs, middleware and settings, and the given
        changes (the ``worker`` command uses it to apply its flags to a pool from your module)."""
        pool = WorkerPool(
            self.concurrency if concurrency is None else concurrency,
            self.namespace if namespace is None else namespace,
            self._conn if redis is None else redis,
            context=self.context,
            sleep_backoffs=self.sleep_backoffs,
            processes=self.processes if processes is None else processes,
            settings=self.settings,
            clock=self._clock,
        )
        if redis is None:
            pool._url = self._url
        pool.job_types = dict(self.job_types)
        pool._middleware = list(self._middleware)
        pool._extra_known = set(self._extra_known)
        pool._fetch_filter = self._fetch_filter
        pool._heartbeat_extra = dict(self._heartbeat_extra)
        pool.lost_job_handler = self.lost_job_handler
        pool.zone = self.zone
        pool.periodic_jobs = list(self.periodic_jobs)
        return pool

    def known_names(self) -> list[str]:
        """Names this pool's requeuers move to their queues: its jobs, ``add_known_job_names``
        and its periodic jobs (whose instances would otherwise wait for another pool)."""
        return sorted(set(self.job_types) | self._extra_known | {pj.job_name for pj in self.periodic_jobs})

    def _require_not_started(self) -> None:
        if self._started:
            raise ConfigurationError("register jobs and middleware before start()")

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start fetching and every background loop; a second call does nothing."""
        if self._started:
            return
        if not self.job_types:
            raise ConfigurationError("a worker pool needs at least one job: call job() before start()")
        if not self.processes:
            for name, jt in self.job_types.items():
                if jt.options.time_limit is not None:
                    logger.warning("job %s: time_limit applies to process pools only (processes=True); ignored", name)
        s = self.settings
        # Before anything is written or marked started: a process pool refuses handlers its children
        # cannot import here, and a failed start leaves a pool that stop() can ignore.
        self._runner = self._make_runner()
        try:
            with self._conn.errors():
                pipe = self._redis.pipeline(transaction=False)
                for name, jt in self.job_types.items():
                    pipe.set(self.keys.jobs_max_concurrency(name), str(jt.options.max_concurrency))
                pipe.sadd(self.keys.known_jobs(), *self.job_types)
                pipe.execute()
        except BaseException:
            self._close_runners()
            raise
        self._started = True
        self._observer = Observer(
            self._redis,
            self.keys,
            self.worker_ids,
            clock=self._clock,
            period=s.observer_period,
            pool_id=self.pool_id,
            run_times_retention=s.history_retention if s.history else None,
        )
        self.scripts = self._scripts
        self.fetch_guard = FetchGuard(self._redis, self.keys, self.pool_id, recheck=s.bad_key_recheck)
        self.processor = JobProcessor(
            self._redis, self.keys, self.job_types, self._run, self._observer, clock=self._clock, settings=s
        )
        self._sampler = PrioritySampler([(n, jt.options.priority) for n, jt in self.job_types.items()])
        self._heartbeater = Heartbeater(
            self._redis,
            self.keys,
            self.pool_id,
            job_names=list(self.job_types),
            concurrency=self.concurrency,
            worker_ids=self.worker_ids,
            clock=self._clock,
            period=s.heartbeat_period,
            extra_fields=self._heartbeat_extra,
        )
        self._requeuer = Requeuer(
            self._scripts.requeue_due,
            self.keys,
            [self.keys.retry(), self.keys.scheduled()],
            self.known_names,
            clock=self._clock,
            period=s.requeue_period,
            batch=s.requeue_batch,
            on_moved=self.wake_idle_workers,
        )
        self._reaper = Reaper(
            self._redis,
            self._scripts,
            self.keys,
            self.known_names,
            own_pool_id=self.pool_id,
            clock=self._clock,
            dead_after=s.dead_after,
            first_delay=s.reaper_first_delay,
            period=s.reaper_period,
            jitter=s.reaper_jitter,
            history_retention=s.history_retention if s.history else None,
        )
        self._periodic = PeriodicEnqueuer(
            self._redis,
            self.keys,
            self.periodic_jobs,
            clock=self._clock,
            zone=self.zone,
            period=s.periodic_period,
            jitter=s.periodic_jitter,
            horizon=s.periodic_horizon,
        )
        for loop in (self._heartbeater, self._observer, self._requeuer, self._reaper, self._periodic):
            loop.outage = self.outage
        self.outage.on_recovery(self._heartbeater.beat_if_running)
        with self._conn.errors():
            self._heartbeater.start()
        self._observer.start()
        self._requeuer.start()
        self._reaper.start()
        if self._children is not None:
            self._children.start()
        else:
            self.workers = [Worker(self, slot) for slot in range(self.concurrency)]
            self.flusher = Flusher(self, s.fold_window)
            self.flusher.start()
            for w in self.workers:
                w.thread.start()
        self._periodic.start()  # its first run is done when start() returns
        logger.info(
            "worker pool %s started: %d workers on namespace %r for %s",
            self.pool_id,
            self.concurrency,
            self.namespace,
            ", ".join(sorted(self.job_types)),
        )

    def warnings(self) -> list[str]:
        """The keys of the wrong Redis type this pool skipped lately (its fetch, completions, its
        children's, the requeuers, reaper and periodic enqueuer), one line each (see ``badkeys``)."""
        if not self._started:
            return []
        loops = (self.fetch_guard, self._requeuer, self._reaper, self._periodic)
        return sorted({line for loop in loops for line in loop.bad_keys.warnings()})

    def _make_runner(self) -> Any:
        if self.processes and self._url is not None:
            # Children fetch and complete their own jobs; the parent runs no handler.
            try:
                registry = pickle.dumps((self.job_types, self._middleware, self.context, self._fetch_filter))
            except (pickle.PicklingError, AttributeError, TypeError) as err:
                raise ConfigurationError(
                    f"a process pool needs module-level handlers, job options, middleware and context: {err}"
                ) from None
            self._children = PoolChildren(self, registry, self._url)
            return ThreadRunner(self._middleware, self.context)
        if self.processes:  # a client object given: children cannot rebuild it, the parent fetches for them
            runner = ProcessRunner(
                self.job_types, self._middleware, self.context, self.concurrency, self._child_checkin
            )
            runner.start()
            return runner
        self._async_runner = (
            AsyncRunner(self._middleware, self.context) if any(jt.is_async for jt in self.job_types.values()) else None
        )
        return ThreadRunner(self._middleware, self.context)

    def _run(self, job_type: JobType, job: Any, raw: bytes, slot: int) -> Outcome:
        if not self.processes and job_type.is_async and self._async_runner is not None:
            return self._async_runner.run(job_type, job, raw, slot)
        outcome: Outcome = self._runner.run(job_type, job, raw, slot)
        return outcome

    def _child_checkin(self, slot: int, job_id: str, message: str) -> None:
        self._observer.checkin(slot, job_id, message)

    # -- the repair after a lost reply ------------------------------------------------------------
    def repair_in_progress(self) -> None:
        """Put back jobs in this pool's in-progress lists that no worker holds.

        After a reply is lost (Redis restarted, a connection cut), a fetch may have moved jobs that
        no worker received. The pool is alive, so no reaper will take them: the pool must.
        """
        with self._repair_lock:
            if not self.needs_repair.is_set():
                return
            with self.gate.closed():
                try:
                    held = self.held_now()
                    back_keys: list[str] = []
                    back_raw: list[bytes] = []
                    for name in self.job_types:
                        inprogress = self.keys.jobs_in_progress(name, self.pool_id)
                        for raw in self.fetch_guard.in_progress(name):
                            if held[raw] > 0:
                                held[raw] -= 1
                                continue
                            back_keys += [
                                inprogress,
                                self.keys.jobs(name),
                                self.keys.jobs_lock(name),
                                self.keys.jobs_lock_info(name),
                            ]
                            back_raw.append(raw)
                    if back_raw:
                        n = self._scripts.put_back(keys=back_keys, args=[self.pool_id, *back_raw])
                        logger.warning(
                            "pool %s: %s job(s) fetched with a lost reply went back to their queues", self.pool_id, n
                        )
                    self.needs_repair.clear()
                except UNREACHABLE as err:
                    self.outage.failed(f"pool {self.pool_id} in-progress repair", err)
                except redis.RedisError as err:
                    logger.warning("pool %s: repair of in-progress lists failed, will retry: %s", self.pool_id, err)

    # -- drain, stop, abort ---------------------------------------------------------------------------
    def worker_drained(self) -> None:
        with self._drain_cond:
            self._drain_cond.notify_all()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every worker has found nothing to fetch since this call (with its own jobs
        completed), as Go's Drain; True if that happened within ``timeout`` seconds."""
        if not self._started:
            raise ConfigurationError("drain() needs a started pool")
        with self._drain_cond:
            self.drain_round += 1
            target = self.drain_round
        if self._children is not None:
            return self._children.drain(target, timeout)
        for w in self.workers:
            w.wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._drain_cond:
            while not all(w.drained_round >= target for w in self.workers):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._drain_cond.wait(0.05 if left is None else min(left, 0.05))
        return True

    def wake_idle_workers(self) -> None:
        """Cut every worker's idle sleep short so it fetches now: the requeuer has just moved jobs to
        their queues. Without it a worker deep in Go's idle backoff would start them up to 5 s late.
        (Not done when a worker finds work after a lull: under light steady load that would wake
        every worker for every job, and each empty fetch pushes it deeper into its backoff.)"""
        if self._children is not None:
            self._children.broadcast(("wake",))
        for w in self.workers:
            w.wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Finish in-flight jobs, write their completions, then leave (clearing our heartbeat).

        Jobs fetched but not started go back to the front of their queues. A handler still running
        after ``timeout`` (default ``settings.stop_timeout``) is left behind: its job stays in
        progress, and the pool stays registered (not beating) so that a reaper requeues it. In a
        process pool the child running it is killed.
        """
        if not self._started or (self.stopping.is_set() and not self._aborted):
            return
        limit = self.settings.stop_timeout if timeout is None else timeout
        self.stopping.set()
        for w in self.workers:
            w.wake.set()
        deadline = time.monotonic() + limit
        for w in self.workers:
            w.thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [w.thread.name for w in self.workers if w.thread.is_alive()]
        if self._children is not None:
            stuck = self._children.stop(limit)  # the stuck ones are killed
        elif stuck and self.processes:
            self._runner.kill_busy()
            for w in self.workers:
                w.thread.join(5)
        if self.workers:
            self.flusher.stop()  # what stuck workers fetched and never started goes back now
        if stuck:
            logger.warning("stop: %s still running after %.0fs; their jobs stay in progress for a reaper", stuck, limit)
        self._observer.stop()
        if not self._aborted:
            self._heartbeater.stop(deregister=not stuck)
        self._requeuer.stop()
        self._reaper.stop()
        self._periodic.stop()
        self._close_runners()
        self._aborted = False
        logger.info("worker pool %s stopped", self.pool_id)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the workers left running by a ``stop()`` whose time ran out (a handler that
        hung); True once none is left. Their late completions change nothing a reaper did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._children is not None:
            return self._children.join(timeout)
        for w in self.workers:
            w.thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(w.thread.is_alive() for w in self.workers)

    def abort(self) -> None:
        """Stop at once: stop beating but leave the pool's entries, so a reaper (Go's or ours)
        finds it dead and requeues its in-flight jobs. For a second SIGTERM; the process exits next
        (a later ``stop()`` only ends the remaining threads)."""
        self.stopping.set()
        for w in self.workers:
            w.wake.set()
        if self._children is not None and self._started:
            self._children.kill_all()
        if self._started:
            self._aborted = True
            self._heartbeater.stop(deregister=False)

    def _close_runners(self) -> None:
        self._runner.close()
        async_runner = getattr(self, "_async_runner", None)
        if async_runner is not None:
            async_runner.close()


def _whole(value: int, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigurationError(f"{field} must be an int, got {value!r}")
    return value
