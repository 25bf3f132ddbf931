"""Tasks made from functions: the Task class ``@app.task`` builds, and ``@shared_task``.

A task name is a gocraft job name verbatim (D3), so names that break gocraft's key layout are
refused here, where every task is made. A shared task is registered with every app, present and
future (the list lives in ``celery_shim._state``), rebuilt on an app's own task class where it has one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from work_compat import InvalidJobNameError, validate_job_name

from .. import _state
from ..exceptions import CeleryShimError, ImproperlyConfigured
from ..fixups import django as django_fixup
from ..utils.imports import symbol_by_name
from .task import Task as BaseTask
from .validation import validating

if TYPE_CHECKING:
    from .base import Celery

__all__ = ["InvalidTaskNameError", "check_task_name", "django_task_class", "make_task", "shared_for", "shared_task"]

F = TypeVar("F", bound=Callable[..., Any])

DJANGO_TASK = "celery_shim.contrib.django.task:DjangoTask"  # above the app layer: named, not imported
_WHITESPACE = re.compile(r"\s")


class InvalidTaskNameError(CeleryShimError, ValueError):
    """A task name that cannot be a gocraft job name (``:``, ``,``, whitespace, ...)."""


@overload
def shared_task(fun: F) -> BaseTask: ...
@overload
def shared_task(*, name: str | None = ..., **options: Any) -> Callable[[F], BaseTask]: ...
def shared_task(fun: Any = None, **options: Any) -> Any:
    """Declare a task not tied to one app: it is registered with every app, and uses the current one."""

    def create(f: Callable[..., Any]) -> BaseTask:
        explicit = options.pop("base", None)
        base = explicit or (django_task_class() if django_fixup.applies() else BaseTask)
        task = make_task(f, None, None, base, **options)
        if explicit is None:
            task.__dict__["_shared_from"] = (f, dict(options))
        with _state._lock:
            _state._shared.append(task)
            apps = list(_state._apps)
        for app in apps:
            app.tasks.register(shared_for(task, app))
        return task

    if fun is not None and callable(fun):
        return create(fun)
    return create


def shared_for(task: BaseTask, app: Celery) -> BaseTask:
    """The shared task as ``app`` registers it: as Celery builds it per app on the app's ``Task``,
    a copy on that class when the app has a task class of its own (``task_cls=``, ``app.Task = X``)."""
    origin = task.__dict__.get("_shared_from")
    base = app.own_task_class()
    if origin is None or base is None:
        return task
    fun, options = origin
    return make_task(fun, None, None, base, **options)


def django_task_class() -> type[BaseTask]:
    """DjangoTask, the default task class in a Django project (imported only there)."""
    task_class: type[BaseTask] = symbol_by_name(DJANGO_TASK)
    return task_class


def make_task(
    fun: Callable[..., Any],
    app: Celery | None,
    main: str | None,
    base: type[BaseTask],
    *,
    name: str | None = None,
    bind: bool = False,
    pydantic: bool = False,
    pydantic_strict: bool = False,
    pydantic_context: Mapping[str, Any] | None = None,
    pydantic_dump_kwargs: Mapping[str, Any] | None = None,
    **options: Any,
) -> BaseTask:
    module = fun.__module__
    if module in ("__main__", "__mp_main__") and main:  # __mp_main__: the script again, in a prefork child
        module = main
    task_name = name if name is not None else f"{module}.{fun.__name__}"
    check_task_name(task_name)
    serializer = options.get("serializer")
    if serializer not in (None, "json"):
        raise ImproperlyConfigured(
            f"task {task_name!r}: serializer {serializer!r} is not supported; Go peers read json"
        )
    run = fun
    if pydantic:
        run = validating(fun, strict=pydantic_strict, context=pydantic_context, dump_kwargs=pydantic_dump_kwargs)
    attrs: dict[str, Any] = {
        "name": task_name,
        "run": run if bind else staticmethod(run),
        "_app": app,
        "__doc__": fun.__doc__,
        "__module__": fun.__module__,
        "__wrapped__": fun,
        **options,
    }
    if app is not None:
        attrs.setdefault("typing", app.strict_typing)
    cls = type(fun.__name__, (base,), attrs)
    task: BaseTask = cls()
    return task


def check_task_name(name: str) -> None:
    """Job name = task name verbatim (D3); refuse what breaks gocraft's key layout."""
    try:
        validate_job_name(name)
    except InvalidJobNameError as err:
        raise InvalidTaskNameError(f"task name {name!r} cannot be a gocraft job name: {err}") from err
    if _WHITESPACE.search(name):
        raise InvalidTaskNameError(f"task name {name!r} cannot be a gocraft job name: it contains whitespace")
