"""Proxy: a stand-in that forwards to an object found at use time (Celery's ``current_app`` and
``current_task`` are such proxies: ``current_app.conf``, ``current_task.request.id``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Proxy"]


class Proxy:
    """Forwards attribute access, ``repr`` and truth to ``getter()``, evaluated on every use.

    ``calls_get``: calling the proxy with no arguments returns the object itself — how celery_shim
    code has always called ``current_app()`` — instead of calling the object.
    """

    __slots__ = ("__calls_get", "__getter")

    def __init__(self, getter: Callable[[], Any], *, calls_get: bool = False) -> None:
        object.__setattr__(self, "_Proxy__getter", getter)
        object.__setattr__(self, "_Proxy__calls_get", calls_get)

    def _get_current_object(self) -> Any:
        """The object the proxy stands for right now (Celery's name for it)."""
        return self.__getter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get_current_object(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._get_current_object(), name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.__calls_get and not args and not kwargs:
            return self._get_current_object()
        return self._get_current_object()(*args, **kwargs)

    def __bool__(self) -> bool:
        return bool(self._get_current_object())

    def __eq__(self, other: object) -> bool:
        return bool(self._get_current_object() == other)

    def __hash__(self) -> int:
        return hash(self._get_current_object())

    def __repr__(self) -> str:
        return repr(self._get_current_object())
