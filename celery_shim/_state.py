"""The state a process keeps across apps (Celery's ``celery._state``): the current app, every app
made and the shared tasks bound to them, and the task running in each thread.

It sits below every package, so that results, signatures and task loggers find the current app and
task without importing the app layer. The app layer says how a default app is made
(``default_app_factory``) when it is imported, which ``import celery_shim`` always does first.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app.base import Celery
    from .app.task import Task

__all__ = ["current_app", "current_task", "pushed", "set_current_app"]

# Celery's shared_task binds a task to every app, present and future, and resolves the "current"
# app at call time. Apps are held weakly; the current app is the last one built with
# set_as_current=True (or the default app, made on first need).
# Underscored: read and changed only by celery_shim's app layer and its pytest plugin.
_lock = threading.Lock()
_current: Celery | None = None
_apps: weakref.WeakSet[Celery] = weakref.WeakSet()
_shared: list[Task] = []
_running = threading.local()  # .stack: the tasks running in this thread, innermost last

default_app_factory: Callable[[], Celery] | None = None


def current_app() -> Celery:
    """The current app: the last one made with ``set_as_current=True``, else a default app."""
    with _lock:
        app = _current
    if app is None:
        if default_app_factory is None:
            raise RuntimeError("celery_shim.app is not imported, so there is no app to use")
        app = default_app_factory()
    return app


def set_current_app(app: Celery) -> None:
    global _current
    with _lock:
        _current = app


def current_task() -> Task | None:
    """The task running in this thread, if any (Celery's ``current_task``)."""
    stack: list[Task] | None = getattr(_running, "stack", None)
    return stack[-1] if stack else None


@contextmanager
def pushed(task: Task, request: Any) -> Iterator[None]:
    """Make ``task`` the current task and ``request`` its request in this thread, for the block."""
    stack: list[Task] | None = getattr(_running, "stack", None)
    if stack is None:
        stack = _running.stack = []
    requests = task._stack()
    stack.append(task)
    requests.append(request)
    try:
        yield
    finally:
        requests.pop()
        stack.pop()
