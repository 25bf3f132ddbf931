"""The built-in test task ``celery.ping`` (Celery's ``celery.contrib.testing.tasks``).

A shared task, so every app has it once this module is imported; ``start_worker`` sends it to
check that the embedded worker runs tasks.
"""

from __future__ import annotations

from ...app.taskdef import shared_task

__all__ = ["ping"]


@shared_task(name="celery.ping")
def ping() -> str:
    """Answers ``'pong'``."""
    return "pong"
