"""WorkerPool: run jobs beside Go pools on one namespace (gocraft ``worker_pool.go``, §4-5).

A fetcher thread takes as many jobs as there are idle workers (the fetch script's effects are Go's,
one job or several), ``concurrency`` worker threads run them through a runner (threads, an event
loop for ``async def`` handlers, or child processes), and a completer writes finished jobs in
batches. Beside them: the heartbeater, the observer, the two requeuers and the dead-pool reaper.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

from .clock import SYSTEM_CLOCK, Clock
from .connection import RedisTarget
from .errors import ConfigurationError
from .heartbeat import Heartbeater
from .job import make_identifier
from .job_options import JobOptions, JobType
from .keys import validate_job_name
from .middleware import Handler, Middleware
from .namespace import NamespaceBound
from .observer import Observer
from .pool_settings import DEFAULT_SLEEP_BACKOFFS, PoolSettings
from .reaper import Reaper
from .requeuer import Requeuer
from .runner import AsyncRunner, Outcome, ProcessRunner, ThreadRunner
from .sampler import PrioritySampler
from .worker import Completion, Fetched, JobProcessor, write_completions

__all__ = ["WorkerPool"]

logger = logging.getLogger(__name__)

_STOP: Any = object()


def _text(v: bytes | str) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


class WorkerPool(NamespaceBound):
    """A pool of ``concurrency`` workers on one namespace, as ``work.NewWorkerPool`` makes.

    Register with ``job`` / ``job_with_options`` and ``middleware``, then ``start()``;
    ``drain()`` waits until the queues are empty, ``stop()`` finishes in-flight jobs and leaves.
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
        self.settings = settings or PoolSettings()
        self.pool_id = make_identifier()
        self.worker_ids = [make_identifier() for _ in range(concurrency)]
        self.job_types: dict[str, JobType] = {}
        self._middleware: list[Middleware] = []
        self._extra_known: set[str] = set()
        self._fetch_filter: Callable[[str], bool] | None = None
        self._started = False
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._idle = concurrency
        self._idle_cond = threading.Condition()
        self._work: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._drained = threading.Event()
        self._drain_round = 0  # bumped by drain(); only a fetch begun after that may end the drain
        self._drain_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._pending_completions = 0
        self._pending_lock = threading.Lock()

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

    def set_fetch_filter(self, keep: Callable[[str], bool] | None) -> WorkerPool:
        """Ask ``keep(job_name)`` before every fetch; False leaves that name out of it (rate limits)."""
        self._fetch_filter = keep
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
        pool.job_types = dict(self.job_types)
        pool._middleware = list(self._middleware)
        pool._extra_known = set(self._extra_known)
        pool._fetch_filter = self._fetch_filter
        return pool

    def known_names(self) -> list[str]:
        return sorted(set(self.job_types) | self._extra_known)

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
        self._observer = Observer(self._redis, self.keys, self.worker_ids, clock=self._clock, period=s.observer_period)
        self._processor = JobProcessor(
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
        )
        self._requeuer = Requeuer(
            self._scripts.requeue_due,
            self.keys,
            [self.keys.retry(), self.keys.scheduled()],
            self.known_names,
            clock=self._clock,
            period=s.requeue_period,
            batch=s.requeue_batch,
        )
        self._reaper = Reaper(
            self._redis,
            self._scripts,
            self.keys,
            self.known_names,
            clock=self._clock,
            dead_after=s.dead_after,
            first_delay=s.reaper_first_delay,
            period=s.reaper_period,
            jitter=s.reaper_jitter,
            history_retention=s.history_retention if s.history else None,
        )
        with self._conn.errors():
            self._heartbeater.start()
        self._observer.start()
        self._requeuer.start()
        self._reaper.start()
        self._spawn(self._completer_loop, "work-compat-completer")
        for slot in range(self.concurrency):
            self._spawn(functools.partial(self._worker_loop, slot), f"work-compat-worker-{slot}")
        self._spawn(self._fetcher_loop, "work-compat-fetcher")
        logger.info(
            "worker pool %s started: %d workers on namespace %r for %s",
            self.pool_id,
            self.concurrency,
            self.namespace,
            ", ".join(sorted(self.job_types)),
        )

    def _make_runner(self) -> Any:
        if self.processes:
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

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until a fetch finds nothing while every worker is idle and every completion is
        written; True if that happened within ``timeout`` seconds."""
        if not self._started:
            raise ConfigurationError("drain() needs a started pool")
        with self._drain_lock:
            self._drain_round += 1
            self._drained.clear()
        self._wake.set()
        return self._drained.wait(timeout)

    def stop(self, timeout: float | None = None) -> None:
        """Finish in-flight jobs, write their completions, then leave (clearing our heartbeat)."""
        if not self._started or self._stopping.is_set():
            return
        limit = self.settings.stop_timeout if timeout is None else timeout
        self._stopping.set()
        self._wake.set()
        with self._idle_cond:
            self._idle_cond.notify_all()
        deadline = time.monotonic() + limit
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            logger.warning("stop: %s still running after %.0fs; their jobs stay in progress for a reaper", stuck, limit)
        self._observer.stop()
        self._heartbeater.stop(deregister=not stuck)
        self._requeuer.stop()
        self._reaper.stop()
        self._close_runners()
        logger.info("worker pool %s stopped", self.pool_id)

    def abort(self) -> None:
        """Stop at once: stop beating but leave the pool's entries, so a reaper (Go's or ours)
        finds it dead and requeues its in-flight jobs. For a second SIGTERM; the process exits next."""
        self._stopping.set()
        self._wake.set()
        if self._started:
            self._heartbeater.stop(deregister=False)

    def _close_runners(self) -> None:
        self._runner.close()
        async_runner = getattr(self, "_async_runner", None)
        if async_runner is not None:
            async_runner.close()

    # -- the three loops ------------------------------------------------------------------------------
    def _fetch_keys(self) -> list[str]:
        keys: list[str] = []
        for name in self._sampler.order():
            if self._fetch_filter is not None and not self._fetch_filter(name):
                continue
            k = self.keys
            keys += [
                k.jobs(name),
                k.jobs_in_progress(name, self.pool_id),
                k.jobs_paused(name),
                k.jobs_lock(name),
                k.jobs_lock_info(name),
                k.jobs_max_concurrency(name),
            ]
        return keys

    def _fetcher_loop(self) -> None:
        empty = 0
        errors = 0
        prefix_len = len(self.keys.jobs_prefix())
        while not self._stopping.is_set():
            with self._idle_cond:
                while self._idle == 0 and not self._stopping.is_set():
                    self._idle_cond.wait(0.5)
                want = min(self._idle, self.settings.fetch_batch)
            if self._stopping.is_set():
                break
            keys = self._fetch_keys()
            drain_round = self._drain_round
            # Quiet when the fetch begins: one that finds nothing while our jobs still hold a
            # max_concurrency cap does not mean the queues are drained.
            quiet = self._quiet()
            try:
                reply = self._scripts.fetch_job(keys=keys, args=[self.pool_id, want]) if keys else None
                errors = 0
            except redis.RedisError as err:
                errors += 1
                logger.warning("fetch failed (%d in a row): %s", errors, err)
                self._sleep(min(0.01 * 2**errors, 1.0))
                continue
            if reply:
                empty = 0
                with self._idle_cond:
                    self._idle -= len(reply) // 3
                for i in range(0, len(reply), 3):
                    queue_key = _text(reply[i + 1])
                    self._work.put(Fetched(reply[i], queue_key, _text(reply[i + 2]), queue_key[prefix_len:]))
                continue
            empty += 1
            if quiet:
                with self._drain_lock:
                    if drain_round == self._drain_round:
                        self._drained.set()
            self._sleep(self.sleep_backoffs[min(empty, len(self.sleep_backoffs) - 1)] / 1000)
        for _ in range(self.concurrency):
            self._work.put(_STOP)

    def _quiet(self) -> bool:
        with self._idle_cond:
            idle = self._idle == self.concurrency
        with self._pending_lock:
            return idle and self._pending_completions == 0

    def _sleep(self, seconds: float) -> None:
        if self._wake.wait(seconds):
            self._wake.clear()

    def _worker_loop(self, slot: int) -> None:
        while True:
            item = self._work.get()
            if item is _STOP:
                break
            with self._pending_lock:
                self._pending_completions += 1
            try:
                completion = self._processor.process(item, slot)
            except Exception:  # a bug here must not lose the job: it stays in progress for a reaper
                logger.exception("worker %d crashed on a job from %s; it stays in progress", slot, item.queue_key)
                with self._pending_lock:
                    self._pending_completions -= 1
            else:
                self._done.put(completion)
            with self._idle_cond:
                self._idle += 1
                self._idle_cond.notify()
        self._done.put(_STOP)

    def _completer_loop(self) -> None:
        stops = 0
        while stops < self.concurrency:
            batch: list[Completion] = []
            item = self._done.get()
            while True:
                if item is _STOP:
                    stops += 1
                else:
                    batch.append(item)
                if len(batch) >= self.settings.completion_batch:
                    break
                try:
                    item = self._done.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)

    def _write(self, batch: list[Completion]) -> None:
        delay = 0.05
        while True:
            try:
                write_completions(self._scripts, self.keys, self.pool_id, batch)
                break
            except (redis.ConnectionError, redis.TimeoutError) as err:
                if self._stopping.is_set() and delay > 5:
                    logger.error("giving up writing %d completions: %s; the jobs stay in progress", len(batch), err)
                    break
                logger.warning("writing %d completions failed, retrying: %s", len(batch), err)
                time.sleep(delay)
                delay = min(delay * 2, 10)
            except redis.RedisError as err:
                logger.error("writing %d completions failed: %s; the jobs stay in progress", len(batch), err)
                break
        with self._pending_lock:
            self._pending_completions -= len(batch)
        if self._quiet():
            self._wake.set()
