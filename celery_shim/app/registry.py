"""``app.tasks``: task name -> Task, raising NotRegistered for unknown names (Celery's ``TaskRegistry``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import NotRegistered

if TYPE_CHECKING:
    from .task import Task

__all__ = ["TaskRegistry"]


class TaskRegistry(dict[str, "Task"]):
    """A dict of tasks by name; a missing name raises NotRegistered (a KeyError)."""

    def __missing__(self, key: str) -> Task:
        raise NotRegistered(key)

    def register(self, task: Task) -> None:
        if not task.name:
            raise ValueError("a task needs a name to be registered")
        self[task.name] = task

    def unregister(self, name: str) -> None:
        try:
            self.pop(name)
        except KeyError:
            raise NotRegistered(name) from None
