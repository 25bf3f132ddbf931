"""Where handlers run: in the worker thread, on the pool's event loop, or in a child process.

Every runner turns one handler call into an Outcome, a plain value that crosses process
boundaries. ``ProcessRunner`` keeps fetch and completion in the parent and sends each job to a
child: a ``processes=True`` pool given a client object uses it (and celery_shim's prefork pool
on a broker no URL describes); a pool given a URL runs children that fetch their own jobs
(``pool_children``).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import select
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError, DeadNow, Discard, JobFate, PutBack, RetryAt
from .job import Job, decode_job
from .job_options import JobType
from .middleware import NO_CONTEXT, Handler, Middleware, run_chain, run_chain_async

__all__ = ["AsyncRunner", "Outcome", "ProcessRunner", "ThreadRunner", "error_text", "exit_with_parent"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What one handler call came to. ``kind``: ok, error, retry_at, dead, put_back, discard, or
    abandoned (the pool killed the process running it while stopping)."""

    kind: str
    message: str = ""
    at: int = 0
    args: dict[str, Any] | None = None
    history_status: str | None = None
    extra: dict[str, Any] | None = None

    @classmethod
    def from_fate(cls, fate: JobFate) -> Outcome:
        if isinstance(fate, RetryAt):
            return cls(
                "retry_at", fate.reason, at=fate.at, args=fate.new_args, history_status="retry", extra=fate.extra
            )
        if isinstance(fate, DeadNow):
            return cls("dead", fate.reason, history_status="dead")
        if isinstance(fate, PutBack):
            return cls("put_back", fate.reason)
        if isinstance(fate, Discard):
            return cls("discard", fate.reason, history_status=fate.history_status)
        return cls("error", f"unknown job fate {type(fate).__name__}: {fate}")


OK = Outcome("ok")


def error_text(err: BaseException) -> str:
    """A job's ``err`` for an exception: its type and message, as Go's error text is its message."""
    message = str(err)
    return f"{type(err).__name__}: {message}" if message else type(err).__name__


def _context(factory: Callable[[], Any] | None) -> Any:
    return NO_CONTEXT if factory is None else factory()


def call_handler(handler: Handler, job: Job, middleware: Sequence[Middleware], context: Any) -> Outcome:
    """Run the sync chain here; any exception becomes the Outcome."""
    try:
        run_chain(middleware, handler, job, context)
    except JobFate as fate:
        return Outcome.from_fate(fate)
    except Exception as err:  # a handler's failure is data for the job, not a crash of the pool
        logger.debug("job %s %s failed:\n%s", job.name, job.id, traceback.format_exc())
        return Outcome("error", error_text(err))
    return OK


class ThreadRunner:
    """Runs sync handlers in the calling worker thread (the default: for I/O-bound jobs)."""

    def __init__(self, middleware: Sequence[Middleware], context: Callable[[], Any] | None) -> None:
        self.middleware = middleware
        self.context = context

    def run(self, job_type: JobType, job: Job, raw: bytes, slot: int) -> Outcome:
        return call_handler(job_type.handler, job, self.middleware, _context(self.context))

    def close(self) -> None:
        pass


