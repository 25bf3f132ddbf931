"""One run of one task for one gocraft job, with Celery's semantics (spec D1, D5, D6, 1.5, 1.6, 1.9).

``Trace.run`` rebuilds the call from the job's args object, pushes ``task.request``, fires
``task_prerun``/``task_postrun`` and the outcome's signal, calls the task's handlers, stores the
state through ``app.backend``, and answers the job's fate as a work_compat JobFate (or None for a
success). It runs wherever the task runs: a worker thread, or a prefork child.

Fates (D6): a success ends the job; ``self.retry()`` and autoretry give ``RetryAt`` (score = the
retry's eta, fails + 1, new args if given) and never gocraft's backoff; a plain exception, or
retries exhausted, gives ``DeadNow`` with a FAILURE result; ``Ignore`` ends the job with no state;
``Reject(requeue=True)`` puts the fetched bytes back; ``Reject()`` is a FAILURE and dead, as in
Celery 5.7 (which stores FAILURE for a reject without requeue).
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import logging
import math
import os
import time
import traceback as tb_module
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from work_compat import DeadNow, Discard, Job, JobFate, PutBack, RetryAt
from work_compat.runner import error_text

from .. import _state, signals, states
from ..exceptions import Ignore, Reject, Retry
from ..gocraft.arguments import call_from_args, call_from_args_fast, encode_args, restore_typed
from ..install import refused_attribute
from .autoretry import run_task
from .task import Context
from .task import Task as BaseTask

if TYPE_CHECKING:
    from .base import Celery
    from .config import SettingsSnapshot
    from .task import Task

__all__ = ["ExceptionInfo", "Trace", "current_task", "ignore_result_of", "job_meta", "task_setting"]

logger = logging.getLogger(__name__)

current_task = _state.current_task  # the task running in this thread (Celery code reaches it here too)
pushed = _state.pushed


class ExceptionInfo:
    """What handlers and signals get as ``einfo``: the exception, its type and traceback text."""

    def __init__(self, exc: BaseException) -> None:
        self.exception = exc
        self.type = type(exc)
        self.tb = exc.__traceback__
        self.traceback = "".join(tb_module.format_exception(type(exc), exc, exc.__traceback__))

    def __str__(self) -> str:
        return self.traceback

    def __repr__(self) -> str:
        return f"<ExceptionInfo: {self.exception!r}>"


def task_setting(task: Task, attr: str, setting: str, default: Any = None, conf: Any = None) -> Any:
    """A task option that falls back to a setting (``acks_late`` -> ``task_acks_late``): the task's
    value when it sets one (not None), else the app's setting (read from ``conf`` when given: the
    worker passes its settings snapshot)."""
    value = getattr(task, attr, None)
    if value is not None:
        return value
    return (task.app.conf if conf is None else conf).get(setting, default)


def ignore_result_of(task: Task, conf: Any = None) -> bool:
    """The task's ``ignore_result`` when it sets one, else ``task_ignore_result`` (from ``conf``
    when given)."""
    own = vars(task)
    if "ignore_result" in own:
        return bool(own["ignore_result"])
    for klass in type(task).__mro__:
        if klass is BaseTask:
            break
        if "ignore_result" in vars(klass):
            return bool(vars(klass)["ignore_result"])
    return bool((task.app.conf if conf is None else conf).get("task_ignore_result"))


def job_meta(job: Job) -> dict[str, Any]:
    """The job's ``"celery"`` metadata object (D4); ``{}`` for Go jobs, or when it is malformed."""
    meta = job.extra.get("celery")
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        logger.warning("job %s %s: its 'celery' metadata is not an object (%r); ignored", job.name, job.id, meta)
        return {}
    return meta


def _iso(epoch: Any) -> str | None:
    if epoch is None:
        return None
    try:
        return dt.datetime.fromtimestamp(float(epoch), dt.timezone.utc).isoformat()
    except (TypeError, ValueError, OverflowError):
        return None


