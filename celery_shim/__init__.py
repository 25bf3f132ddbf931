"""celery_shim: Celery's API over gocraft/work's Redis layout.

Change ``from celery import Celery, shared_task`` to ``from celery_shim import ...`` and keep the
task code: ``delay()``/``apply_async()`` write gocraft jobs a Go worker pool can run, with the
function's parameters as the job's named args; ``celery-shim -A proj worker`` runs them with
Celery's semantics beside Go pools. docs/celery.md has the whole surface.
"""

from __future__ import annotations

import uuid as _uuid

from . import _state, exceptions, states
from .app import Celery, current_app, shared_task
from .app.task import Task
from .canvas import Signature, chain, chord, group, maybe_signature, signature, subtask
from .install import install
from .local import Proxy
from .result import AsyncResult, EagerResult

__version__ = "0.1.0"

current_task = Proxy(_state.current_task)  # the task running in this thread: current_task.request.id


def uuid() -> str:
    """A new task id (Celery's ``celery.uuid()``): a random UUID4 string."""
    return str(_uuid.uuid4())


__all__ = [
    "AsyncResult",
    "Celery",
    "EagerResult",
    "Signature",
    "Task",
    "chain",
    "chord",
    "current_app",
    "current_task",
    "exceptions",
    "group",
    "install",
    "maybe_signature",
    "shared_task",
    "signature",
    "states",
    "subtask",
    "uuid",
]
