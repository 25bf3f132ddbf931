"""Which queue a task belongs to, and its fetch weight (spec D10, D11).

A gocraft queue is one list per job name, so a Celery queue is a label on a set of job names. The
label of a task is, first match wins: its own ``queue`` option, then ``task_routes`` (a dict of
exact names, globs or compiled regexes, a list of such dicts, router functions or their import
paths), then ``task_default_queue``. Router functions are asked with no call arguments: only
their static answer counts, since the job name cannot change per call. The worker's ``-Q``/``-X``,
``purge -Q`` and ``inspect active_queues`` all read this one mapping.
"""

from __future__ import annotations

import fnmatch
import importlib
import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from .base import Celery
    from .task import Task

__all__ = ["DEFAULT_WEIGHT", "priority_weight", "queue_of", "queues_of", "route_of", "tasks_in_queues"]

logger = logging.getLogger(__name__)

# D11: Celery's Redis-transport priority p (0 highest .. 9 lowest) is weight (10 - p) * 1000;
# no priority means 0, the highest, as Redis-broker Celery treats unprioritised messages.
DEFAULT_WEIGHT = 10_000


def _import(path: str) -> Any:
    module, _, attr = path.replace(":", ".").rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise ImproperlyConfigured(f"task_routes: cannot import router {path!r}: {err}") from err


def _as_route(value: Any) -> dict[str, Any] | None:
    """A router's answer as a route dict: a dict, a queue name, or an object with ``.name``."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"queue": value}
    if isinstance(value, Mapping):
        route = dict(value)
        queue = route.get("queue")
        if queue is not None and not isinstance(queue, str):
            route["queue"] = getattr(queue, "name", str(queue))
        return route
    name = getattr(value, "name", None)  # a kombu Queue
    return {"queue": name} if isinstance(name, str) else None


def _match_map(table: Mapping[Any, Any], name: str) -> dict[str, Any] | None:
    """Celery's map routes: the exact name first, then globs and regexes in the table's order."""
    if name in table:
        return _as_route(table[name])
    for key, value in table.items():
        if isinstance(key, re.Pattern):
            if key.match(name):
                return _as_route(value)
        elif isinstance(key, str) and any(c in key for c in "*?[") and fnmatch.fnmatchcase(name, key):
            return _as_route(value)
    return None


def _routers(routes: Any) -> list[Any]:
    if routes is None:
        return []
    if isinstance(routes, (Mapping, str)) or callable(routes):
        return [routes]
    if isinstance(routes, Iterable):
        return list(routes)
    raise ImproperlyConfigured(f"task_routes must be a dict, a list or a router function, not {type(routes).__name__}")


def _ask(router: Any, name: str, task: Task | None) -> dict[str, Any] | None:
    if isinstance(router, str):
        router = _import(router)
    if isinstance(router, Mapping):
        return _match_map(router, name)
    if callable(router):
        try:
            answer = router(name, (), {}, {}, task=task)
        except TypeError:
            answer = router(name, (), {}, {})
        return _as_route(answer)
    raise ImproperlyConfigured(f"task_routes entry {router!r} is not a dict, a function or an import path")


def route_of(app: Celery, name: str, task: Task | None = None) -> dict[str, Any]:
    """The static route of task ``name``: ``{"queue": ..., "priority": ...}`` (keys may be absent)."""
    for router in _routers(app.conf.task_routes):
        route = _ask(router, name, task)
        if route:
            return route
    return {}


def queue_of(app: Celery, task: Task) -> str:
    """The queue label of ``task``: its ``queue`` option, its route, else ``task_default_queue``."""
    if task.queue:
        return str(task.queue)
    queue = route_of(app, task.name or "", task).get("queue")
    return str(queue) if queue else str(app.conf.task_default_queue)


def queues_of(app: Celery) -> dict[str, list[str]]:
    """Every queue label with the names of the app's tasks in it (sorted)."""
    out: dict[str, list[str]] = {}
    for name, task in sorted(app.tasks.items()):
        out.setdefault(queue_of(app, task), []).append(name)
    return out


def declared_queues(app: Celery) -> list[str] | None:
    """The queue names of ``task_queues`` (kombu Queue objects, names, or a dict keyed by name), or None."""
    declared = app.conf.get("task_queues")
    if not declared:
        return None
    items = declared.keys() if isinstance(declared, Mapping) else declared
    return [str(getattr(q, "name", q)) for q in items]


def tasks_in_queues(
    app: Celery, queues: Iterable[str] | None = None, exclude: Iterable[str] | None = None
) -> list[str]:
    """Names of the tasks a worker with ``-Q queues -X exclude`` runs. Without ``-Q``: the queues
    ``task_queues`` declares, as Celery's worker consumes, else every queue."""
    if queues is None:
        queues = declared_queues(app)
    wanted = None if queues is None else set(queues)
    unwanted = set(exclude or ())
    return sorted(
        name
        for queue, names in queues_of(app).items()
        if (wanted is None or queue in wanted) and queue not in unwanted
        for name in names
    )


def _int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ImproperlyConfigured(f"{what} must be a number, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{what} must be a number, got {value!r}") from None


def priority_weight(app: Celery, task: Task) -> int:
    """The gocraft fetch weight of ``task`` (D11): ``gocraft_priority`` as given, else
    ``(10 - p) * 1000`` for the Celery priority p (task option, route, ``task_default_priority``)."""
    raw = _int(getattr(task, "gocraft_priority", None), f"task {task.name}: gocraft_priority")
    if raw is None:
        raw = _int(app.conf.get("gocraft_priority"), "gocraft_priority")
    if raw is not None:
        return raw
    priority: Any = task.priority
    if priority is None:
        priority = route_of(app, task.name or "", task).get("priority")
    if priority is None:
        priority = app.conf.task_default_priority
    p = _int(priority, f"task {task.name}: priority")
    if p is None:
        return DEFAULT_WEIGHT
    return (10 - min(max(p, 0), 9)) * 1000
