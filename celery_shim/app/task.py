"""Task: ``@app.task`` functions and their calling API (Celery's ``celery.app.task``).

Publishing binds the call to the function's signature (D1), encodes the values (D2) and hands the
named args to the app, which writes one gocraft job. Eager mode (``task_always_eager``, ``apply()``)
runs the same bind, encoding and JSON round trip, then calls the function in this process (D19).
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import logging
import threading
import traceback
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from work_compat import gojson

from .. import _state, states
from ..canvas import Signature
from ..exceptions import Ignore, MaxRetriesExceededError, Reject, Retry
from ..gocraft.arguments import (
    SignatureShape,
    bind_call_fast,
    call_from_args,
    encode_args,
    restore_typed,
    typed_values,
    unbound_args,
)
from ..gocraft.options import plan_publish
from ..result import AsyncResult, EagerResult
from .autoretry import run_task

if TYPE_CHECKING:
    from .base import Celery

__all__ = ["Context", "Task"]

logger = logging.getLogger(__name__)


class Context:
    """``task.request``: what the running call knows about itself (Celery's ``Context``)."""

    id: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] | None = None
    retries: int = 0
    is_eager: bool = False
    called_directly: bool = True
    eta: str | None = None
    expires: str | None = None
    headers: dict[str, Any] | None = None
    root_id: str | None = None
    parent_id: str | None = None
    hostname: str | None = None
    delivery_info: dict[str, Any] | None = None
    correlation_id: str | None = None

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __repr__(self) -> str:
        return f"<Context: {vars(self)!r}>"


def _iso(epoch: Any) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(float(epoch), dt.timezone.utc).isoformat()


