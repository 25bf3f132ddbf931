"""Helpers with Celery's names (``celery.utils``): task loggers (``log``), time (``time``), finding
objects by name (``imports``), task ids (``ids``), and the few helpers projects import from here."""

from __future__ import annotations

import uuid as _uuid
from functools import cached_property
from typing import Any

__all__ = ["cached_property", "get_full_cls_name", "uuid"]


def uuid() -> str:
    """A new task id (Celery's ``celery.utils.uuid``): a random UUID4 string."""
    return str(_uuid.uuid4())


def get_full_cls_name(cls: Any) -> str:
    """``module.ClassName`` of a class (django-celery-results names its backend with it)."""
    return f"{cls.__module__}.{cls.__name__}"
