"""Time limits (spec D13): which limits apply to a call, and the soft limit's delivery.

The limits of one call, first found wins: the call's own (``apply_async(time_limit=...)``, in the
job's ``celery`` metadata), a runtime override (``app.control.time_limit``, read from
``<ns>:celery:time_limits``), the task's options, the worker's ``--time-limit``/``--soft-time-limit``,
then ``task_time_limit``/``task_soft_time_limit``.

The soft limit raises SoftTimeLimitExceeded inside the task: in a prefork child through SIGALRM
(the task runs in the child's main thread), in a thread through an asynchronous exception, which
Python raises at the thread's next bytecode (best effort: a long C call is not interrupted). The
hard limit needs a process to kill, so only prefork enforces it (see ``prefork``).
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import itertools
import json
import logging
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..exceptions import SoftTimeLimitExceeded

if TYPE_CHECKING:
    from ..app.base import Celery
    from ..app.task import Task

__all__ = ["AlarmSoftLimit", "Limits", "ThreadSoftLimit", "effective_limits", "parse_runtime_limits"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """The hard and soft limit of one call, in seconds (None: no limit)."""

    hard: float | None = None
    soft: float | None = None


NO_LIMITS = Limits()


def _seconds(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def parse_runtime_limits(raw: Mapping[Any, Any]) -> dict[str, Limits]:
    """The ``<ns>:celery:time_limits`` hash (name -> ``{"soft": s, "hard": h}``) as Limits."""
    out: dict[str, Limits] = {}
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        try:
            doc = json.loads(value)
        except (TypeError, ValueError):
            logger.warning("runtime time limit of %s is not JSON: %r; ignored", name, value)
            continue
        if isinstance(doc, Mapping):
            out[name] = Limits(_seconds(doc.get("hard")), _seconds(doc.get("soft")))
    return out


def effective_limits(
    app: Celery,
    task: Task,
    meta: Mapping[str, Any],
    *,
    runtime: Limits | None = None,
    worker: Limits | None = None,
    conf: Any = None,
) -> Limits:
    """The limits that apply to one call of ``task`` (see the module docstring for the order; the
    settings are read from ``conf``, by default the conf's snapshot, see ``config``)."""
    if conf is None:
        conf = app.conf.snapshot()
    hard = _first(
        meta.get("time_limit"),
        runtime.hard if runtime else None,
        getattr(task, "time_limit", None),
        worker.hard if worker else None,
        conf.get("task_time_limit"),
    )
    soft = _first(
        meta.get("soft_time_limit"),
        runtime.soft if runtime else None,
        getattr(task, "soft_time_limit", None),
        worker.soft if worker else None,
        conf.get("task_soft_time_limit"),
    )
    if hard is None and soft is None:
        return NO_LIMITS
    return Limits(hard, soft)


def _first(*candidates: Any) -> float | None:
    """The first candidate that is a positive number of seconds."""
    for value in candidates:
        if value is not None:
            seconds = _seconds(value)
            if seconds is not None:
                return seconds
    return None


def _inject(thread_id: int, exc: type[BaseException] | None) -> int:
    """Raise ``exc`` in thread ``thread_id`` at its next bytecode (None clears a pending one)."""
    target = ctypes.py_object(exc) if exc is not None else None
    return int(ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target))


class ThreadSoftLimit:
    """Soft limits for tasks running in threads: one watcher thread for every worker thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, int] = {}  # token -> thread id, while the task runs
        self._fired: set[int] = set()
        self._tokens = itertools.count(1)
        self._closed = False
        self._thread: threading.Thread | None = None

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="celery-shim-soft-limits", daemon=True)
            self._thread.start()

    @contextlib.contextmanager
    def limit(self, seconds: float | None) -> Iterator[None]:
        """Run the block with a soft limit of ``seconds`` (None: none)."""
        if not seconds:
            yield
            return
        token = self._arm(seconds)
        try:
            yield
        finally:
            self._disarm(token)

    def _arm(self, seconds: float) -> int:
        with self._cond:
            token = next(self._tokens)
            self._armed[token] = threading.get_ident()
            heapq.heappush(self._heap, (time.monotonic() + seconds, token))
            self._ensure_thread()
            self._cond.notify()
            return token

    def _disarm(self, token: int) -> None:
        with self._cond:
            thread_id = self._armed.pop(token, None)
            if token in self._fired:
                self._fired.discard(token)
                if thread_id is not None:
                    _inject(thread_id, None)  # not raised yet: the task finished first

    def _watch(self) -> None:
        with self._cond:
            while not self._closed:
                if not self._heap:
                    self._cond.wait()
                    continue
                due, token = self._heap[0]
                left = due - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(self._heap)
                thread_id = self._armed.get(token)
                if thread_id is not None:
                    self._fired.add(token)
                    _inject(thread_id, SoftTimeLimitExceeded)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()


class AlarmSoftLimit:
    """Soft limits in a prefork child, whose tasks run in the main thread: SIGALRM raises."""

    @staticmethod
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise SoftTimeLimitExceeded()

    @contextlib.contextmanager
    def limit(self, seconds: float | None) -> Iterator[None]:
        if not seconds or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGALRM, self._raise)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def close(self) -> None:
        pass
