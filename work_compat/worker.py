"""One worker: complete what it ran and fetch what is next in one round trip, run, repeat
(gocraft ``worker.go``, protocol §4.4-4.8).

Like a Go worker, each worker fetches for itself and backs off on its own when the queues are
empty (10, 100, 1000, then 5000 ms). Unlike Go, when jobs finish quickly it fetches a few at once
(each fetched job counts in the lock counters as Go's fetch counts it), and completions that the
pool's flusher has not yet written go in its next ``work_step`` call with the fetch. The flusher
(``flusher``) writes the others while the worker runs its next job, and hands back fetched jobs
that would wait behind a slow one. The effects in Redis are Go's, job for job.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import redis

from .job import HistoryJob
from .keys import Keys
from .processor import Completion, Fetched
from .script_call import ScriptCaller

if TYPE_CHECKING:
    from .worker_host import WorkerHost

__all__ = ["StepGate", "Worker", "settle", "step_arguments"]

logger = logging.getLogger(__name__)

FAST_JOB_SECONDS = 0.005  # jobs quicker than this on average let a worker fetch several at once


def _text(v: bytes | str) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def step_arguments(
    keys: Keys, pool_id: str, done: list[Completion], fetch_keys: list[str], quotas: list[int], want: int
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of ``work_step`` for completing ``done`` and fetching up to ``want`` jobs
    (``quotas``: how many each group of ``fetch_keys`` is asked for first)."""
    script_keys = [keys.retry(), keys.dead(), keys.history(), keys.history_index()]
    script_args: list[Any] = [pool_id, len(done), want]
    for c in done:
        f, job = c.fetched, c.job
        member = job.to_bytes() if job is not None and c.kind in ("retry", "dead") else b""
        entry = b""
        if job is not None and c.history_status:
            entry = HistoryJob(c.completed_at, c.history_status, job).to_json().encode("utf-8", "surrogatepass")
        if c.kind == "put_back":  # back to its queue: the fourth key names the queue
            last_key = f.queue_key
        else:
            last_key = keys.history_for(job.name if job is not None and job.name else f.queue_name)
        script_keys += [f.inprogress_key, keys.jobs_lock(f.queue_name), keys.jobs_lock_info(f.queue_name), last_key]
        script_args += [f.raw, c.kind, c.score, member, entry, c.completed_at, job.id if job else ""]
    return script_keys + fetch_keys, script_args + quotas


def settle(pool: WorkerHost, done: list[Completion], failures: list[Any], stopping: bool) -> None:
    """After a ``work_step`` call that wrote ``done``: report the writes it refused (``failures``,
    four items each, see work_step.lua), park the completions it could not write to send them
    again, and forget the jobs of the others."""
    kept: set[int] = set()
    for i in range(0, len(failures), 4):
        index, key, error, not_written = (
            int(failures[i]),
            _text(failures[i + 1]),
            _text(failures[i + 2]),
            failures[i + 3],
        )
        if pool.fetch_guard.write_failed(done[index], key, error, bool(not_written), stopping):
            kept.add(index)
    pool.held_remove(c.fetched.raw for i, c in enumerate(done) if i not in kept)


