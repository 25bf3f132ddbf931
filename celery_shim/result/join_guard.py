"""Whether the current thread runs a task: ``get()`` inside a task can deadlock a worker pool.

The worker wraps each task run in ``denied_join_result()``; ``AsyncResult.get()`` then refuses to
wait unless called with ``disable_sync_subtasks=False`` or inside ``allow_join_result()``. The flag
is per thread, since a thread pool runs several tasks at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

__all__ = ["WOULD_BLOCK", "allow_join_result", "assert_will_not_block", "denied_join_result", "task_join_will_block"]

WOULD_BLOCK = (
    "Never call result.get() within a task!\n"
    "See https://docs.celeryq.dev/en/latest/userguide/tasks.html#avoid-launching-synchronous-subtasks"
)

_join = threading.local()


def task_join_will_block() -> bool:
    """True while this thread runs a task (the worker sets it with ``denied_join_result``)."""
    return bool(getattr(_join, "will_block", False))


@contextlib.contextmanager
def _join_blocking(value: bool) -> Iterator[None]:
    before = task_join_will_block()
    _join.will_block = value
    try:
        yield
    finally:
        _join.will_block = before


def allow_join_result() -> contextlib.AbstractContextManager[None]:
    """Let ``get()`` wait inside a task (you accept the deadlock risk)."""
    return _join_blocking(False)


def denied_join_result() -> contextlib.AbstractContextManager[None]:
    """Make ``get()`` refuse to wait (the worker wraps each task run in this)."""
    return _join_blocking(True)


def assert_will_not_block() -> None:
    if task_join_will_block():
        raise RuntimeError(WOULD_BLOCK)
