"""Base64 helpers of Celery's ``celery.utils.serialization``, which django-celery-results imports."""

from __future__ import annotations

import base64

__all__ = ["b64decode", "b64encode"]


def b64encode(value: bytes | str) -> str:
    """Base64 text of bytes, or of a string's UTF-8 bytes."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")


def b64decode(value: bytes | str) -> bytes:
    """The bytes a base64 text stands for."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return base64.b64decode(raw)