def _restored(job: Job, meta: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the job's args object with what D2 flattened given back (empty lists, typed values)."""
    args_obj = copy.deepcopy(job.args) if job.args else {}
    if "empty_lists" in meta:
        args_obj = _restore_empty_lists(args_obj, meta)
    return restore_typed(args_obj, meta.get("types"))


def _restore_empty_lists(args: dict[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``{}`` back into ``[]`` for the args that were empty lists before a Go requeue (D2)."""
    names = meta.get("empty_lists")
    if isinstance(names, list):
        for name in names:
            if isinstance(name, str) and args.get(name) == {}:
                args[name] = []
    return args


_BASE_HANDLERS = {
    name: getattr(BaseTask, name) for name in ("before_start", "on_success", "on_failure", "on_retry", "after_return")
}


def _overridden(task: Task, name: str) -> bool:
    """Whether the task's ``name`` handler is not the base class's, which does nothing."""
    return getattr(getattr(task, name), "__func__", None) is not _BASE_HANDLERS[name]


class Call:
    """A job's args as the task's call: what the task runs with (``args``, ``kwargs``, or the
    ``bind_error`` that fails it), and what ``task_received`` shows (the raw args when they do not
    even map to a call)."""

    __slots__ = ("args", "bind_error", "kwargs", "received_args", "received_kwargs")

    def __init__(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        bind_error: TypeError | None,
        received_args: tuple[Any, ...],
        received_kwargs: dict[str, Any],
    ) -> None:
        self.args = args
        self.kwargs = kwargs
        self.bind_error = bind_error
        self.received_args = received_args
        self.received_kwargs = received_kwargs


class Trace:
    """Runs tasks for jobs in one process (a worker, or a prefork child)."""

    def __init__(
        self,
        app: Celery,
        hostname: str,
        *,
        soft_limit: Callable[[float | None], AbstractContextManager[None]] | None = None,
    ) -> None:
        self.app = app
        self.hostname = hostname
        self.soft_limit = soft_limit
        self._queues: tuple[Any, dict[str, str]] = (None, {})  # (settings snapshot, task name -> queue)

    # -- the request -------------------------------------------------------------------------------
    def request_for(
        self,
        task: Task,
        job: Job,
        meta: Mapping[str, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        conf: SettingsSnapshot | None = None,
    ) -> Context:
        """``task.request`` for this job: ids, retries (the job's ``fails``), args, metadata."""
        headers = meta.get("headers") if isinstance(meta.get("headers"), dict) else None
        hard, soft = meta.get("time_limit"), meta.get("soft_time_limit")
        eta, expires = meta.get("eta"), meta.get("expires")
        values: dict[str, Any] = {
            "id": job.id,
            "task": task.name,
            "args": args,
            "kwargs": kwargs,
            "retries": job.fails,
            "is_eager": False,
            "called_directly": False,
            "hostname": self.hostname,
            "delivery_info": {
                "exchange": "",
                "routing_key": meta.get("queue") or self._queue(task, conf),
                "priority": None,
                "redelivered": False,
            },
            "eta": None if eta is None else _iso(eta),
            "expires": None if expires is None else _iso(expires),
            "headers": headers,
            "root_id": meta.get("root_id") or job.id,
            "parent_id": meta.get("parent_id"),
            "group": meta.get("group_id"),
            "group_index": meta.get("group_index"),
            "shadow": meta.get("shadow"),
            "origin": meta.get("origin"),
            "correlation_id": job.id,
            "timelimit": (hard, soft),
            "time_limit": hard,
            "soft_time_limit": soft,
            "utc": True,
            "gocraft_checkin": job.checkin,
            "canvas": bool(meta.get("canvas")),  # celery-canvas: the job has a side key (canvas_driver)
        }
        if headers:
            custom = {  # custom headers read as request attributes too
                key: value
                for key, value in headers.items()
                if isinstance(key, str) and key.isidentifier() and not hasattr(Context, key)
            }
            if custom:
                values = {**custom, **values}
        request = Context.__new__(Context)  # Context(**values), without copying the dict twice
        request.__dict__ = values
        return request

    def request_of(self, task: Task, job: Job, meta: Mapping[str, Any], call: Call | None = None) -> Context:
        """``request_for`` with the call rebuilt from the job (its raw args when they do not bind)."""
        if call is None:
            call = self.call_of(task, job, meta)
        return self.request_for(task, job, meta, call.received_args, dict(call.received_kwargs))

    def call_of(self, task: Task, job: Job, meta: Mapping[str, Any]) -> Call:
        """The call a job's args object stands for (D1), checked against the task's signature."""
        restore = bool(meta) and ("empty_lists" in meta or "types" in meta)
        args_obj = _restored(job, meta) if restore else dict(job.args) if job.args else {}
        shape = task.run_shape()
        fast = call_from_args_fast(shape, args_obj)
        if fast is not None:
            return Call(fast[0], fast[1], None, fast[0], fast[1])
        args_obj = (
            _restored(job, meta) if restore else dict(job.args) if job.args else {}
        )  # the fast path changed its copy
        signature = shape.signature
        try:
            received_args, received_kwargs = call_from_args(signature, args_obj)
        except TypeError:
            received_args, received_kwargs = (), args_obj
        bind_error: TypeError | None = None
        try:
            call_args, call_kwargs = call_from_args(signature, args_obj)
            signature.bind(*call_args, **call_kwargs)
        except TypeError as err:
            call_args, call_kwargs = (), dict(args_obj)
            shown = signature.replace(
                parameters=[p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()],
                return_annotation=inspect.Signature.empty,
            )
            bind_error = TypeError(f"the job's args {sorted(args_obj)} do not fit {task.name}{shown}: {err}")
        return Call(call_args, call_kwargs, bind_error, received_args, received_kwargs)

    def _queue(self, task: Task, snap: SettingsSnapshot | None = None) -> str:
        """The task's queue label (routes read once per settings snapshot: they are static)."""
        if task.queue:
            return str(task.queue)
        if snap is None:
            snap = self.app.conf.snapshot()
        cache = self._queues
        if cache[0] is not snap:
            cache = self._queues = (snap, {})
        name = task.name or ""
        queue = cache[1].get(name)
        if queue is None:
            from .routes import queue_of

            try:
                queue = queue_of(self.app, task)
            except Exception:  # a broken router must not stop the task; the queue is informative here
                queue = str(self.app.conf.task_default_queue)
            cache[1][name] = queue
        return queue

    # -- one run -----------------------------------------------------------------------------------
    def run(
        self,
        task: Task,
        job: Job,
        meta: Mapping[str, Any],
        soft_seconds: float | None = None,
        call: Call | None = None,
    ) -> JobFate | None:
        """Run ``task`` for ``job`` (``call``: its args already rebuilt); the fate to apply (None: success)."""
        if call is None:
            call = self.call_of(task, job, meta)
        call_args, call_kwargs, bind_error = call.args, call.kwargs, call.bind_error
        conf = task.app.conf.snapshot()
        request = self.request_for(task, job, meta, call_args, call_kwargs, conf)
        ignore_result = ignore_result_of(task, conf)
        store_errors = not ignore_result or bool(
            task_setting(task, "store_errors_even_if_ignored", "task_store_errors_even_if_ignored", False, conf)
        )
        track_started = not ignore_result and bool(
            task_setting(task, "track_started", "task_track_started", False, conf)
        )
        started = time.monotonic()
        state: str | None = None
        retval: Any = None
        fate: JobFate | None = None
        stack: list[Task] | None = getattr(_state._running, "stack", None)  # what _state.pushed does, inlined (per job)
        if stack is None:
            stack = _state._running.stack = []
        requests = task._stack()
        stack.append(task)
        requests.append(request)
        try:
            try:
                if signals.task_prerun.has_receivers():
                    signals.task_prerun.send(sender=task, task_id=job.id, task=task, args=call_args, kwargs=call_kwargs)
                if track_started:
                    self._store(
                        task,
                        lambda: task.backend.mark_as_started(
                            job.id, request=request, pid=os.getpid(), hostname=self.hostname
                        ),
                    )
                try:
                    if _overridden(task, "before_start"):
                        task.before_start(job.id, call_args, call_kwargs)
                    if bind_error is not None:
                        raise bind_error
                    if soft_seconds and self.soft_limit is not None:
                        with self.soft_limit(soft_seconds):
                            retval = run_task(task, call_args, call_kwargs)
                    else:
                        retval = run_task(task, call_args, call_kwargs)
                    state = states.SUCCESS
                except Reject as exc:
                    state, retval = states.REJECTED, exc
                    fate = self._rejected(task, request, exc, store_errors)
                except Ignore as exc:
                    state, retval = states.IGNORED, exc
                    logger.info("Task %s[%s] ignored", task.name, job.id)
                    fate = Discard("ignored by the task")
                    fate.history_status = None  # no state change, as Celery's IGNORED
                except Retry as exc:
                    state, retval = states.RETRY, exc
                    fate = self._retry(task, job, request, exc, store_errors)
                except Exception as exc:
                    state, retval = states.FAILURE, exc
                    fate = self._failure(task, request, exc, store_errors)
                else:
                    fate = self._success(task, request, retval, ignore_result, time.monotonic() - started)
                    if fate is not None:  # the result could not be stored
                        state = states.FAILURE
                if state in (states.SUCCESS, states.FAILURE):
                    self._handler(task, "after_return", state, retval, job.id, call_args, call_kwargs, None)
            finally:
                if signals.task_postrun.has_receivers():
                    signals.task_postrun.send(
                        sender=task,
                        task_id=job.id,
                        task=task,
                        args=call_args,
                        kwargs=call_kwargs,
                        retval=retval,
                        state=state,
                    )
        finally:
            requests.pop()
            stack.pop()
        return fate

    # -- outcomes ----------------------------------------------------------------------------------
    def _success(
        self, task: Task, request: Context, retval: Any, ignore_result: bool, runtime: float
    ) -> JobFate | None:
        if not ignore_result:
            try:
                task.backend.store_result(request.id, retval, states.SUCCESS, request=request)
            except TypeError as err:  # a result JSON cannot carry: a failure, as Celery's EncodeError
                return self._failure(task, request, err, True)
            except Exception as err:
                logger.error("Task %s[%s] succeeded but its result was not stored: %s", task.name, request.id, err)
        self._canvas("on_success", request, retval)  # celery-canvas: chain, link, chord (after the store)
        self._handler(task, "on_success", retval, request.id, request.args, request.kwargs)
        if signals.task_success.has_receivers():
            signals.task_success.send(sender=task, result=retval, runtime=runtime)
        logger.info("Task %s[%s] succeeded in %.6fs: %.256r", task.name, request.id, runtime, retval)
        return None

    def _retry(self, task: Task, job: Job, request: Context, exc: Retry, store_errors: bool) -> JobFate:
        einfo = ExceptionInfo(exc)
        reason = exc.exc if isinstance(exc.exc, BaseException) else None
        if store_errors:
            self._store(
                task,
                lambda: task.backend.store_result(
                    request.id, reason, states.RETRY, traceback=einfo.traceback, request=request
                ),
            )
        self._handler(task, "on_retry", reason, request.id, request.args, request.kwargs, einfo)
        signals.task_retry.send(sender=task, request=request, reason=exc, einfo=einfo)
        logger.info("Task %s[%s] retry: %s", task.name, request.id, exc)
        eta, new_args = self._retry_plan(task, job, exc)
        text = error_text(reason) if reason is not None else str(exc)
        # The retry set's score is a whole second (gocraft's, and Go pools', view); the exact eta rides
        # in the job's "celery" metadata, for a Python worker to move it on time (worker.eta).
        meta = job.extra.get("celery")
        extra = {"celery": {**(meta if isinstance(meta, dict) else {}), "eta": eta}}
        return RetryAt(math.ceil(eta), new_args=new_args, reason=text, extra=extra)

    def _retry_plan(self, task: Task, job: Job, exc: Retry) -> tuple[float, dict[str, Any] | None]:
        """The retry's exact eta (never before now) and its new args, if they changed."""
        now = self.app.now()
        when = exc.when
        if isinstance(when, dt.datetime):
            eta = (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).timestamp()
        elif isinstance(when, (int, float)) and not isinstance(when, bool):
            eta = now + float(when)
        else:
            eta = now + float(task.default_retry_delay)
        new_args: dict[str, Any] | None = None
        sig = exc.sig
        if sig is not None:
            bound = encode_args(task.bind_args(sig.args, sig.kwargs))
            if bound != (job.args or {}):
                new_args = bound
        return max(eta, now), new_args

    def report_failure(
        self,
        task: Task,
        request: Context,
        exc: BaseException,
        einfo: ExceptionInfo,
        *,
        store_errors: bool,
        after_return: bool = False,
    ) -> None:
        """What every FAILURE does, whether the task raised or its child process was lost: store it,
        continue the canvas (link_error, chain, chord), call ``on_failure`` (and ``after_return``
        when the task's own run could not), send ``task_failure``."""
        if store_errors:
            self._store(
                task,
                lambda: task.backend.store_result(
                    request.id, exc, states.FAILURE, traceback=einfo.traceback, request=request
                ),
            )
        self._canvas("on_failure", request, exc, einfo.traceback)  # celery-canvas: link_error, chain, chord
        self._handler(task, "on_failure", exc, request.id, request.args, request.kwargs, einfo)
        if after_return:
            self._handler(task, "after_return", states.FAILURE, exc, request.id, request.args, request.kwargs, None)
        signals.task_failure.send(
            sender=task,
            task_id=request.id,
            exception=exc,
            args=request.args,
            kwargs=request.kwargs,
            traceback=exc.__traceback__,
            einfo=einfo,
        )

    def _failure(self, task: Task, request: Context, exc: BaseException, store_errors: bool) -> JobFate:
        einfo = ExceptionInfo(exc)
        self.report_failure(task, request, exc, einfo, store_errors=store_errors)
        if isinstance(exc, tuple(task.throws or ())):
            logger.info("Task %s[%s] raised expected: %s", task.name, request.id, error_text(exc))
        else:
            logger.error("Task %s[%s] raised unexpected: %s\n%s", task.name, request.id, error_text(exc), einfo)
        return DeadNow(error_text(exc))

    def _rejected(self, task: Task, request: Context, exc: Reject, store_errors: bool) -> JobFate:
        if exc.requeue:
            logger.info("Task %s[%s] rejected and requeued: %s", task.name, request.id, exc.reason)
            return PutBack(f"rejected: {exc.reason}")
        einfo = ExceptionInfo(exc)
        if store_errors:
            self._store(
                task,
                lambda: task.backend.store_result(
                    request.id, exc, states.FAILURE, traceback=einfo.traceback, request=request
                ),
            )
        signals.task_failure.send(
            sender=task,
            task_id=request.id,
            exception=exc,
            args=request.args,
            kwargs=request.kwargs,
            traceback=einfo.traceback,
            einfo=einfo,
        )
        logger.info("Task %s[%s] rejected: %s", task.name, request.id, exc.reason)
        return DeadNow(f"Reject: {exc.reason}" if exc.reason is not None else "Reject")

    def _canvas(self, hook: str, request: Context, *outcome: Any) -> None:
        """celery-canvas: follow the job's canvas side key (canvas_driver.on_success/on_failure), once
        the final state is stored. A failure here is logged; it never changes the job's fate."""
        if not getattr(request, "canvas", False):
            return
        from . import continuation as canvas_driver

        try:
            getattr(canvas_driver, hook)(self.app, request.id, *outcome, request)
        except Exception:
            logger.exception("Task %s[%s]: its canvas continuation failed", getattr(request, "task", "?"), request.id)

    def _store(self, task: Task, write: Callable[[], Any]) -> None:
        """A result write that must not change the job's fate when it fails (logged)."""
        try:
            write()
        except Exception as err:
            logger.error("Task %s: result backend write failed: %s", task.name, err)

    @staticmethod
    def _handler(task: Task, name: str, *args: Any) -> None:
        """Call a handler; its exception is logged (the outcome is already decided and stored)."""
        try:
            handler = getattr(task, name)
            if getattr(handler, "__func__", None) is not _BASE_HANDLERS[name]:  # the base ones do nothing
                handler(*args)
        except Exception:
            logger.exception("Task %s: %s handler raised", task.name, name)


__getattr__ = refused_attribute(
    __name__,
    dict.fromkeys(
        ("build_tracer", "task_has_custom", "trace_task"),
        "Celery's tracer, which Sentry's and OpenTelemetry's Celery integrations patch: celery_shim runs tasks "
        "through its own Trace; hook into task runs with the task_prerun/task_postrun/task_failure signals",
    ),
)
