"""celery_shim: Celery's API over gocraft/work's Redis layout.

Change ``from celery import Celery, shared_task`` to ``from celery_shim import ...`` and keep the
task code: ``delay()``/``apply_async()`` write gocraft jobs a Go worker pool can run, with the
function's parameters as the job's named args. First slice: app, conf, tasks, publishing, eager
mode; the worker, beat, results backend and canvas come later.
"""

from __future__ import annotations

from . import exceptions, states
from .app import Celery, current_app, shared_task
from .canvas import Signature, chain, chord, group, maybe_signature, signature, subtask
from .install import install
from .result import AsyncResult, EagerResult
from .task import Task

__version__ = "0.1.0"

__all__ = [
    "AsyncResult",
    "Celery",
    "EagerResult",
    "Signature",
    "Task",
    "chain",
    "chord",
    "current_app",
    "exceptions",
    "group",
    "install",
    "maybe_signature",
    "shared_task",
    "signature",
    "states",
    "subtask",
]
