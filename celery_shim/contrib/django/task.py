"""DjangoTask: a task that can wait for the database transaction to commit before it is sent
(Celery 5.4's ``celery.contrib.django.task.DjangoTask``).

Sending a task from inside ``transaction.atomic()`` lets a worker run it before the row it needs is
committed; ``delay_on_commit`` hands the publish to ``transaction.on_commit`` instead, so it happens
only if and when the transaction commits.
"""

from __future__ import annotations

import functools
from typing import Any

from ...app.task import Task

__all__ = ["DjangoTask"]


class DjangoTask(Task):
    """The default task class of an app in a Django project (``DJANGO_SETTINGS_MODULE`` is set)."""

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """``delay(*args, **kwargs)`` once the current transaction commits (at once outside one)."""
        from django.db import transaction  # type: ignore[import-untyped]

        transaction.on_commit(functools.partial(self.delay, *args, **kwargs))

    def apply_async_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """``apply_async(...)`` once the current transaction commits (at once outside one)."""
        from django.db import transaction

        transaction.on_commit(functools.partial(self.apply_async, *args, **kwargs))
