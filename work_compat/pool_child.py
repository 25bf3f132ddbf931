"""A child process of a process pool (``processes=True``): one worker that fetches, runs and
completes its own jobs on its own Redis connection, under the parent's pool id.

The parent (``pool_children``) keeps the pool's heartbeat, reaper, requeuers and periodic
enqueuer, and watches its children. Every child's jobs sit in the pool's shared in-progress lists,
as Go's reaper expects; to tell whose they are, the parent asks the live children what they hold
(``hold``: the child closes its gate, so no fetch is under way, and answers with its jobs, then
waits for ``resume``). A child also shows the parent the job it is running, in shared memory: a
digest of its bytes and the time-limit deadline, so that a child that dies or overruns can have
that job failed (WorkerLost, TimeLimitExceeded) and the rest it held put back.

Messages, parent to child: ``("hold",)``, ``("resume",)``, ``("drain", round)``, ``("wake",)``,
``("stop",)``. Child to parent: ``("held", [job bytes])``, ``("drained", round)``, ``("repair",)``,
``("bad_key", key, expected type, what skipped it, its type)``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import multiprocessing.connection
import pickle
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .connection import connect
from .fetch_guard import FetchGuard
from .flusher import Flusher
from .job import Job
from .job_options import JobType
from .keys import Keys
from .observer import Observer
from .outage import RedisOutage
from .pool_settings import PoolSettings
from .processor import JobProcessor
from .runner import AsyncRunner, Outcome, ThreadRunner, exit_with_parent
from .sampler import PrioritySampler
from .scripts import Scripts
from .worker import Worker
from .worker_host import WorkerHost

__all__ = ["DIGEST_SIZE", "ChildSpec", "child_main", "digest"]

logger = logging.getLogger(__name__)

DIGEST_SIZE = 16


def digest(raw: bytes) -> bytes:
    """How a child names the job it runs to its parent (the bytes themselves may be large)."""
    return hashlib.blake2b(raw, digest_size=DIGEST_SIZE).digest()


@dataclass(frozen=True)
class ChildSpec:
    """Everything a child needs besides the registry (pickled separately, to fail early)."""

    namespace: str
    redis_url: str
    pool_id: str
    slot: int
    worker_ids: list[str]
    settings: PoolSettings
    sleep_backoffs: tuple[int, ...]
    clock: Clock
    drain_round: int


class ChildPool(WorkerHost):
    """The host of the one worker of a child process."""

    def __init__(self, spec: ChildSpec, registry: bytes, conn: multiprocessing.connection.Connection, shared: Any):
        job_types: dict[str, JobType]
        job_types, middleware, context, fetch_filter = pickle.loads(registry)
        self._init_host()
        self.spec = spec
        self.conn = conn
        self.shared = shared  # (deadline array of one double, digest bytes array)
        self._send_lock = threading.Lock()
        self._drained_sent = -1
        self.keys = Keys(spec.namespace)
        self.pool_id = spec.pool_id
        self.settings = spec.settings
        self.sleep_backoffs = spec.sleep_backoffs
        self.drain_round = spec.drain_round
        self._conn = connect(spec.redis_url)
        self.outage = RedisOutage(self._conn.address)
        self.scripts = Scripts(self._conn.client)
        self.fetch_guard = FetchGuard(
            self._conn.client, self.keys, self.pool_id, recheck=spec.settings.bad_key_recheck, on_report=self._report
        )
        self._fetch_filter = fetch_filter
        self._sampler = PrioritySampler([(n, jt.options.priority) for n, jt in job_types.items()])
        self.job_types = job_types
        self.observer = Observer(
            self._conn.client, self.keys, spec.worker_ids, clock=spec.clock, period=spec.settings.observer_period
        )
        self.observer.outage = self.outage
        self._threads = ThreadRunner(middleware, context)
        self._async = AsyncRunner(middleware, context) if any(jt.is_async for jt in job_types.values()) else None
        self.processor = JobProcessor(
            self._conn.client,
            self.keys,
            job_types,
            self._run,
            self.observer,
            clock=spec.clock,
            settings=spec.settings,
        )
        self.flusher = Flusher(self, spec.settings.fold_window)
        self.workers = [Worker(self, spec.slot)]

    def _run(self, job_type: JobType, job: Job, raw: bytes, slot: int) -> Outcome:
        deadline, shown = self.shared
        shown[:] = digest(raw)
        limit = job_type.options.time_limit
        deadline[0] = time.monotonic() + limit if limit is not None else math.inf
        try:
            if job_type.is_async and self._async is not None:
                return self._async.run(job_type, job, raw, slot)
            return self._threads.run(job_type, job, raw, slot)
        finally:
            deadline[0] = 0.0

    def send(self, msg: tuple[Any, ...]) -> None:
        with self._send_lock:
            try:
                self.conn.send(msg)
            except OSError:  # the parent is gone; exit_with_parent ends this process
                pass

    def _report(self, key: str, expected: str, what: str, found: str | None) -> None:
        """A wrong-type key this child met: the parent lists it in the pool's ``warnings()``."""
        self.send(("bad_key", key, expected, what, found))

    def repair_in_progress(self) -> None:
        """Only the parent can tell which jobs in the shared lists no child holds: ask it."""
        self.needs_repair.clear()
        self.send(("repair",))

    def worker_drained(self) -> None:
        drained = self.workers[0].drained_round
        if drained > self._drained_sent:
            self._drained_sent = drained
            self.send(("drained", drained))

    def wake(self) -> None:
        self.workers[0].wake.set()

    def serve(self) -> None:
        """Run the worker; answer the parent until it says stop (or goes away)."""
        self.observer.start()
        self.flusher.start()
        worker = self.workers[0]
        worker.thread.start()
        later: list[tuple[Any, ...]] = []
        while True:
            try:
                msg = later.pop(0) if later else self.conn.recv()
            except (EOFError, OSError):
                break
            kind = msg[0]
            if kind == "hold":
                with self.gate.closed():
                    self.send(("held", list(self.held_now().elements())))
                    while True:  # hold the gate until the parent has put back what no child holds
                        try:
                            nxt = self.conn.recv()
                        except (EOFError, OSError):
                            return
                        if nxt[0] == "resume":
                            break
                        later.append(nxt)
            elif kind == "drain":
                self.drain_round = max(self.drain_round, msg[1])
                self.wake()
            elif kind == "wake":
                self.wake()
            elif kind == "stop":
                break
        self.stopping.set()
        self.wake()
        worker.thread.join()
        self.flusher.stop()
        self.observer.stop()
        if self._async is not None:
            self._async.close()
        self._conn.close()


def child_main(
    conn: multiprocessing.connection.Connection, spec: ChildSpec, registry: bytes, shared: tuple[Any, Any]
) -> None:
    """The entry point of a child process (started with ``spawn``)."""
    # The parent decides when children stop; a Ctrl-C reaches the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    exit_with_parent()
    ChildPool(spec, registry, conn, shared).serve()
