"""Abortable tasks (Celery's ``celery.contrib.abortable``): a caller marks a task ABORTED in the
result backend, and the task's code checks ``self.is_aborted()`` now and then and stops itself.

Nothing is killed: the state is the message, as in Celery, so it needs a result backend, and a
task that never checks runs to its end (and its own final state then replaces ABORTED).
"""

from __future__ import annotations

from typing import Any

from ..app.task import Task
from ..result import AsyncResult

__all__ = ["ABORTED", "AbortableAsyncResult", "AbortableTask"]

ABORTED = "ABORTED"


class AbortableAsyncResult(AsyncResult):
    """A result whose task can be asked to stop: ``abort()`` stores the ABORTED state."""

    def is_aborted(self) -> bool:
        return bool(self.state == ABORTED)

    def abort(self) -> None:
        """Ask the task to stop: it sees ``is_aborted()`` become true at its next check."""
        self.backend.store_result(self.id, None, ABORTED, traceback=None)


class AbortableTask(Task):
    """A task base whose code can ask ``self.is_aborted()``; its results are AbortableAsyncResults."""

    abstract = True

    def AsyncResult(self, task_id: str) -> AbortableAsyncResult:
        return AbortableAsyncResult(task_id, backend=self.backend, task_name=self.name, app=self.app)

    def is_aborted(self, **kwargs: Any) -> bool:
        """Whether the running task (or ``task_id=``) was aborted."""
        task_id = kwargs.get("task_id", self.request.id)
        if task_id is None:
            return False  # not running, and no id given
        result = self.AsyncResult(str(task_id))
        return isinstance(result, AbortableAsyncResult) and result.is_aborted()
