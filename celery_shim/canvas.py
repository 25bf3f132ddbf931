"""A minimal ``Signature``: a task call to make later (``add.s(2)``, ``add.si(2, 2)``).

Like Celery's, it is a plain dict (``task``, ``args``, ``kwargs``, ``options``, ``immutable``) so it
is JSON-able. Arguments given later are prepended to a partial's args, unless it is immutable.
Groups, chains and chords come with D15.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import AsyncResult, EagerResult
    from .task import Task

__all__ = ["Signature", "signature"]


class Signature(dict[str, Any]):
    """A task name with partial args, kwargs and call options."""

    def __init__(
        self,
        task: str | Task,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        immutable: bool = False,
        app: Any = None,
    ) -> None:
        name = task if isinstance(task, str) else task.name
        super().__init__(
            task=name,
            args=tuple(args or ()),
            kwargs=dict(kwargs or {}),
            options=dict(options or {}),
            immutable=immutable,
            subtask_type=None,
        )
        self._type = None if isinstance(task, str) else task
        self._app = app if app is not None else (None if isinstance(task, str) else task.app)

    @property
    def task(self) -> str:
        return str(self["task"])

    @property
    def args(self) -> tuple[Any, ...]:
        return tuple(self["args"])

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self["kwargs"])

    @property
    def options(self) -> dict[str, Any]:
        return dict(self["options"])

    @property
    def immutable(self) -> bool:
        return bool(self["immutable"])

    def _merge(
        self, args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None, options: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]:
        if self.immutable:
            return self.args, self.kwargs, {**self.options, **options}
        return tuple(args or ()) + self.args, {**self.kwargs, **(kwargs or {})}, {**self.options, **options}

    @property
    def type(self) -> Task:
        if self._type is None:
            if self._app is None:
                from .app import current_app

                self._app = current_app()
            self._type = self._app.tasks[self.task]
        return self._type

    def delay(self, *args: Any, **kwargs: Any) -> AsyncResult:
        return self.apply_async(args, kwargs)

    def apply_async(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **options: Any
    ) -> AsyncResult:
        a, kw, opts = self._merge(args, kwargs, options)
        return self.type.apply_async(a, kw, **opts)

    def apply(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **options: Any
    ) -> EagerResult:
        a, kw, opts = self._merge(args, kwargs, options)
        return self.type.apply(a, kw, **opts)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        a, kw, _ = self._merge(args, kwargs, {})
        return self.type(*a, **kw)

    def set(self, **options: Any) -> Signature:
        self["options"] = {**self.options, **options}
        return self

    def clone(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **options: Any
    ) -> Signature:
        a, kw, opts = self._merge(args, kwargs, options)
        return Signature(self._type or self.task, a, kw, opts, self.immutable, self._app)

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.task}({', '.join(parts)})"


def signature(varies: str | Mapping[str, Any], *args: Any, **kwargs: Any) -> Signature:
    """``celery.signature('tasks.add', args=(2, 2))`` or a signature dict back into a Signature."""
    if isinstance(varies, Signature):
        return varies.clone()
    if isinstance(varies, Mapping):
        return Signature(
            varies["task"],
            varies.get("args"),
            varies.get("kwargs"),
            varies.get("options"),
            varies.get("immutable", False),
        )
    return Signature(varies, *args, **kwargs)