class StepGate:
    """Lets any number of work steps run, or none while the pool repairs its in-progress lists.

    A repair must not run while a step is in flight: that step may have fetched jobs nobody has
    registered as held yet.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._inflight = 0
        self._closed = False

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._inflight += 1
        try:
            yield
        finally:
            with self._cond:
                self._inflight -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def closed(self) -> Iterator[None]:
        with self._cond:
            self._closed = True
            while self._inflight:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()


class Worker:
    """The loop of one worker slot of a pool.

    What the worker holds between round trips (completions not yet written, jobs fetched but not
    started) lives in ``pending`` and ``unstarted`` under ``lock``, so that the pool's ``Flusher``
    can take them when the job running now takes long.
    """

    def __init__(self, pool: WorkerHost, slot: int) -> None:
        self.pool = pool
        self.slot = slot
        self.wake = threading.Event()
        self.drained_round = -1
        self.lock = threading.Lock()
        self.pending: list[Completion] = []  # finished, or to hand back; not yet written
        self.unstarted: list[Fetched] = []  # fetched, in fetch order; not yet started
        self.current: Fetched | None = None
        self.running_since = 0.0  # time.monotonic() when the current job started; 0: none runs
        self.pending_since = 0.0  # time.monotonic() when the oldest completion in ``pending`` was added
        self.flushing = 0  # how many of this worker's completions the flusher is writing
        self._call_step: ScriptCaller | None = None  # made on the first step: the pool's scripts exist by then
        self.thread = self._new_thread()

    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self.run, name=f"work-compat-worker-{self.slot}", daemon=True)

    def _step(self, done: list[Completion], want: int) -> tuple[list[Fetched], list[str], str]:
        """One round trip: write ``done``, fetch up to ``want``. Returns the jobs fetched, the
        names the fetch asked for, and the error that stopped the fetch ("" if none). Raises
        redis errors when the call itself failed."""
        pool = self.pool
        fetch_keys, quotas = pool.fetch_plan(want) if want else ([], [])
        script_keys, script_args = step_arguments(
            pool.keys, pool.pool_id, done, fetch_keys, quotas, want if fetch_keys else 0
        )
        prefix_len = len(pool.keys.jobs_prefix())
        call = self._call_step
        if call is None:
            call = self._call_step = ScriptCaller(pool.scripts.work_step)
        with pool.gate.step():
            reply = call(script_keys, script_args)
            fetched = []
            for i in range(3, len(reply), 3):
                queue_key = _text(reply[i + 1])
                fetched.append(Fetched(reply[i], queue_key, _text(reply[i + 2]), queue_key[prefix_len:]))
            with self.lock:  # before the gate opens: a repair sees them held, the flusher sees them
                self.unstarted = fetched
            pool.held_add(f.raw for f in fetched)
        settle(pool, done, reply[1], pool.stopping.is_set())
        return fetched, [key[prefix_len:] for key in fetch_keys[::6]], _text(reply[2])

    def run(self) -> None:
        """Run the loop; if it ever fails (a bug, or a BaseException that escaped a handler), log
        it, give back what this worker held, and run it again: a pool never loses a worker."""
        while True:
            try:
                self._loop()
                if self._call_step is not None:
                    self._call_step.close()
                return
            except BaseException:
                logger.exception("worker %d failed; restarting it, its fetched jobs go back to their queues", self.slot)
                with self.lock:
                    back = [self.current] if self.current is not None else []
                    back += self.unstarted
                    self.pending += hand_back(back)
                    self.unstarted, self.current, self.running_since = [], None, 0.0
                time.sleep(0.01)  # a loop failing at once every time must not spin

    def _take_pending(self) -> tuple[list[Completion], bool]:
        """The completions to write now, and whether this worker holds none anywhere (drain)."""
        parked = self.pool.fetch_guard.take_due(everything=self.pool.stopping.is_set())
        with self.lock:
            done, self.pending = self.pending + parked, []
            return done, not done and not self.flushing

    def _loop(self) -> None:
        pool = self.pool
        backoffs = pool.sleep_backoffs
        want = 1
        empty = 0
        errors = 0
        while True:
            stopping = pool.stopping.is_set()
            drain_round = pool.drain_round
            done, quiet = self._take_pending()
            if stopping and not done:
                break
            if pool.needs_repair.is_set() and not stopping:
                pool.repair_in_progress()
            try:
                fetched, names, fetch_error = self._step(done, 0 if stopping else want)
                errors = 0
                pool.outage.recovered()
            except (redis.ConnectionError, redis.TimeoutError) as err:
                # The step may have run with its reply lost: completions are safe to send again,
                # and jobs it may have fetched are found by the repair before the next fetch.
                self._keep(done)
                errors += 1
                pool.needs_repair.set()
                pool.outage.failed(f"worker {self.slot}", err)
                if stopping and errors > 5:
                    logger.error(
                        "worker %d: giving up on %d completions; those jobs stay in progress", self.slot, len(done)
                    )
                    pool.held_remove(c.fetched.raw for c in done)
                    with self.lock:
                        self.pending = []
                    break
                self._sleep(min(0.01 * 2**errors, 2.0))
                continue
            except redis.RedisError as err:
                logger.error("worker %d: work step failed: %s; %d jobs stay in progress", self.slot, err, len(done))
                pool.held_remove(c.fetched.raw for c in done)
                self._sleep(0.1)
                continue
            if fetch_error and not self._fetch_failed(names, fetch_error) and not fetched:
                self._sleep(0.1)
                continue
            if not fetched:
                if fetch_error:  # the names at fault are left out now: fetch the others at once
                    continue
                if stopping:
                    continue  # writes what the flusher may have given back, then leaves
                if quiet:
                    self.drained_round = drain_round
                    pool.worker_drained()
                empty += 1
                self._sleep(backoffs[min(empty, len(backoffs) - 1)] / 1000)
                continue
            empty = 0
            started = time.monotonic()
            ran = self._run_fetched()
            want = self._next_want(want, ran, time.monotonic() - started)

    def _fetch_failed(self, names: list[str], error: str) -> bool:
        """Leave out the names whose keys made the fetch fail; True if any was."""
        try:
            return self.pool.fetch_guard.fetch_failed(names, error)
        except redis.RedisError as err:
            logger.error("worker %d: the fetch failed (%s), and checking its keys failed: %s", self.slot, error, err)
            return False

    def _keep(self, done: list[Completion]) -> None:
        """Completions whose write failed go first in the next one."""
        with self.lock:
            self.pending[:0] = done

    def _run_fetched(self) -> int:
        """Run the fetched jobs one by one until none is left (the flusher may take the rest)."""
        pool = self.pool
        ran = 0
        while True:
            with self.lock:
                if not self.unstarted:
                    return ran
                if pool.stopping.is_set():  # hand back what was fetched but not started
                    self.pending += hand_back(self.unstarted)
                    self.unstarted = []
                    return ran
                f = self.unstarted.pop(0)
                self.current = f
                self.running_since = time.monotonic()
                held = bool(self.pending or self.unstarted)
            if held:  # the flusher writes what finished, and hands back the rest if this job runs long
                pool.flusher.watch()
            c = pool.processor.process_safely(f, self.slot)
            with self.lock:
                self.current, self.running_since = None, 0.0
                if c.kind != "abandoned":  # abandoned: left in progress for a reaper
                    if not self.pending:
                        self.pending_since = time.monotonic()
                    self.pending.append(c)
            ran += 1

    def _next_want(self, want: int, ran: int, seconds: float) -> int:
        if ran and seconds / ran < FAST_JOB_SECONDS:
            return min(want * 2, self.pool.settings.fetch_batch)
        return 1

    def _sleep(self, seconds: float) -> None:
        if self.wake.wait(seconds):
            self.wake.clear()


def hand_back(fetched: list[Fetched]) -> list[Completion]:
    """Completions that return unstarted jobs to the front of their queues, last fetched first,
    so that the order they were fetched in is the order they are fetched again."""
    return [Completion(f, "put_back") for f in reversed(fetched)]
