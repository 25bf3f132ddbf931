"""``autoretry_for``: exceptions that turn into ``self.retry(exc=exc)`` (Celery's autoretry).

The worker and eager ``apply()`` call a task through ``run_task``. An exception listed in
``autoretry_for`` (and not in ``dont_autoretry_for``; Retry and Ignore never) becomes
``task.retry(exc=exc, **retry_kwargs)``, with the countdown
``min(retry_backoff_max, factor * 2**retries)`` when ``retry_backoff`` is set (factor 1 for True),
drawn uniformly from ``0..countdown`` when ``retry_jitter`` (the default). Without ``retry_backoff``
the countdown is ``retry_kwargs['countdown']`` or ``default_retry_delay``, as in Celery's code.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ..exceptions import Ignore, Retry

if TYPE_CHECKING:
    from .task import Task

__all__ = ["backoff_countdown", "run_task"]


def backoff_countdown(factor: int, retries: int, maximum: int, jitter: bool, rng: random.Random | None = None) -> int:
    """Celery's exponential backoff: ``min(maximum, factor * 2**retries)``, jittered to ``0..that``."""
    countdown: int = min(maximum, factor << max(0, retries))
    if jitter:
        countdown = int((rng or random).randrange(countdown + 1))
    return max(0, countdown)


def _types(value: Any) -> tuple[type[BaseException], ...]:
    if not value:
        return ()
    if isinstance(value, type):
        return (value,)
    return tuple(value)


_custom_call: dict[type, bool] = {}


def _has_custom_call(cls: type) -> bool:
    """True when a class of the task's own defines ``__call__`` (Celery then calls the task, not ``run``)."""
    known = _custom_call.get(cls)
    if known is None:
        from .task import Task

        mro = cls.__mro__
        own = mro[: mro.index(Task)] if Task in mro else mro
        known = _custom_call[cls] = any("__call__" in vars(klass) for klass in own)
    return known


def run_task(task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call ``task.run(*args, **kwargs)`` with the task's autoretry rules; through the task's own
    ``__call__`` when its class defines one (Flask's app-context task class, for one), as Celery does."""
    call = task if _has_custom_call(type(task)) else task.run
    retry_for = _types(getattr(task, "autoretry_for", ()))
    if not retry_for:
        return call(*args, **kwargs)
    not_for = _types(getattr(task, "dont_autoretry_for", ()))
    try:
        return call(*args, **kwargs)
    except (Ignore, Retry):
        raise
    except Exception as exc:
        if not isinstance(exc, retry_for) or (not_for and isinstance(exc, not_for)):
            raise
        options = dict(getattr(task, "retry_kwargs", None) or {})
        backoff = getattr(task, "retry_backoff", False)
        if backoff:
            options["countdown"] = backoff_countdown(
                int(max(1.0, float(backoff))),
                task.request.retries,
                int(getattr(task, "retry_backoff_max", 600)),
                bool(getattr(task, "retry_jitter", True)),
            )
        raise task.retry(exc=exc, **options) from exc
