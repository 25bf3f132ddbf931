"""One worker: complete what it ran and fetch what is next in one round trip, run, repeat
(gocraft ``worker.go``, protocol §4.4-4.8).

Like a Go worker, each worker fetches for itself and backs off on its own when the queues are
empty (10, 100, 1000, then 5000 ms). Unlike Go, it folds the completion of its last jobs and the
next fetch into one ``work_step`` script call, and when jobs finish quickly it fetches a few at once
(each fetched job counts in the lock counters as Go's fetch counts it). The effects in Redis are
Go's, job for job.
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

if TYPE_CHECKING:
    from .worker_pool import WorkerPool

__all__ = ["StepGate", "Worker", "step_arguments"]

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
        script_keys += [
            f.inprogress_key,
            keys.jobs_lock(f.queue_name),
            keys.jobs_lock_info(f.queue_name),
            keys.history_for(job.name if job is not None and job.name else f.queue_name),
        ]
        script_args += [f.raw, c.kind, c.score, member, entry, c.completed_at, job.id if job else ""]
    return script_keys + fetch_keys, script_args + quotas


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
    """The loop of one worker slot of a pool."""

    def __init__(self, pool: WorkerPool, slot: int) -> None:
        self.pool = pool
        self.slot = slot
        self.wake = threading.Event()
        self.drained_round = -1
        self.thread = threading.Thread(target=self.run, name=f"work-compat-worker-{slot}", daemon=True)

    def _step(self, done: list[Completion], want: int) -> list[Fetched]:
        """One round trip: write ``done``, fetch up to ``want``. Raises redis errors."""
        pool = self.pool
        fetch_keys, quotas = pool.fetch_plan(want) if want else ([], [])
        script_keys, script_args = step_arguments(
            pool.keys, pool.pool_id, done, fetch_keys, quotas, want if fetch_keys else 0
        )
        with pool.gate.step():
            reply = pool.scripts.work_step(keys=script_keys, args=script_args)
            prefix_len = len(pool.keys.jobs_prefix())
            fetched = []
            for i in range(1, len(reply), 3):
                queue_key = _text(reply[i + 1])
                fetched.append(Fetched(reply[i], queue_key, _text(reply[i + 2]), queue_key[prefix_len:]))
            pool.held_add(f.raw for f in fetched)  # before the gate opens: a repair sees them held
        pool.held_remove(c.fetched.raw for c in done)
        return fetched

    def _put_back(self, done: list[Completion]) -> list[Completion]:
        """Write the put-back completions (rare: they have their own script); return the others."""
        back = [c for c in done if c.kind == "put_back"]
        if not back:
            return done
        pool = self.pool
        script_keys: list[str] = []
        for c in back:
            f = c.fetched
            script_keys += [
                f.inprogress_key,
                f.queue_key,
                pool.keys.jobs_lock(f.queue_name),
                pool.keys.jobs_lock_info(f.queue_name),
            ]
        pool.scripts.put_back(keys=script_keys, args=[pool.pool_id, *(c.fetched.raw for c in back)])
        pool.held_remove(c.fetched.raw for c in back)
        return [c for c in done if c.kind != "put_back"]

    def run(self) -> None:
        pool = self.pool
        backoffs = pool.sleep_backoffs
        done: list[Completion] = []
        want = 1
        empty = 0
        errors = 0
        while True:
            stopping = pool.stopping.is_set()
            if stopping and not done:
                break
            if pool.needs_repair.is_set() and not stopping:
                pool.repair_in_progress()
            drain_round = pool.drain_round
            quiet = not done
            try:
                done = self._put_back(done)
                fetched = self._step(done, 0 if stopping else want)
                errors = 0
                pool.outage.recovered()
            except (redis.ConnectionError, redis.TimeoutError) as err:
                # The step may have run with its reply lost: completions are safe to send again,
                # and jobs it may have fetched are found by the repair before the next fetch.
                errors += 1
                pool.needs_repair.set()
                pool.outage.failed(f"worker {self.slot}", err)
                if stopping and errors > 5:
                    logger.error(
                        "worker %d: giving up on %d completions; those jobs stay in progress", self.slot, len(done)
                    )
                    break
                self._sleep(min(0.01 * 2**errors, 2.0))
                continue
            except redis.RedisError as err:
                logger.error("worker %d: work step failed: %s; %d jobs stay in progress", self.slot, err, len(done))
                pool.held_remove(c.fetched.raw for c in done)
                done = []
                self._sleep(0.1)
                continue
            done = []
            if not fetched:
                if stopping:
                    break
                if quiet:
                    self.drained_round = drain_round
                    pool.worker_drained()
                empty += 1
                self._sleep(backoffs[min(empty, len(backoffs) - 1)] / 1000)
                continue
            empty = 0
            started = time.monotonic()
            for i, f in enumerate(fetched):
                if pool.stopping.is_set():  # hand back what was fetched but not started
                    done += [Completion(rest, "put_back") for rest in fetched[i:]]
                    break
                c = pool.processor.process(f, self.slot)
                if c.kind == "abandoned":  # left in progress for a reaper
                    continue
                done.append(c)
            want = self._next_want(want, len(fetched), time.monotonic() - started)

    def _next_want(self, want: int, ran: int, seconds: float) -> int:
        if ran and seconds / ran < FAST_JOB_SECONDS:
            return min(want * 2, self.pool.settings.fetch_batch)
        return 1

    def _sleep(self, seconds: float) -> None:
        if self.wake.wait(seconds):
            self.wake.clear()
