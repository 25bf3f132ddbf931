"""Celery's chain, group and chord (``celery.canvas``) over gocraft jobs (spec D15).

Publishing: the first step of a chain, every member of a group and every header task of a chord
is an ordinary gocraft job, which a Go worker can run too; what happens after a job (the chain's
next steps, callbacks, a chord's count) goes to its side key (canvas_store) through the
``chain``/``chord``/``link``/``link_error`` publish options, and the Python worker that finishes
the job follows it (canvas_driver). Eager mode (``task_always_eager``, ``apply()``) runs the whole
canvas in this process, step by step, as Celery does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .signature import Signature, as_list, maybe_signature, new_id, oldest, own_options

if TYPE_CHECKING:
    from ..app.base import Celery

__all__ = ["chain", "chord", "group"]

NO_CHORD_BACKEND = (
    "a chord needs a result backend: the last header task reads every header result from it to call the "
    "body. Set result_backend='redis://...' (CELERY_RESULT_BACKEND in Django settings)"
)


# The publish options that ``freeze`` takes, in its parameters' order.
_FREEZE_OPTIONS = ("task_id", "group_id", "chord", "root_id", "parent_id", "group_index")


def _given(tasks: tuple[Any, ...]) -> tuple[Any, ...]:
    """``chain(a, b)`` or ``chain([a, b])``: one iterable (not a signature dict) holds the tasks."""
    if len(tasks) == 1 and not isinstance(tasks[0], Mapping) and isinstance(tasks[0], Iterable):
        return tuple(tasks[0])
    return tasks


class _Composite(Signature):
    """A signature made of signatures. Partial args live in ``args``, partial kwargs in
    ``kwargs["kwargs"]`` (the layout of Celery's chord), the members in the other kwargs keys;
    ``TASKS_KEY`` names the list of tasks it runs (a chord's header)."""

    MEMBER_KEYS: ClassVar[tuple[str, ...]] = ()
    TASKS_KEY: ClassVar[str] = "tasks"

    def _compose(
        self, task: str, kind: str, kwargs: dict[str, Any], options: Any, app: Celery | None, args: Any = None
    ) -> None:
        """Signature's fields; without ``app``, the app of the first member that knows one."""
        Signature.__init__(self, task, args, kwargs, options, subtask_type=kind, app=app)
        if app is None:
            self._app = self._known_app([m for key in self.MEMBER_KEYS for m in as_list(kwargs.get(key))])

    @property
    def tasks(self) -> list[Signature]:
        tasks: list[Signature] = self.kwargs[self.TASKS_KEY]
        return tasks

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], app: Celery | None = None) -> Signature:
        obj = cls.__new__(cls)
        Signature.__init__(obj, d, app=app)
        obj._wrap_members()
        return obj

    def _wrap_members(self) -> None:
        kw = self.kwargs
        for key in self.MEMBER_KEYS:
            value = kw.get(key)
            if isinstance(value, Mapping):
                kw[key] = maybe_signature(value, app=self._app)
            elif value is not None:
                kw[key] = [maybe_signature(s, app=self._app) for s in value]

    @property
    def partial_kwargs(self) -> dict[str, Any]:
        return dict(self.kwargs.get("kwargs") or {})

    def _merge(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, options: Any = None
    ) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]:
        opts = {**self.options, **(options or {})}
        if self.immutable:
            return self.args, self.partial_kwargs, opts
        return tuple(args or ()) + self.args, {**self.partial_kwargs, **(kwargs or {})}, opts

    def clone(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **opts: Any
    ) -> Signature:
        a, kw, o = self._merge(args, kwargs, opts)
        data = copy.deepcopy(dict(self))
        data.update(args=a, options=copy.deepcopy(o))
        data["kwargs"]["kwargs"] = copy.deepcopy(kw)
        return type(self).from_dict(data, app=self._app)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)

    def apply_async(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **options: Any
    ) -> Any:
        app = self.app
        if app.conf.task_always_eager:
            return self.apply(args, kwargs, **options)
        return self._send(app, args, kwargs, options)

    @staticmethod
    def _known_app(members: Iterable[Any]) -> Celery | None:
        """The app of the first member that knows one (a composite built without ``app=``)."""
        for member in members:
            if isinstance(member, Signature) and (member._app is not None or member._type is not None):
                return member.app
        return None

    def _freeze_for(self, options: Mapping[str, Any]) -> Any:
        """``freeze`` with the ids and membership the publish options give."""
        return self.freeze(*(options.get(k) for k in _FREEZE_OPTIONS))

    def _send_tasks(self, app: Celery, args: tuple[Any, ...], kwargs: dict[str, Any], options: Any) -> None:
        """Publish every task as its own job, with the options that are not the canvas's."""
        member_opts = own_options(options)
        for member in self.tasks:
            member._send(app, args, kwargs, member_opts)


