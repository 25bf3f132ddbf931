"""Helpers with Celery's names (``celery.utils``): ``celery_shim.utils.log.get_task_logger``."""

from __future__ import annotations

import uuid as _uuid

__all__ = ["uuid"]


def uuid() -> str:
    """A new task id (Celery's ``celery.utils.uuid``): a random UUID4 string."""
    return str(_uuid.uuid4())
