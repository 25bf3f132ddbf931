"""Celery's exception names, rooted in one base class (Celery's ``celery.exceptions``).

Code that does ``from celery.exceptions import Retry, MaxRetriesExceededError`` switches to
``celery_shim.exceptions`` and keeps its ``except`` clauses. Retry, Ignore and Reject are
control-flow exceptions: a task raises them to tell the runner what to do with the job.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import TYPE_CHECKING, Any

from work_compat import RedisUnavailableError

if TYPE_CHECKING:
    from .canvas import Signature

# Celery raises kombu's EncodeError and OperationalError at publish; where kombu is installed ours
# subclass them, so ``except kombu.exceptions.OperationalError`` in user code still catches them.
if TYPE_CHECKING:  # what mypy needs to know: they are exceptions

    class _EncodeBase(Exception): ...

    class _OperationalBase(Exception): ...

else:
    try:
        from kombu.exceptions import EncodeError as _EncodeBase
        from kombu.exceptions import OperationalError as _OperationalBase
    except ImportError:  # kombu is optional

        class _EncodeBase(Exception):
            pass

        class _OperationalBase(Exception):
            pass


__all__ = [
    "BackendError",
    "CeleryError",
    "CeleryShimError",
    "ChordError",
    "EncodeError",
    "Ignore",
    "ImproperlyConfigured",
    "MaxRetriesExceededError",
    "NotRegistered",
    "OperationalError",
    "QueueNotFound",
    "Reject",
    "Retry",
    "ScheduleError",
    "SecurityError",
    "SoftTimeLimitExceeded",
    "SolarNotSupportedError",
    "TaskError",
    "TaskPredicate",
    "TaskRevokedError",
    "TimeLimitExceeded",
    "TimeoutError",
    "WorkerLostError",
]


class CeleryShimError(Exception):
    """Base class of every error celery_shim raises on purpose (Celery's ``CeleryError``)."""


class ImproperlyConfigured(CeleryShimError):
    """A setting the shim cannot work with: a non-Redis broker, a serializer other than json, ..."""


class TaskPredicate(CeleryShimError):
    """Base of the control-flow exceptions a task raises to steer its own fate."""


class Retry(TaskPredicate):
    """Raised by ``Task.retry()``: the task is to run again later (control flow, not a failure).

    ``sig`` is the call to run again; ``when`` is the countdown (seconds) or eta of that run.
    """

    def __init__(
        self,
        message: str | None = None,
        exc: BaseException | str | None = None,
        when: float | dt.datetime | None = None,
        is_eager: bool = False,
        sig: Signature | None = None,
        **kwargs: Any,
    ) -> None:
        self.message = message
        self.exc = exc
        self.excs = str(exc) if exc is not None else None
        self.when = when
        self.is_eager = is_eager
        self.sig = sig
        super().__init__(self, exc, when, **kwargs)

    def humanize(self) -> str:
        if isinstance(self.when, (int, float)):
            return f"in {self.when}s"
        return f"at {self.when}"

    def __str__(self) -> str:
        if self.message:
            return self.message
        if self.excs:
            return f"Retry {self.humanize()}: {self.excs}"
        return f"Retry {self.humanize()}"

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__class__, (self.message, self.exc, self.when)


class Ignore(TaskPredicate):
    """Raised by a task to drop its job without recording a state."""


class Reject(TaskPredicate):
    """Raised by a task to reject its job; ``requeue=True`` puts it back on the queue."""

    def __init__(self, reason: Any = None, requeue: bool = False) -> None:
        self.reason = reason
        self.requeue = requeue
        super().__init__(reason, requeue)


class TaskError(CeleryShimError):
    """Base of the errors about a task as a whole."""


class MaxRetriesExceededError(TaskError):
    """``retry()`` was called once more than ``max_retries`` allows (and no ``exc`` was given)."""

    def __init__(self, *args: Any, task_args: Any = None, task_kwargs: Any = None) -> None:
        self.task_args = task_args
        self.task_kwargs = task_kwargs
        super().__init__(*args)


class NotRegistered(TaskError, KeyError):
    """No task of that name is registered with the app."""

    def __str__(self) -> str:
        return f"Task of name {self.args[0]!r} is not registered" if self.args else "task not registered"


class TaskRevokedError(TaskError):
    """The task was revoked (or expired) before it ran."""


class ChordError(TaskError):
    """A chord's body was not called because a header task failed (stored as the body's FAILURE)."""


class TimeoutError(TaskError, builtins.TimeoutError):
    """``AsyncResult.get(timeout=...)`` ran out of time."""


class EncodeError(CeleryShimError, _EncodeBase, TypeError):
    """An argument JSON (and so a Go peer) cannot carry; raised at publish, and in eager mode too.

    Celery raises ``kombu.exceptions.EncodeError`` here: this class is one where kombu is installed,
    and also a TypeError.
    """

    def __init__(self, argument: str, value: Any, reason: str) -> None:
        super().__init__(f"cannot encode argument {argument!r}: {reason}")
        self.argument = argument
        self.value = value
        self.reason = reason


class OperationalError(CeleryShimError, RedisUnavailableError, _OperationalBase):
    """Publishing failed: Redis could not be reached, after the publish retry policy's attempts.

    Celery raises ``kombu.exceptions.OperationalError`` here: this class is one where kombu is
    installed, and also work_compat's RedisUnavailableError (a ConnectionError).
    """


class ScheduleError(CeleryShimError, ValueError):
    """A periodic schedule that cannot be used: a bad crontab field, a non-positive interval.

    Celery raises ValueError here; this class also subclasses ValueError.
    """


class SolarNotSupportedError(CeleryShimError, NotImplementedError):
    """``solar()`` schedules: Celery computes them with the ``ephem`` package; the shim does not."""


class SoftTimeLimitExceeded(CeleryShimError):
    """The soft time limit passed (raised inside the task by the worker)."""


class TimeLimitExceeded(CeleryShimError):
    """The hard time limit passed; the worker killed the task."""


class WorkerLostError(CeleryShimError):
    """The process running the task exited before finishing it."""


class BackendError(CeleryShimError):
    """A result backend could not be written or read (Celery's name; Flower catches it)."""


CeleryError = CeleryShimError  # Celery's name for the base class: ``except CeleryError`` catches ours


class QueueNotFound(TaskError, KeyError):
    """A task routed to a queue the app does not declare (Celery's name, for ``except`` clauses)."""


class SecurityError(CeleryShimError):
    """Celery's message-signing errors; celery_shim signs nothing (its name, for ``except`` clauses)."""
