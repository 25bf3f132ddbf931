"""Celery's Signature (``celery.canvas.Signature``): one task call to make later, as a plain dict.

The dict has Celery's layout (``task``, ``args``, ``kwargs``, ``options``, ``subtask_type``,
``immutable``), so a signature survives JSON and comes back through ``Signature.from_dict`` as the
Signature, chain, group or chord it was: that is how a canvas's later steps wait in a job's side
key until a worker resumes them (spec D15). Composites live in canvas_primitives.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .. import _state

if TYPE_CHECKING:
    from ..app.base import Celery
    from ..app.task import Task
    from ..result import AsyncResult, EagerResult

__all__ = [
    "STRUCTURE",
    "Signature",
    "as_list",
    "maybe_signature",
    "new_id",
    "oldest",
    "own_options",
    "signature",
    "subtask",
]

# Options that shape the canvas rather than one job; never passed on to a member's own publish.
STRUCTURE = ("task_id", "group_id", "group_index", "chord", "chain", "link", "link_error")


def new_id() -> str:
    return str(uuid.uuid4())


def own_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The call options a member publishes with: all but the canvas's STRUCTURE."""
    return {k: v for k, v in options.items() if k not in STRUCTURE}


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value]
    return list(value)


def oldest(result: Any) -> Any:
    """The first result of a result's parent line (where an earlier step's result attaches)."""
    seen = 0
    while getattr(result, "parent", None) is not None and seen < 10_000:
        result = result.parent
        seen += 1
    return result


class Signature(dict[str, Any]):
    """A task call to make later: ``add.s(2)``, ``add.si(2, 2)``, ``signature('tasks.add', (1, 2))``.

    Args given later are prepended to a partial's args (``add.s(2).delay(3)`` calls ``add(3, 2)``),
    unless the signature is immutable; kwargs are merged; options are call options
    (``countdown``, ``task_id``, ``link``, ...).
    """

    TYPES: ClassVar[dict[str, type[Signature]]] = {}

    def __init__(
        self,
        task: str | Task | Mapping[str, Any] | None = None,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        type: Task | None = None,
        subtask_type: str | None = None,
        immutable: bool = False,
        app: Celery | None = None,
        **ex: Any,
    ) -> None:
        self._app = app
        self._type = type
        if isinstance(task, Mapping):  # a signature dict (JSON or another Signature): copy it
            super().__init__(_normalised(task))
            return
        if task is not None and not isinstance(task, str):
            self._type = task
            name: str | None = task.name
        else:
            name = task
        super().__init__(
            task=name,
            args=tuple(args or ()),
            kwargs=dict(kwargs or {}),
            options={**(options or {}), **ex},
            subtask_type=subtask_type,
            immutable=bool(immutable),
        )

    @classmethod
    def register_type(cls, name: str) -> Any:
        """Class decorator: ``from_dict`` rebuilds dicts with this ``subtask_type`` as that class."""

        def register(klass: type[Signature]) -> type[Signature]:
            Signature.TYPES[name] = klass
            return klass

        return register

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], app: Celery | None = None) -> Signature:
        """A signature dict (as JSON gives it back) as the Signature, chain, group or chord it was."""
        kind = d.get("subtask_type")
        if kind:
            target = Signature.TYPES.get(kind)
            if target is None:
                raise ValueError(f"unknown signature type {kind!r} (known: {sorted(Signature.TYPES)})")
            if target is not cls:
                return target.from_dict(d, app=app)
        return cls(d, app=app)

    # -- the dict's fields --------------------------------------------------------------------------
    @property
    def task(self) -> str:
        return str(self["task"])

    name = task

    @property
    def args(self) -> tuple[Any, ...]:
        return tuple(self["args"])

    @property
    def kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = self["kwargs"]
        return kwargs

    @property
    def options(self) -> dict[str, Any]:
        options: dict[str, Any] = self["options"]
        return options

    @property
    def subtask_type(self) -> str | None:
        return self.get("subtask_type")

    @property
    def immutable(self) -> bool:
        return bool(self.get("immutable", False))

    @property
    def id(self) -> str | None:
        """The task id, once frozen (or set with ``set(task_id=...)``)."""
        return self.options.get("task_id")

    @property
    def app(self) -> Celery:
        if self._app is not None:
            return self._app
        if self._type is not None:
            return self._type.app
        return _state.current_app()

    @property
    def type(self) -> Task:
        """The registered task (NotRegistered when this process does not know the name)."""
        if self._type is None:
            self._type = self.app.tasks[self.task]
        return self._type

    def _local_task(self, app: Celery) -> Task | None:
        if self._type is not None:
            return self._type
        found: Task | None = app.tasks.get(self.task)
        return found

    # -- partial application ------------------------------------------------------------------------
    def _merge(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, options: Any = None
    ) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]:
        opts = {**self.options, **(options or {})}
        if self.immutable:
            return self.args, dict(self.kwargs), opts
        return tuple(args or ()) + self.args, {**self.kwargs, **(kwargs or {})}, opts

    def clone(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **opts: Any
    ) -> Signature:
        """A copy with more partial args, kwargs and options (nested signatures copied too)."""
        a, kw, o = self._merge(args, kwargs, opts)
        data = {**dict(self), "args": a, "kwargs": copy.deepcopy(kw), "options": copy.deepcopy(o)}
        new = Signature.from_dict(data, app=self._app)
        new._type = self._type
        return new

    partial = clone

    def replace(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, options: Any = None
    ) -> Signature:
        """A copy with args, kwargs or options replaced (not merged)."""
        new = self.clone()
        if args is not None:
            new["args"] = tuple(args)
        if kwargs is not None:
            new["kwargs"] = dict(kwargs)
        if options is not None:
            new["options"] = dict(options)
        return new

    def set(self, immutable: bool | None = None, **options: Any) -> Signature:
        """Set call options (and immutability) in place; returns the signature."""
        if immutable is not None:
            self.set_immutable(immutable)
        self.options.update(options)
        return self

    def set_immutable(self, immutable: bool) -> None:
        self["immutable"] = bool(immutable)

    def __deepcopy__(self, memo: dict[int, Any]) -> Signature:
        new = Signature.from_dict(copy.deepcopy(dict(self), memo), app=self._app)
        new._type = self._type
        return new

    def __json__(self) -> dict[str, Any]:
        return dict(self)

    # -- callbacks ----------------------------------------------------------------------------------
    def _append_option(self, key: str, value: Any) -> Any:
        items = self.options.setdefault(key, [])
        if not isinstance(items, list):
            items = self.options[key] = as_list(items)
        if value not in items:
            items.append(value)
        return value

    def link(self, callback: Signature) -> Signature:
        """Call ``callback`` with this task's result when it succeeds; returns ``callback``."""
        result: Signature = self._append_option("link", callback)
        return result

    def link_error(self, errback: Signature) -> Signature:
        """Call ``errback`` when this task fails; returns ``errback``."""
        result: Signature = self._append_option("link_error", errback)
        return result

    def on_error(self, errback: Signature) -> Signature:
        """``link_error`` that returns this signature, for ``add.s(1).on_error(eb.s()).delay()``."""
        self.link_error(errback)
        return self

    def __or__(self, other: Any) -> Signature:  # type: ignore[override]  # Celery: a | b is a chain
        from .primitives import chain

        if isinstance(other, Signature):
            return chain(self, other, app=self._app)
        return NotImplemented

    # -- ids and results ----------------------------------------------------------------------------
    def freeze(
        self,
        _id: str | None = None,
        group_id: str | None = None,
        chord: Any = None,
        root_id: str | None = None,
        parent_id: str | None = None,
        group_index: int | None = None,
    ) -> Any:
        """Fix the task id now (kept by later ``apply_async`` calls) and return its result handle."""
        opts = self.options
        task_id = opts.get("task_id") or _id or new_id()
        opts["task_id"] = task_id
        for key, value in (("root_id", root_id), ("parent_id", parent_id), ("group_id", group_id)):
            if value:
                opts[key] = value
        if group_index is not None:
            opts["group_index"] = group_index
        if chord is not None:
            opts["chord"] = chord
        return self.AsyncResult(task_id)

    def AsyncResult(self, task_id: str) -> AsyncResult:
        from ..result import AsyncResult

        return AsyncResult(task_id, task_name=self.task, app=self._app or (self._type.app if self._type else None))

    # -- calling ------------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task here, as a plain function call (no job, no result)."""
        a, kw, _ = self._merge(args, kwargs)
        return self.type(*a, **kw)

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)

    def apply_async(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **options: Any
    ) -> Any:
        """Publish the call (``task_always_eager``: run it here); a name this process does not know
        is sent by name, as ``send_task`` does."""
        return self._send(self.app, args, kwargs, options)

    def _send(self, app: Celery, args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None, options: Any) -> Any:
        """Publish through ``app``; canvas options (``chain``, ``chord``, ``link``...) reach the
        job's side key in ``Celery.publish``."""
        a, kw, opts = self._merge(args, kwargs, options)
        task = self._local_task(app)
        if task is not None:
            return task.apply_async(a, kw, **opts)
        return app.send_task(self.task, a, kw, **opts)

    def apply(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **options: Any
    ) -> EagerResult:
        """Run the task in this process; returns its EagerResult."""
        a, kw, opts = self._merge(args, kwargs, options)
        return self.type.apply(a, kw, **opts)

    def __invert__(self) -> Any:
        return self.apply_async().get()

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.task}({', '.join(parts)})"


