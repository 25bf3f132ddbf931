"""``task_annotations``: task attribute overrides from the settings (Celery's annotations).

The setting is a dict (task name or ``'*'`` -> attributes), an object with ``annotate(task)``
(and optionally ``annotate_any()``), an import path to one, or a list of these. ``'*'`` applies
first and a task's own entry over it. A key starting with ``@`` wraps the method of that name:
``{'@on_failure': around}`` sets ``on_failure = around(original)``. The worker applies them to the
task classes when it starts, once per app setting.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from .base import Celery
    from .task import Task

__all__ = ["annotate_tasks", "annotations_for"]


def _load(entry: Any) -> Any:
    if isinstance(entry, str):
        module, _, attr = entry.replace(":", ".").rpartition(".")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ValueError) as err:
            raise ImproperlyConfigured(f"task_annotations: cannot import {entry!r}: {err}") from err
    return entry


def _entries(setting: Any) -> list[Any]:
    if setting is None:
        return []
    if isinstance(setting, (Mapping, str)) or hasattr(setting, "annotate"):
        return [_load(setting)]
    if isinstance(setting, Iterable):
        return [_load(e) for e in setting]
    raise ImproperlyConfigured(f"task_annotations must be a dict, a list or an object, not {type(setting).__name__}")


def annotations_for(setting: Any, task: Task) -> list[Mapping[str, Any]]:
    """The attribute dicts that apply to ``task``, in the order they are applied."""
    out: list[Mapping[str, Any]] = []
    for entry in _entries(setting):
        if isinstance(entry, Mapping):
            for key in ("*", task.name):
                found = entry.get(key)
                if found:
                    out.append(found)
            continue
        any_fn = getattr(entry, "annotate_any", None)
        if callable(any_fn) and (found := any_fn()):
            out.append(found)
        if found := entry.annotate(task):
            out.append(found)
    return out


def annotate_tasks(app: Celery) -> None:
    """Apply ``task_annotations`` to every task class of ``app`` (once per setting value)."""
    setting = app.conf.task_annotations
    if not setting:
        return
    for task in list(app.tasks.values()):
        klass = type(task)
        if vars(klass).get("_shim_annotated") is setting:
            continue
        for attrs in annotations_for(setting, task):
            for key, value in attrs.items():
                if key.startswith("@"):
                    name = key[1:]
                    original = getattr(klass, name)
                    original = getattr(original, "__wrapped__", original)
                    wrapped = value(original)
                    wrapped.__wrapped__ = original
                    setattr(klass, name, wrapped)
                else:
                    setattr(klass, key, value)
        klass._shim_annotated = setting  # type: ignore[attr-defined]