class AsyncRunner:
    """Runs ``async def`` handlers on one event loop the pool owns, in its own thread."""

    def __init__(self, middleware: Sequence[Middleware], context: Callable[[], Any] | None) -> None:
        self.middleware = middleware
        self.context = context
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="work-compat-loop", daemon=True)
        self.thread.start()

    async def _call(self, job_type: JobType, job: Job) -> Outcome:
        try:
            await run_chain_async(self.middleware, job_type.handler, job, _context(self.context))
        except JobFate as fate:
            return Outcome.from_fate(fate)
        except Exception as err:
            return Outcome("error", error_text(err))
        return OK

    def run(self, job_type: JobType, job: Job, raw: bytes, slot: int) -> Outcome:
        return asyncio.run_coroutine_threadsafe(self._call(job_type, job), self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


# -- child processes ---------------------------------------------------------------------------------


def _child_main(conn: multiprocessing.connection.Connection, registry: bytes) -> None:
    """A child: receive (job name, job bytes), run the chain, send back the Outcome."""
    # The parent decides when children stop; a Ctrl-C reaches the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    exit_with_parent()
    handlers, middleware, context = pickle.loads(registry)

    def checkin(job_id: str, text: str) -> None:
        _send_quietly(conn, ("checkin", job_id, text))

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if msg is None:
            return
        name, raw = msg
        job = decode_job(raw)
        job._checkin = checkin
        outcome = call_handler(handlers[name], job, middleware, _context(context))
        if not _send_quietly(conn, ("done", outcome)):
            return


def _send_quietly(conn: multiprocessing.connection.Connection, msg: tuple[Any, ...]) -> bool:
    """Send to the parent; False once the parent is gone (its pipe closed), which ends the child."""
    try:
        conn.send(msg)
    except OSError:  # BrokenPipeError, ConnectionResetError: the parent died
        return False
    return True


def exit_with_parent(interval: float = 1.0, parent: int | None = None) -> None:
    """End this child soon after its parent dies, even in the middle of a long handler.

    A parent killed with SIGKILL cannot stop its children, and its job is left in progress for a
    reaper, which requeues it: a child still running it would only duplicate the work. Polling is
    used rather than PR_SET_PDEATHSIG, which fires when the *thread* that started the child exits,
    and replacement children are started from worker threads. ``parent``: the pid to watch when it
    is not this process's parent (a child forked by a fork server, which outlives the pool while
    any of its children runs); watched through a pidfd where there is one, so a reused pid cannot
    pass for it.
    """
    if parent is None or parent == os.getppid():
        parent = os.getppid()

        def gone() -> bool:
            return os.getppid() != parent

    else:
        gone = _exit_check(parent)

    def watch() -> None:
        while True:
            time.sleep(interval)
            if gone():
                os._exit(1)

    threading.Thread(target=watch, name="work-compat-parent-watch", daemon=True).start()


def _exit_check(pid: int) -> Callable[[], bool]:
    """A check that says whether process ``pid`` has ended."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd here (not Linux 5.3+), or already gone
        fd = -1

    def by_signal() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    if fd < 0:
        return by_signal

    def by_pidfd() -> bool:
        readable, _, _ = select.select([fd], [], [], 0)  # a pidfd turns readable when its process ends
        return bool(readable)

    return by_pidfd


@dataclass
class _Child:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection


class ProcessRunner:
    """Runs handlers in child processes, one per worker slot (for CPU-bound jobs).

    The parent keeps every Redis step. A child that dies, or overruns its job's ``time_limit``, is
    killed and replaced, and the job fails with an ``err`` that says so (so retry/dead rules apply).
    Handlers, middleware and the context factory must be importable (module-level) so that the
    children, started with ``spawn``, can load them.
    """

    def __init__(
        self,
        job_types: dict[str, JobType],
        middleware: Sequence[Middleware],
        context: Callable[[], Any] | None,
        slots: int,
        on_checkin: Callable[[int, str, str], None],
    ) -> None:
        handlers = {name: jt.handler for name, jt in job_types.items()}  # options stay in the parent
        try:
            self.registry = pickle.dumps((handlers, list(middleware), context))
        except (pickle.PicklingError, AttributeError, TypeError) as err:
            raise ConfigurationError(
                f"a process pool needs module-level handlers, middleware and context: {err}"
            ) from None
        self.mp = multiprocessing.get_context("spawn")
        self.on_checkin = on_checkin
        self.children: list[_Child | None] = [None] * slots
        self.busy: list[bool] = [False] * slots
        self.closing = False

    def _spawn(self, slot: int) -> _Child:
        parent, child = self.mp.Pipe()
        process = self.mp.Process(
            target=_child_main, args=(child, self.registry), name=f"work-compat-child-{slot}", daemon=True
        )
        process.start()
        child.close()
        return _Child(process, parent)

    def start(self) -> None:
        for slot in range(len(self.children)):
            self.children[slot] = self._spawn(slot)

    def run(self, job_type: JobType, job: Job, raw: bytes, slot: int) -> Outcome:
        child = self.children[slot] or self._spawn(slot)
        self.children[slot] = child
        limit = job_type.options.time_limit
        self.busy[slot] = True
        try:
            child.conn.send((job_type.name, raw))
            while True:
                if not child.conn.poll(limit):
                    self._replace(slot, kill=True)
                    return Outcome("error", f"TimeLimitExceeded: the job ran over its hard time limit of {limit}s")
                msg = child.conn.recv()
                if msg[0] == "checkin":
                    self.on_checkin(slot, msg[1], msg[2])
                    continue
                outcome: Outcome = msg[1]
                return outcome
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            child.process.join(timeout=1)  # reap it, so its exit code is known
            code = child.process.exitcode
            if self.closing:  # the pool killed it while stopping: the job stays for a reaper
                return Outcome("abandoned", "the pool stopped while the job ran")
            self._replace(slot, kill=True)
            return Outcome("error", f"WorkerLost: the worker process died (exit code {code}) while running the job")
        finally:
            self.busy[slot] = False

    def kill_busy(self) -> None:
        """Kill the children still running a job (a stop whose time is up); their jobs are left
        in progress for a reaper rather than counted as failures."""
        self.closing = True
        for slot, child in enumerate(self.children):
            if child is not None and self.busy[slot] and child.process.is_alive():
                child.process.kill()

    def recycle(self, slot: int) -> None:
        """Replace the idle child of ``slot`` by a fresh one; the old one exits cleanly (for
        Celery's ``max_tasks_per_child``). Call it from the slot's own worker, between jobs."""
        child = self.children[slot]
        if child is not None:
            try:
                child.conn.send(None)
            except OSError:
                pass
            child.process.join(timeout=5)
            if child.process.is_alive():
                child.process.kill()
                child.process.join(timeout=5)
            child.conn.close()
        self.children[slot] = self._spawn(slot)

    def _replace(self, slot: int, kill: bool) -> None:
        child = self.children[slot]
        if child is not None:
            if kill and child.process.is_alive():
                child.process.kill()
            child.process.join(timeout=5)
            child.conn.close()
        self.children[slot] = self._spawn(slot)

    def close(self) -> None:
        self.closing = True
        live = [c for c in self.children if c is not None]
        for child in live:
            try:
                child.conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        for child in live:  # one shared grace period, not one per child
            child.process.join(max(0.0, deadline - time.monotonic()))
            if child.process.is_alive():
                child.process.kill()
                child.process.join(timeout=5)
            child.conn.close()
        self.children = [None] * len(self.children)