def _normalised(d: Mapping[str, Any]) -> dict[str, Any]:
    """A signature dict with Celery's six keys and Python types (JSON gives lists for tuples)."""
    return {
        "task": d.get("task"),
        "args": tuple(d.get("args") or ()),
        "kwargs": dict(d.get("kwargs") or {}),
        "options": dict(d.get("options") or {}),
        "subtask_type": d.get("subtask_type"),
        "immutable": bool(d.get("immutable", False)),
        **{k: v for k, v in d.items() if k not in ("task", "args", "kwargs", "options", "subtask_type", "immutable")},
    }


def maybe_signature(d: Any, app: Celery | None = None, clone: bool = False) -> Any:
    """``d`` as a Signature: a dict (from JSON) is rebuilt, a Signature kept (or cloned); None stays None."""
    if d is None:
        return None
    if isinstance(d, Signature):
        if clone:
            d = d.clone()
        if app is not None and d._app is None:
            d._app = app
        return d
    if isinstance(d, Mapping):
        return Signature.from_dict(d, app=app)
    if isinstance(d, (list, tuple)):
        return [maybe_signature(s, app=app, clone=clone) for s in d]
    return d


def signature(varies: Any, *args: Any, **kwargs: Any) -> Signature:
    """``signature('tasks.add', args=(2, 2), countdown=10)``, a task, or a dict back into a Signature."""
    app = kwargs.get("app")
    if isinstance(varies, Signature):
        return varies.clone()
    if isinstance(varies, Mapping):
        return Signature.from_dict(varies, app=app)
    return Signature(varies, *args, **kwargs)


subtask = signature
