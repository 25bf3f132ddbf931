"""The Celery results the dashboard shows: celery_shim's Redis backend, when one is configured.

Flower reads results through the Celery app's backend and answers 503 without one; here the
backend is named by ``WebSettings.result_backend`` (a Redis URL, ``--result-backend``), and the
keys are Celery's own ``celery-task-meta-<id>`` (celery_shim.gocraft.keys.ResultKeys).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery_shim.backends.redis import RedisBackend
from celery_shim.gocraft.keys import ResultKeys
from work_compat import connect

from .settings import WebSettings

__all__ = ["Results", "open_results"]


class Results:
    """Raw reads of stored results (JSON values; exceptions stay Celery's dicts)."""

    def __init__(self, backend: RedisBackend) -> None:
        self.backend = backend

    def meta(self, task_id: str) -> dict[str, Any] | None:
        """The stored document, or None when nothing (readable) is stored."""
        return self.backend.raw_meta(task_id)

    def metas(self, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored documents of several tasks in one round trip (absent ones left out)."""
        return self.backend.raw_metas(task_ids)

    def close(self) -> None:
        self.backend.conn.close()


def open_results(settings: WebSettings) -> Results | None:
    """The configured results, or None (Flower's "no result backend"); connects on first use."""
    if not settings.result_backend:
        return None
    return Results(RedisBackend(connect(settings.result_backend), keys=ResultKeys(settings.result_prefix)))