class Task:
    """Base class of every task; ``@app.task`` makes a subclass whose ``run`` is the function."""

    name: ClassVar[str | None] = None
    _app: ClassVar[Celery | None] = None
    typing: ClassVar[bool] = True
    max_retries: ClassVar[int | None] = 3
    default_retry_delay: ClassVar[float] = 180
    queue: ClassVar[str | None] = None
    priority: ClassVar[int | None] = None
    expires: ClassVar[float | dt.datetime | None] = None
    ignore_result: ClassVar[bool] = False
    serializer: ClassVar[str] = "json"
    # How a worker runs the task (Celery's names; None: the matching task_* setting applies).
    rate_limit: ClassVar[str | float | None] = None
    time_limit: ClassVar[float | None] = None
    soft_time_limit: ClassVar[float | None] = None
    acks_late: ClassVar[bool | None] = None
    acks_on_failure_or_timeout: ClassVar[bool | None] = None
    reject_on_worker_lost: ClassVar[bool | None] = None
    track_started: ClassVar[bool | None] = None
    store_errors_even_if_ignored: ClassVar[bool | None] = None
    autoretry_for: ClassVar[tuple[type[BaseException], ...]] = ()
    dont_autoretry_for: ClassVar[tuple[type[BaseException], ...]] = ()
    retry_kwargs: ClassVar[dict[str, Any]] = {}
    retry_backoff: ClassVar[bool | int] = False
    retry_backoff_max: ClassVar[int] = 600
    retry_jitter: ClassVar[bool] = True
    throws: ClassVar[tuple[type[BaseException], ...]] = ()
    max_concurrency: ClassVar[int | None] = None  # not Celery's: gocraft's cap over every pool (D14)

    def __init__(self) -> None:
        self._local = threading.local()

    # -- identity and context ---------------------------------------------------------------------
    @property
    def app(self) -> Celery:
        """The app this task belongs to; a shared task answers the current app."""
        bound = type(self)._app
        if bound is not None:
            return bound
        from .base import current_app

        return current_app()

    def _stack(self) -> list[Context]:
        stack: list[Context] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    @property
    def request(self) -> Context:
        """The context of the call running in this thread (a called-directly default otherwise)."""
        stack = self._stack()
        return stack[-1] if stack else Context()

    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("tasks must define the run method")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task in this process, as a plain function call (``request.called_directly``)."""
        stack = self._stack()
        stack.append(Context(args=args, kwargs=kwargs, called_directly=True))
        try:
            return self.run(*args, **kwargs)
        finally:
            stack.pop()

    def run_signature(self) -> inspect.Signature:
        """The signature of ``run``, cached until ``run`` is replaced (tests patch it)."""
        run = self.run
        target = getattr(run, "__func__", run)
        cached = self.__dict__.get("_signature")
        if cached is not None and cached[0] is target:
            sig: inspect.Signature = cached[1]
            return sig
        try:
            sig = inspect.signature(run)
        except ValueError as err:  # bind=True on a function with no parameter for the task: Celery's TypeError
            raise TypeError(f"{self.name}: a bound task's function must take the task as its first argument") from err
        self.__dict__["_signature"] = (target, sig)
        return sig

    def run_shape(self) -> SignatureShape:
        """``run_signature()`` read for the fast bind paths, cached with it."""
        sig = self.run_signature()
        cached: SignatureShape | None = self.__dict__.get("_shape")
        if cached is not None and cached.signature is sig:
            return cached
        shape = SignatureShape(sig)
        self.__dict__["_shape"] = shape
        return shape

    def bind_args(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The gocraft args object for this call (D1); TypeError when it does not bind."""
        shape = self.run_shape()
        if self.typing:
            return bind_call_fast(shape, args, kwargs)
        try:
            return bind_call_fast(shape, args, kwargs)
        except TypeError:
            return unbound_args(args, kwargs)

    # -- calling ----------------------------------------------------------------------------------
    def delay(self, *args: Any, **kwargs: Any) -> AsyncResult:
        """``apply_async(args, kwargs)`` with no options."""
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        shadow: str | None = None,
        **options: Any,
    ) -> AsyncResult:
        """Publish one gocraft job for this call; with ``task_always_eager``, run it here instead."""
        call_args, call_kwargs = _check_call(args, kwargs)
        if self.expires is not None:
            options.setdefault("expires", self.expires)
        app = self.app
        if app.conf["task_always_eager"]:  # read live at every call (a Django test flips it in settings)
            return self.apply(
                call_args,
                call_kwargs,
                task_id=task_id or str(uuid.uuid4()),
                link=link,
                link_error=link_error,
                **options,
            )
        job_args = self.bind_args(call_args, call_kwargs)
        options.update(task_id=task_id, link=link, link_error=link_error, shadow=shadow)
        return app.publish(self.name or "", job_args, options, queue=self.queue)

    def apply(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        retries: int | None = None,
        throw: bool | None = None,
        headers: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> EagerResult:
        """Run the task in this process and return its EagerResult (D19).

        The call goes through the same bind, encoding and JSON round trip as a published job, so
        an argument that would fail in production fails here. ``retry()`` re-runs the task at once
        (no sleeping) with ``retries + 1``; ``throw`` (default ``task_eager_propagates``) re-raises
        a failure instead of returning a FAILURE result.
        """
        app = self.app
        app.check_settings()
        call_args, call_kwargs = _check_call(args, kwargs)
        task_id = task_id or str(uuid.uuid4())
        retries = retries or 0
        if throw is None:
            throw = bool(app.conf.task_eager_propagates)
        bound = self.bind_args(call_args, call_kwargs)
        job_args = restore_typed(json.loads(gojson.dumps(encode_args(bound))), typed_values(bound))
        run_args, run_kwargs = call_from_args(inspect.signature(self.run), job_args)
        link, link_error = options.pop("link", None), options.pop("link_error", None)  # canvas callbacks (D15)
        plan = plan_publish(options, app.now())
        request = Context(
            id=task_id,
            args=run_args,
            kwargs=run_kwargs,
            retries=retries,
            is_eager=True,
            called_directly=False,
            eta=_iso(plan.meta.get("eta")),
            expires=_iso(plan.meta.get("expires")),
            headers=dict(headers) if headers else None,
            root_id=plan.meta.get("root_id", task_id),
            parent_id=plan.meta.get("parent_id"),
            group=plan.meta.get("group_id"),
            group_index=plan.meta.get("group_index"),
            delivery_info={"is_eager": True, "exchange": None, "routing_key": self.queue, "priority": None},
        )
        tb: str | None = None
        retry_with: Signature | None = None
        with _state.pushed(self, request):  # the request, and current_task for the task's code
            try:
                retval: Any = run_task(self, run_args, run_kwargs)
                state = states.SUCCESS
            except Retry as exc:
                if throw:  # Celery propagates the Retry itself; the re-run does not happen
                    raise
                retval, state = exc, states.RETRY
                retry_with = exc.sig
            except Ignore as exc:
                retval, state = exc, states.IGNORED
            except Reject as exc:
                retval, state = exc, states.REJECTED
            except Exception as exc:
                if throw:
                    raise
                retval, state, tb = exc, states.FAILURE, traceback.format_exc()
        if retry_with is not None:
            return retry_with.apply(retries=retries + 1, throw=throw, link=link, link_error=link_error)
        result = EagerResult(task_id, retval, state, traceback=tb, name=self.name, retries=retries)
        if app.conf.get("task_store_eager_result") and state in (states.SUCCESS, states.FAILURE):
            from .trace import ignore_result_of

            if not ignore_result_of(self):  # stored as a worker would, so AsyncResult(id) finds it
                app.backend.store_result(task_id, retval, state, traceback=tb, request=request)
        if link or link_error:
            from .continuation import eager_followups

            eager_followups(app, request, state, retval, tb, link, link_error)
        return result

    # -- retries ----------------------------------------------------------------------------------
    def retry(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        exc: BaseException | None = None,
        throw: bool = True,
        eta: dt.datetime | None = None,
        countdown: float | None = None,
        max_retries: int | None = None,
        **options: Any,
    ) -> Retry:
        """Ask for this task to run again; raises Retry (``raise self.retry(...)`` reads well).

        Past ``max_retries`` (the task's, or this call's), re-raises ``exc`` if given, else raises
        MaxRetriesExceededError. Called directly (not through a worker or ``apply``), it re-raises.
        """
        request = self.request
        if request.called_directly:
            raise exc if exc is not None else Retry("Task can be retried", None)
        limit = self.max_retries if max_retries is None else max_retries
        if limit is not None and request.retries >= limit:
            if exc is not None:
                raise exc
            raise MaxRetriesExceededError(
                f"Can't retry {self.name}[{request.id}] args:{request.args} kwargs:{request.kwargs}",
                task_args=request.args,
                task_kwargs=request.kwargs,
            )
        if eta is None and countdown is None:
            countdown = self.default_retry_delay
        sig = self.signature_from_request(request, args, kwargs, countdown=countdown, eta=eta, **options)
        ret = Retry(exc=exc, when=eta or countdown, is_eager=request.is_eager, sig=sig)
        # A worker turns this into a gocraft retry entry (D6); in eager mode apply() re-runs sig.
        if throw:
            raise ret
        return ret

    def replace(self, sig: Any) -> Any:
        """Replace this task with ``sig`` (Celery's ``Task.replace``): the new task takes this one's id,
        so ``AsyncResult(id)`` gives its result, and its place in a chain or chord and its callbacks.

        In a worker it raises Ignore (this run stores no state); in eager mode (``apply()``) it runs
        ``sig`` here and returns its result, as Celery does. Not supported, and refused: a group (Celery
        gathers its results with its accumulate task), and a chain or chord replacing a task that has a
        chain, chord or callbacks after it.
        """
        from ..canvas import Signature, chain, group, maybe_signature
        from ..canvas.store import load_continuation

        request = self.request
        new = maybe_signature(sig, app=self.app)
        if isinstance(new, group):
            raise NotImplementedError(
                "Task.replace() with a group is not supported by celery_shim (Celery gathers its results with "
                "its accumulate task); replace with a chord whose body gathers them, e.g. chord(tasks, gather.s())"
            )
        if request.called_directly or request.is_eager or request.id is None:
            return new.apply().get()
        followups = load_continuation(self.app, request.id) or {}
        options: dict[str, Any] = {"task_id": request.id, **followups}  # chain, link, link_error, chord
        if request.root_id:
            options["root_id"] = request.root_id
        if type(new) is not Signature and isinstance(new, Signature) and followups:
            raise NotImplementedError(
                f"Task.replace() of {self.name}, which has a chain, chord or callbacks after it, with a "
                f"{type(new).__name__}: celery_shim replaces such a task with a single task signature only"
            )
        if isinstance(new, chain) and not followups:
            options = {"task_id": request.id}  # the chain's result, its last step's, takes this id
        new.apply_async(**options)
        raise Ignore("Replaced by new task")

    def signature_from_request(
        self,
        request: Context,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Signature:
        """The call to make again for ``retry()``: same id and headers, new args if given."""
        opts = {"task_id": request.id, "headers": request.headers, **options}
        return Signature(
            self,
            request.args if args is None else args,
            request.kwargs if kwargs is None else kwargs,
            {k: v for k, v in opts.items() if v is not None},
        )

    # -- signatures and results -------------------------------------------------------------------
    def signature(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **options: Any
    ) -> Signature:
        immutable = bool(options.pop("immutable", False))
        return Signature(self, args, kwargs, options, immutable=immutable)

    subtask = signature

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A partial call: ``add.s(2)``."""
        return Signature(self, args, kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """An immutable call, which ignores the args it is later given."""
        return Signature(self, args, kwargs, immutable=True)

    # -- handlers a worker calls around each run (override in a Task subclass) ------------------------
    def before_start(self, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Called by the worker before the task runs."""

    def on_success(self, retval: Any, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Called by the worker after the task returned."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: Any
    ) -> None:
        """Called by the worker when the task failed for good."""

    def on_retry(
        self, exc: BaseException | None, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: Any
    ) -> None:
        """Called by the worker when the task is to be retried."""

    def after_return(
        self, status: str, retval: Any, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: Any
    ) -> None:
        """Called by the worker after a success or failure (not after a retry, Ignore or Reject)."""

    @property
    def backend(self) -> Any:
        """The app's result backend."""
        return self.app.backend

    def update_state(
        self, task_id: str | None = None, state: str | None = None, meta: Any = None, **kwargs: Any
    ) -> None:
        """Store a state (``"PROGRESS"``, ...) and its meta for a task, by default the running one.

        In a worker the state also shows as the running job's gocraft check-in, so Go's client and
        the dashboard see the progress without a result backend.
        """
        request = self.request
        if task_id is None:
            task_id = request.id
        if task_id is None:
            raise ValueError("update_state needs a task_id outside a running task")
        self.backend.store_result(task_id, meta, state or states.PENDING, request=request)
        checkin = getattr(request, "gocraft_checkin", None)
        if checkin is not None and task_id == request.id:
            checkin(state_checkin(state, meta))

    def AsyncResult(self, task_id: str) -> AsyncResult:
        return AsyncResult(task_id, task_name=self.name, app=self.app)

    def __repr__(self) -> str:
        return f"<@task: {self.name}>"


def state_checkin(state: str | None, meta: Any) -> str:
    """The gocraft check-in text for ``update_state``: the state, then its meta as JSON."""
    text = state or states.PENDING
    if meta is None:
        return text
    try:
        return f"{text} {gojson.dumps(meta)}"[:1024]
    except (TypeError, ValueError):
        return f"{text} {meta!r}"[:1024]


def _check_call(args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Celery's argument types for apply_async: args a list or tuple, kwargs a mapping."""
    if args is None:
        args = ()
    if kwargs is None:
        kwargs = {}
    if not isinstance(args, (list, tuple)):
        raise TypeError("argument 'args' must be a list or tuple")
    if not isinstance(kwargs, Mapping):
        raise TypeError("argument 'kwargs' must be a mapping")
    return tuple(args), dict(kwargs)
