"""The flusher: what a worker holds never waits behind the job it is running.

A worker may fetch a few jobs at once when jobs are quick. While it runs the next one, this thread
writes the completions of those it finished, for every worker in one ``work_step`` call (fetching
nothing): a completion reaches Redis about one round trip after its handler returned, and the
writes batch themselves (what finished during one write goes in the next). When the job a worker
runs takes longer than ``settings.fold_window``, the flusher also hands the fetched jobs the
worker has not started back to the front of their queues, with their lock counters undone, where
any pool (Go's too) can take them at once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import redis

from .processor import Completion
from .script_call import ScriptCaller
from .worker import Worker, hand_back, settle, step_arguments

if TYPE_CHECKING:
    from .worker_host import WorkerHost

__all__ = ["Flusher"]

logger = logging.getLogger(__name__)


class Flusher:
    """Takes and writes what workers hold while they run their next job.

    It writes as long as there are completions, ticks every ``window`` seconds while some worker
    holds unstarted jobs, and parks otherwise; ``watch()`` wakes it.
    """

    def __init__(self, pool: WorkerHost, window: float) -> None:
        self.pool = pool
        self.window = window
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._parked = False
        self._failed: list[tuple[Worker, list[Completion]]] = []  # writes to try again
        self._call: ScriptCaller | None = None  # this thread's connection (stop()'s last flush uses the pool's)
        self.thread = threading.Thread(target=self._run, name="work-compat-flusher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def watch(self) -> None:
        """A worker started a job while holding something: make sure the flusher runs."""
        if self._parked:
            self._parked = False
            self._wake.set()

    def stop(self) -> None:
        """Stop ticking, then write whatever every worker still holds (for workers whose job
        outlived the pool's stop: their fetched jobs go back, their completions are written)."""
        self._stop.set()
        self._wake.set()
        self.thread.join(5)
        self.flush(0.0)

    def _run(self) -> None:
        self._call = ScriptCaller(self.pool.scripts.work_step)
        try:
            self._loop()
        finally:
            self._call.close()
            self._call = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.flush(self.window):
                    continue  # what finished during that write goes in the next one
                if self._holding():
                    self._stop.wait(self.window)
                    continue
                self._parked = True
                if self._holding():  # a worker may have checked before we set _parked
                    self._parked = False
                    continue
                self._wake.wait()
                self._wake.clear()
            except Exception:  # never let the thread die: workers rely on it
                logger.exception("flusher failed; going on")
                self._stop.wait(self.window)

    def _holding(self) -> bool:
        for w in self.pool.workers:
            with w.lock:
                if w.pending or w.unstarted or w.flushing:
                    return True
        return bool(self._failed)

    def flush(self, older_than: float) -> bool:
        """Write the completions of every worker running a job, and hand back the unstarted jobs
        of those whose job started ``older_than`` seconds ago or more (0: every worker's, running
        or not). True if anything was written or is to be retried."""
        now = time.monotonic()
        taken, self._failed = self._failed, []
        for w in self.pool.workers:
            with w.lock:
                long = not older_than or (w.running_since and now - w.running_since >= older_than)
                if long and (w.pending or w.unstarted):
                    done = w.pending + hand_back(w.unstarted)
                    w.pending, w.unstarted = [], []
                elif w.running_since and w.pending and now - w.pending_since >= older_than:
                    done, w.pending = w.pending, []
                else:
                    continue
                w.flushing += len(done)
            taken.append((w, done))
        if not taken:
            return False
        on_thread = threading.current_thread() is self.thread
        self._write(taken, self._call if on_thread and self._call is not None else None)
        return True

    def _write(self, taken: list[tuple[Worker, list[Completion]]], call: ScriptCaller | None) -> None:
        pool = self.pool
        done = [c for _, cs in taken for c in cs]
        script_keys, script_args = step_arguments(pool.keys, pool.pool_id, done, [], [], 0)
        try:
            with pool.gate.step():
                if call is not None:
                    reply = call(script_keys, script_args)
                else:
                    reply = pool.scripts.work_step(keys=script_keys, args=script_args)
        except (redis.ConnectionError, redis.TimeoutError) as err:
            # Safe to send again: a completion or hand-back whose job is no longer in progress
            # changes nothing.
            pool.outage.failed("flusher", err)
            self._failed = taken
            return
        except redis.RedisError as err:
            logger.error("flusher: writing %d completions failed: %s; those jobs stay in progress", len(done), err)
            pool.held_remove(c.fetched.raw for c in done)
        else:
            pool.outage.recovered()
            settle(pool, done, reply[1], pool.stopping.is_set())
        for w, cs in taken:
            with w.lock:
                w.flushing -= len(cs)