@Signature.register_type("chain")
class chain(_Composite):
    """Steps run one after another, each result prepended to the next step's args (``a | b | c``)."""

    MEMBER_KEYS = ("tasks",)

    def __init__(self, *tasks: Any, app: Celery | None = None, **options: Any) -> None:
        steps: list[Signature] = []
        for task in _given(tasks):
            sig = maybe_signature(task, app=app)
            if isinstance(sig, chain):  # a nested chain's steps are this chain's steps
                inner = sig.tasks
                if inner and (sig.args or sig.partial_kwargs):
                    inner = [inner[0].clone(sig.args, sig.partial_kwargs), *inner[1:]]
                steps.extend(inner)
            else:
                steps.append(sig)
        self._compose("celery.chain", "chain", {"tasks": steps}, options, app)

    def __or__(self, other: Any) -> Signature:  # type: ignore[override]
        if isinstance(other, chain):
            return chain(*self.tasks, *other.tasks, app=self._app)
        if isinstance(other, Signature):
            return chain(*self.tasks, other, app=self._app)
        return NotImplemented

    def __repr__(self) -> str:
        return " | ".join(repr(t) for t in self.tasks) if self.tasks else "chain()"

    def _steps(self) -> list[Signature]:
        """The steps as they run: a group followed by more steps becomes a chord whose body is the
        rest of the chain, and a chord's body takes over what follows it, so only the last step
        can be a group or a chord (Celery upgrades ``group | task`` the same way)."""
        steps = list(self.tasks)
        for i, step in enumerate(steps):
            rest = steps[i + 1 :]
            if not rest:
                break
            if isinstance(step, group):
                steps[i:] = [chord(step.tasks, _body_of(rest), app=step._app, **step.options)]
                break
            if isinstance(step, chord):
                tail = chord(step.tasks, _body_of([step._require_body(), *rest]), app=step._app, **step.options)
                tail["args"], tail.kwargs["kwargs"] = step.args, step.partial_kwargs
                steps[i:] = [tail]
                break
        self.kwargs["tasks"] = steps
        return steps

    def freeze(
        self,
        _id: str | None = None,
        group_id: str | None = None,
        chord: Any = None,
        root_id: str | None = None,
        parent_id: str | None = None,
        group_index: int | None = None,
    ) -> Any:
        """Fix every step's id; returns the last step's result, its ``parent`` line the earlier ones.

        ``_id``, ``group_id``, ``group_index`` and ``chord`` belong to the last step (the chain's
        result is the last step's); ``link_error`` options of the chain go to every step.
        """
        steps = self._steps()
        if not steps:
            raise ValueError("an empty chain has no result")
        errbacks = as_list(self.options.get("link_error"))
        links = as_list(self.options.get("link"))
        previous: Any = None
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            for errback in errbacks:
                step.link_error(maybe_signature(errback, app=self._app))
            if last:
                for callback in links:
                    step.link(maybe_signature(callback, app=self._app))
                result = step.freeze(_id, group_id, chord, root_id, parent_id if i == 0 else None, group_index)
            else:
                result = step.freeze(root_id=root_id, parent_id=parent_id if i == 0 else None)
            if root_id is None:
                root_id = step.id
            if previous is not None:
                oldest(result).parent = previous
            previous = result
        self.options.pop("link", None)
        self.options.pop("link_error", None)
        if _id is not None:
            self.options["task_id"] = _id
        return previous

    def _send(self, app: Celery, args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None, options: Any) -> Any:
        """Publish the first step; the rest rides in its side key (``chain`` option) for the worker."""
        if not self.tasks:
            return None  # Celery publishes nothing for an empty chain and returns None
        a, kw, opts = self._merge(args, kwargs, options)
        frozen = self.clone()
        assert isinstance(frozen, chain)
        frozen.options.update({k: opts[k] for k in ("link", "link_error") if k in opts})
        result = frozen._freeze_for(opts)
        steps = frozen.tasks
        first, rest = steps[0], steps[1:]
        first_opts = own_options(opts)
        if rest:
            first_opts["chain"] = [dict(step) for step in rest]
        first._send(app, a, kw, first_opts)
        return result

    def apply(self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """Run every step here; a failing step's exception is raised, as Celery's eager chain does."""
        from ..result import allow_join_result

        a, kw, opts = self._merge(args, kwargs, options)
        step_opts = own_options(opts)
        errbacks = as_list(opts.get("link_error"))
        last: Any = None
        with allow_join_result():
            for i, step in enumerate(self.tasks):
                step = step.clone() if last is not None else step.clone(a, kw)
                for errback in errbacks:
                    step.link_error(maybe_signature(errback, app=self._app))
                if i == len(self.tasks) - 1:
                    for callback in as_list(opts.get("link")):
                        step.link(maybe_signature(callback, app=self._app))
                result = step.apply((last.get(),) if last is not None else (), **step_opts)
                result.parent = last
                last = result
        return last


def _body_of(steps: list[Signature]) -> Signature:
    return steps[0] if len(steps) == 1 else chain(*steps)


@Signature.register_type("group")
class group(_Composite):
    """Tasks run in parallel; the result is a GroupResult of theirs, in order."""

    MEMBER_KEYS = ("tasks",)

    def __init__(self, *tasks: Any, app: Celery | None = None, **options: Any) -> None:
        members = [maybe_signature(t, app=app) for t in _given(tasks)]
        self._compose("celery.group", "group", {"tasks": members}, options, app)

    def __or__(self, other: Any) -> Signature:  # type: ignore[override]
        if isinstance(other, Signature):
            return chord(self.tasks, other, app=self._app, **self.options)
        return NotImplemented

    def __len__(self) -> int:  # Celery: len(group) is its member count
        return len(self.tasks)

    def __repr__(self) -> str:
        return f"group(({', '.join(repr(t) for t in self.tasks)}))"

    def link(self, callback: Signature) -> Signature:
        """Linked (immutable) to the first member only, as Celery does: use a chord to wait for all."""
        return self.tasks[0].link(callback.clone().set(immutable=True))

    def link_error(self, errback: Signature) -> Signature:
        """Linked to every member (any of them may fail); returns the errback."""
        for member in self.tasks:
            member.link_error(errback.clone())
        return errback

    def freeze(
        self,
        _id: str | None = None,
        group_id: str | None = None,
        chord: Any = None,
        root_id: str | None = None,
        parent_id: str | None = None,
        group_index: int | None = None,
    ) -> Any:
        """Fix the group id and each member's id (``group_id``/``group_index`` in their options)."""
        from ..result import GroupResult

        gid = self.options.get("task_id") or _id or new_id()
        self.options["task_id"] = gid
        results = [
            member.freeze(group_id=gid, group_index=i, chord=chord, root_id=root_id, parent_id=parent_id)
            for i, member in enumerate(self.tasks)
        ]
        return GroupResult(gid, results, app=self._app)

    @property
    def id(self) -> str | None:
        return self.options.get("task_id")

    def _send(self, app: Celery, args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None, options: Any) -> Any:
        """Publish every member as its own job, after saving the group record (GroupResult.restore)."""
        from ..backends.redis import RedisBackend

        if options and (options.get("link") or options.get("link_error")):
            raise TypeError("a group takes no link or link_error: use a chord, or link the members")
        a, kw, opts = self._merge(args, kwargs, options)
        frozen = self.clone()
        assert isinstance(frozen, group)
        result = frozen.freeze(opts.get("task_id"), chord=opts.get("chord"), root_id=opts.get("root_id"))
        result.app = app
        if isinstance(app.backend, RedisBackend):
            result.save(backend=app.backend)
        frozen._send_tasks(app, a, kw, opts)
        return result

    def apply(self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **options: Any) -> Any:
        from ..result import GroupResult

        a, kw, opts = self._merge(args, kwargs, options)
        gid = opts.get("task_id") or new_id()
        member_opts = own_options(opts)
        results = [m.clone(a, kw).apply(group_id=gid, group_index=i, **member_opts) for i, m in enumerate(self.tasks)]
        return GroupResult(gid, results, app=self._app)


@Signature.register_type("chord")
class chord(_Composite):
    """A group (the header) whose ordered results are passed to one more task (the body)."""

    MEMBER_KEYS = ("header", "body")
    TASKS_KEY = "header"

    def __init__(
        self,
        header: Any,
        body: Any = None,
        task: str = "celery.chord",
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        app: Celery | None = None,
        **options: Any,
    ) -> None:
        if isinstance(header, group):
            options = {**header.options, **options}
            header = header.tasks
        elif isinstance(header, Signature):
            header = [header]
        members = [maybe_signature(t, app=app) for t in header]
        fields = {"kwargs": dict(kwargs or {}), "header": members, "body": maybe_signature(body, app=app)}
        self._compose(task, "chord", fields, options, app, args)

    @property
    def header(self) -> list[Signature]:
        return self.tasks

    @property
    def body(self) -> Signature | None:
        body: Signature | None = self.kwargs.get("body")
        return body

    def __call__(self, body: Any = None, **options: Any) -> Any:
        """``chord(header)(body)``: run the header, then the body with its results."""
        return self.apply_async((), {"body": body} if body is not None else {}, **options)

    def __or__(self, other: Any) -> Signature:  # type: ignore[override]
        if isinstance(other, Signature) and self.body is not None:
            joined = chord(self.tasks, self.body | other, app=self._app, **self.options)
            joined["args"], joined.kwargs["kwargs"] = self.args, self.partial_kwargs
            return joined
        return NotImplemented

    def __repr__(self) -> str:
        return f"%{self.body!r}([{', '.join(repr(t) for t in self.tasks)}])"

    def link(self, callback: Signature) -> Signature:
        """Linked to the body."""
        return self._require_body().link(callback)

    def link_error(self, errback: Signature) -> Signature:
        """Linked to the body (Celery's default, ``task_allow_error_cb_on_chord_header=False``)."""
        return self._require_body().link_error(errback)

    def _require_body(self) -> Signature:
        if self.body is None:
            raise ValueError("this chord has no body yet: chord(header, body) or chord(header)(body)")
        return self.body

    def freeze(
        self,
        _id: str | None = None,
        group_id: str | None = None,
        chord: Any = None,
        root_id: str | None = None,
        parent_id: str | None = None,
        group_index: int | None = None,
    ) -> Any:
        """Fix the header's group id and ids, and the body's; returns the body's result, whose
        ``parent`` (at the start of its line) is the header's GroupResult."""
        from ..result import GroupResult

        body = self._require_body()
        gid = self.options.get("group_id") or new_id()
        self.options["group_id"] = gid
        self.kwargs[self.TASKS_KEY] = [_single_result(m) for m in _unrolled(self.tasks)]
        membership = {"group_id": gid, "size": len(self.tasks)}
        header = [
            member.freeze(group_id=gid, group_index=i, chord=membership, root_id=root_id, parent_id=parent_id)
            for i, member in enumerate(self.tasks)
        ]
        header_result = GroupResult(gid, header, app=self._app)
        body_result = body.freeze(_id or self.options.get("task_id"), group_id, chord, root_id, None, group_index)
        oldest(body_result).parent = header_result
        return body_result

    def _send(self, app: Celery, args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None, options: Any) -> Any:
        """Save the chord record (body, header ids, size), then publish every header task; the
        worker finishing the last one publishes the body (canvas_driver)."""
        from ..backends.base import UnusableBackend
        from ..backends.redis import RedisBackend
        from . import store as canvas_store

        kwargs = dict(kwargs or {})
        body_override = maybe_signature(kwargs.pop("body", None), app=app)
        a, kw, opts = self._merge(args, kwargs, options)
        frozen = self.clone()
        assert isinstance(frozen, chord)
        if body_override is not None:
            frozen.kwargs["body"] = body_override.clone()
        body = frozen._require_body()
        for key in ("link", "link_error"):
            for sig in as_list(opts.get(key)):
                body._append_option(key, maybe_signature(sig, app=app))
        backend = app.backend
        if isinstance(backend, UnusableBackend):
            raise backend.error
        if not isinstance(backend, RedisBackend):
            raise NotImplementedError(NO_CHORD_BACKEND)
        result = frozen._freeze_for(opts)
        header_result = oldest(result)
        header_result.app = app
        gid = str(frozen.options["group_id"])
        header_ids = [r.id for r in header_result.results]
        canvas_store.save_chord(app, gid, {"body": dict(body), "header": header_ids, "size": len(header_ids)})
        header_result.save(backend=backend)
        if not header_ids:  # nothing to wait for: the body runs now with no results, as in Celery
            body._send(app, ([],), {}, {"root_id": opts.get("root_id")} if opts.get("root_id") else {})
            canvas_store.drop_chord(app, gid)
            return result
        frozen._send_tasks(app, a, kw, opts)
        return result

    def apply(self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """Run the header here, then the body with its results (a header failure is raised)."""
        kwargs = dict(kwargs or {})
        body = maybe_signature(kwargs.pop("body", None), app=self._app) or self._require_body()
        from ..result import allow_join_result

        propagate = options.pop("propagate", True)
        a, kw, _ = self._merge(args, kwargs, options)  # Celery's eager chord ignores call options too
        with allow_join_result():
            header = group(*[m.clone() for m in self.tasks], app=self._app).apply(a, kw)
            return body.clone().apply((header.get(propagate=propagate),))


GATHER = "celery.accumulate"  # Celery's name for the task that returns a group's results as one value


def _unrolled(members: Sequence[Signature]) -> list[Signature]:
    """A chord's header with its groups' tasks in their place, as Celery unrolls them: each task of
    a group in the header is one more result for the body."""
    out: list[Signature] = []
    for member in members:
        out.extend(_unrolled(member.tasks) if isinstance(member, group) else [member])
    return out


def _single_result(member: Signature) -> Signature:
    """A header member counts once, when its last task ends. A chain ending in a group gives the group's
    results as one entry, as in Celery: the group becomes a chord whose body is GATHER, which the worker
    finishing the group answers itself (the list is that body's result) instead of running a task."""
    if not (isinstance(member, chain) and member.tasks and isinstance(member.tasks[-1], group)):
        return member
    last = member.tasks[-1]
    gathered = chord(last.tasks, Signature(GATHER, app=last._app), app=last._app, **last.options)
    return chain(*member.tasks[:-1], gathered, app=member._app, **member.options)
