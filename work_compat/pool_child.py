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
``("tell", payload)``, ``("stop",)``. Child to parent: ``("held", [job bytes])``, ``("drained", round)``,
``("repair",)``, ``("retire",)``, ``("bad_key", key, expected type, what skipped it, its type)``.

A handler in a child may set its own job's hard time limit (``set_time_limit``), ask for its child
to be replaced once the job is done (``retire``), and hear what the parent's code tells the children
(``on_tell``, fed by ``WorkerPool.tell_children``): celery_shim's prefork pool uses these.
"""

from __future__ import annotations

import hashlib
import logging
import math
import multiprocessing.connection
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
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

__all__ = ["DIGEST_SIZE", "ChildSpec", "child_main", "digest", "in_child", "on_tell", "retire", "set_time_limit"]

logger = logging.getLogger(__name__)

DIGEST_SIZE = 16

_current: ChildPool | None = None  # the host of this process, when it is a pool's child


def in_child() -> bool:
    """Whether this process is a process pool's child (started by ``child_main``)."""
    return _current is not None


def set_time_limit(seconds: float | None) -> None:
    """Set the running job's hard time limit, from now (None: none), replacing its job type's:
    for limits known only once the job is read. The parent kills the child when it is over."""
    if _current is not None:
        deadline, _ = _current.shared
        deadline[0] = time.monotonic() + seconds if seconds else math.inf


def retire() -> None:
    """Replace this child by a fresh one once its running job is done (and its completion
    written): it stops fetching, and the parent starts the next child without counting a crash."""
    if _current is not None:
        _current.stopping.set()  # no next fetch: what was fetched with this job goes back
        _current.send(("retire",))


def on_tell(listener: Callable[[Any], None]) -> None:
    """Call ``listener(payload)`` with every ``WorkerPool.tell_children(payload)`` of the parent."""
    if _current is not None:
        _current.listeners.append(listener)


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
    environ: dict[str, str] | None = None  # the parent's, as it was when this child started
    parent_pid: int | None = None  # the pool's process (a fork server's children have another parent)


class ChildPool(WorkerHost):
    """The host of the one worker of a child process."""

    def __init__(self, spec: ChildSpec, registry: bytes, conn: multiprocessing.connection.Connection, shared: Any):
        global _current
        _current = self  # before the registry is loaded: its handlers may ask for on_tell
        self._init_host()
        self.spec = spec
        self.conn = conn
        self.shared = shared  # (deadline array of one double, digest bytes array)
        self._send_lock = threading.Lock()
        self.listeners: list[Callable[[Any], None]] = []
        job_types: dict[str, JobType]
        job_types, middleware, context, fetch_filter = pickle.loads(registry)
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
        """Run the worker in this (main) thread until the parent says stop or goes away; another
        thread answers the parent. In the main thread, a handler's signal handlers (SIGALRM for
        Celery's soft time limits) raise inside the handler, as in a thread pool's only thread."""
        self.observer.start()
        self.flusher.start()
        listener = threading.Thread(target=self._listen, name="work-compat-child-listener", daemon=True)
        listener.start()
        self.workers[0].run()
        self.flusher.stop()
        self.observer.stop()
        if self._async is not None:
            self._async.close()
        self._conn.close()

    def _listen(self) -> None:
        try:
            self._answer()
        finally:
            self.stopping.set()
            self.wake()

    def _answer(self) -> None:
        later: list[tuple[Any, ...]] = []
        while True:
            try:
                msg = later.pop(0) if later else self.conn.recv()
            except (EOFError, OSError):
                return
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
            elif kind == "tell":
                for listener in self.listeners:
                    try:
                        listener(msg[1])
                    except Exception:
                        logger.exception("pool child %d: a listener failed on %r", self.spec.slot, msg[1])
            elif kind == "stop":
                return


def child_main(
    conn: multiprocessing.connection.Connection, spec: ChildSpec, registry: bytes, shared: tuple[Any, Any]
) -> None:
    """The entry point of a child process (forked by a fork server, or spawned: see ``child_context``)."""
    # The parent decides when children stop; a Ctrl-C reaches the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if spec.environ is not None:  # forked from a fork server started earlier: the pool's environment now
        os.environ.clear()
        os.environ.update(spec.environ)
    exit_with_parent(parent=spec.parent_pid)
    ChildPool(spec, registry, conn, shared).serve()
