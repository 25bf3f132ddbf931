"""The backends that store nothing (Celery's ``celery.backends.base`` names the disabled one).

``DisabledBackend`` stands in when no ``result_backend`` is set: writes are no-ops, reads raise
Celery's NotImplementedError. ``UnusableBackend`` stands for a URL the shim cannot serve.
``BaseBackend``, ``BaseDictBackend`` and ``KeyValueStoreBackend`` exist so that modules subclassing
them import (django-celery-results' DatabaseBackend and CacheBackend); making one is refused,
since results are stored in Redis only.
"""

from __future__ import annotations

from typing import Any

from .._state import current_task as get_current_task
from ..exceptions import ImproperlyConfigured

__all__ = [
    "NO_BACKEND_MESSAGE",
    "BaseBackend",
    "BaseDictBackend",
    "DisabledBackend",
    "KeyValueStoreBackend",
    "UnusableBackend",
    "get_current_task",
]

NO_BACKEND_MESSAGE = "No result backend is configured.\nPlease see the documentation for more information."


class DisabledBackend:
    """No ``result_backend``: nothing is stored, and reading a result raises (as in Celery)."""

    def __repr__(self) -> str:
        return "<DisabledBackend>"

    def store_result(
        self, task_id: str, result: Any, state: str, traceback: str | None = None, request: Any = None
    ) -> None:
        return None

    def mark_as_started(self, task_id: str, request: Any = None, **meta: Any) -> None:
        return None

    def save_group(self, group_id: str, result_tuple: Any) -> None:
        return None

    def _disabled(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(NO_BACKEND_MESSAGE)

    get_task_meta = raw_meta = raw_metas = get_many = exists = wait_for = forget = listen = _disabled
    restore_group = delete_group = _disabled


class UnusableBackend(DisabledBackend):
    """A ``result_backend`` URL the shim accepts at construction but cannot use (``rpc://``, ...).

    Every use, writes included, raises ImproperlyConfigured naming the Redis equivalent (D18).
    """

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"<UnusableBackend: {self.error}>"

    def _disabled(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error

    store_result = mark_as_started = save_group = _disabled
    get_task_meta = raw_meta = raw_metas = get_many = exists = wait_for = forget = listen = _disabled
    restore_group = delete_group = _disabled


class BaseBackend:
    """Celery's base of pluggable result backends: importable, and refused when made."""

    def __init__(self, app: Any = None, *args: Any, **kwargs: Any) -> None:
        raise ImproperlyConfigured(
            f"{type(self).__module__}.{type(self).__name__} is a Celery result backend class: celery_shim does not "
            "run pluggable result backends (django-celery-results' 'django-db' or 'django-cache', ...); it stores "
            "results in Redis, the way Celery's Redis backend does: set result_backend='redis://...'"
        )


class BaseDictBackend(BaseBackend):
    """Celery's base of backends that store a dict per task (django-celery-results' DatabaseBackend)."""


class KeyValueStoreBackend(BaseBackend):
    """Celery's base of key-value backends (django-celery-results' CacheBackend)."""
