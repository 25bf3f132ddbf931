"""What a Python worker does after a task that is part of a canvas (spec D15).

The worker's execution module calls ``on_success`` or ``on_failure`` once the task's final state
is stored (never for a retry). They read the task's side key (canvas_store) and:

* on success: publish each ``link`` callback with the result prepended (unless immutable), publish
  the chain's next step the same way (the steps after it ride along in its own side key), and, for
  a chord header task, count it; the task that brings the count to the header size publishes the
  body with the header results, in header order, read from the result backend;
* on failure: call each ``link_error`` errback as Celery 5 does (a plain function task taking
  more than one argument is called here with ``(request, exc, traceback)``; any other is published
  with the failed task's id), store FAILURE for every later step of the chain (so ``get()`` on the
  chain's result raises rather than waits), and count a chord member as done; a chord whose header
  has a failure fails its body with ChordError and calls the body's errbacks.

Delivery is at least once, like the jobs themselves: the side key is deleted only after what it
asked for was published, so a task rerun after a crash publishes its continuation again (with the
same frozen task ids). A chord counts each header task once: counting deletes the side key in the
same script. A step run by a Go worker ends the canvas there, as no Python worker sees it finish.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import states
from ..backends.redis import request_field
from ..canvas import Signature, chain, chord, group, maybe_signature
from ..canvas import store as canvas_store
from ..canvas.primitives import GATHER
from ..canvas.signature import as_list
from ..exceptions import ChordError

if TYPE_CHECKING:
    from .base import Celery
    from .task import Task

__all__ = ["call_errback", "eager_followups", "on_failure", "on_revoked", "on_success"]

logger = logging.getLogger(__name__)

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _continuation(app: Celery, task_id: str, request: Any) -> dict[str, Any] | None:
    """The side key of ``task_id``, read only when the job said it has one (``"canvas"`` in its
    metadata); without a request to ask, look anyway."""
    if request is not None and not request_field(request, "canvas"):
        return None
    return canvas_store.load_continuation(app, task_id)


# -- the worker's two calls ----------------------------------------------------------------------------
def on_success(app: Celery, task_id: str, result: Any, request: Any) -> None:
    """Follow the continuation of ``task_id``, which succeeded with ``result`` (already stored)."""
    record = _continuation(app, task_id, request)
    if record is None:
        return
    root_id = request_field(request, "root_id") or task_id
    follow = {"parent_id": task_id, "root_id": root_id}
    for callback in record.get("link") or []:
        _publish(app, callback, (result,), follow, task_id)
    rest = list(record.get("chain") or [])
    membership = record.get("chord")
    if rest:
        step = Signature.from_dict(rest[0], app=app)
        options = dict(follow)
        if rest[1:]:
            options["chain"] = rest[1:]
        try:
            step._send(app, (result,), {}, options)
        except (TypeError, ValueError) as exc:  # the result cannot be an argument (EncodeError, binding)
            logger.error("chain after task %s stopped: its next step %r cannot be sent: %s", task_id, step, exc)
            _fail_steps(app, rest, exc, None)
            membership = _membership(app, record)  # the chain's end will never count: count it here
    _finish(app, task_id, membership, root_id)


def on_failure(app: Celery, task_id: str, exc: BaseException, traceback: str | None, request: Any) -> None:
    """Call the errbacks of ``task_id``, which failed for good with ``exc`` (already stored), fail the
    rest of its chain, and count it if it ends a chord header member."""
    record = _continuation(app, task_id, request)
    if record is None:
        return
    root_id = request_field(request, "root_id") or task_id
    for errback in record.get("link_error") or []:
        call_errback(app, errback, request, exc, traceback, task_id=task_id, root_id=root_id)
    rest = list(record.get("chain") or [])
    if rest:
        _fail_steps(app, rest, exc, traceback)
    _finish(app, task_id, _membership(app, record), root_id)


def on_revoked(app: Celery, task_id: str, request: Any) -> None:
    """``task_id`` was revoked or expired (REVOKED already stored). As in Celery, it counts for its
    chord, whose body then fails with ChordError; errbacks are not called and the rest of its chain
    does not run."""
    record = _continuation(app, task_id, request)
    if record is None:
        return
    _finish(app, task_id, _membership(app, record), request_field(request, "root_id") or task_id)


def _membership(app: Celery, record: Mapping[str, Any]) -> Any:
    """The chord this task counts for: its own, or that of the last step of its chain (a chain in a
    chord header that stops early still has to count)."""
    if record.get("chord"):
        return record["chord"]
    rest = record.get("chain") or []
    if not rest:
        return None
    last = Signature.from_dict(rest[-1], app=app)
    return None if isinstance(last, (group, chord)) else last.options.get("chord")


def _finish(app: Celery, task_id: str, membership: Any, root_id: str) -> None:
    """Drop the side key, counting the task for its chord if it belongs to one."""
    if not membership:
        canvas_store.delete_continuation(app, task_id)
        return
    group_id, size = str(membership["group_id"]), int(membership["size"])
    count = canvas_store.count_chord_part(app, task_id, group_id)
    if count == size:
        _complete_chord(app, group_id, root_id)
    elif count > size:
        logger.error(
            "chord %s counted %d finished header tasks of %d; the body was already called", group_id, count, size
        )


# -- publishing what comes next ---------------------------------------------------------------------
def _publish(app: Celery, sig: Any, args: Sequence[Any], options: Mapping[str, Any], task_id: str) -> None:
    callback = maybe_signature(sig, app=app)
    try:
        callback._send(app, tuple(args), {}, dict(options))
    except (TypeError, ValueError) as exc:
        logger.error("callback %r of task %s cannot be sent: %s", callback, task_id, exc)


def _complete_chord(app: Celery, group_id: str, root_id: str) -> None:
    """Every header task of chord ``group_id`` finished: call the body with their results in order,
    or fail it with ChordError naming the first header task that did not succeed."""
    record = canvas_store.load_chord(app, group_id)
    if record is None:
        logger.error(
            "chord %s finished but its record is gone (expired after result_expires?); body not called", group_id
        )
        return
    body = Signature.from_dict(record["body"], app=app)
    header_ids = [str(i) for i in record.get("header") or []]
    metas = app.backend.get_many(header_ids)
    values: list[Any] = []
    error: ChordError | None = None
    for header_id in header_ids:
        meta = metas.get(header_id) or {}
        status = meta.get("status")
        if status == states.SUCCESS:
            values.append(meta.get("result"))
            continue
        if status in states.PROPAGATE_STATES:
            error = ChordError(f"Dependency {header_id} raised {meta.get('result')!r}")
        else:
            error = ChordError(
                f"Dependency {header_id} has no stored result (state {status}); a chord's header tasks must "
                "store results (ignore_result=False)"
            )
        break
    try:
        if error is not None:
            logger.error("chord %s: %s", group_id, error)
            fail_signature(app, body, error, None)
        elif body.task == GATHER:
            _gathered(app, body, values, root_id)
        else:
            body._send(app, (values,), {}, {"root_id": root_id})
    finally:
        canvas_store.drop_chord(app, group_id)


def _gathered(app: Celery, body: Signature, values: list[Any], root_id: str) -> None:
    """The GATHER body of a group that ends a chord header member: its result is the group's list,
    stored under its id, and what follows it (the outer chord's count) is followed from here."""
    body_id = str(body.id)
    canvas_store.save_continuation(app, body_id, body.options)
    app.backend.store_result(body_id, values, states.SUCCESS)
    on_success(app, body_id, values, {"root_id": root_id, "id": body_id, "canvas": True})


# -- failures ---------------------------------------------------------------------------------------
def _result_ids(sig: Signature) -> list[str]:
    """The ids a caller waits on for ``sig``: a task's, every step of a chain, every member of a
    group, a chord's body."""
    if isinstance(sig, chain):
        return [i for step in sig.tasks for i in _result_ids(step)]
    if isinstance(sig, group):
        return [i for member in sig.tasks for i in _result_ids(member)]
    if isinstance(sig, chord):
        return _result_ids(sig.body) if sig.body is not None else []
    return [sig.id] if sig.id else []


def _fail_steps(app: Celery, steps: Sequence[Any], exc: BaseException, traceback: str | None) -> None:
    """Store FAILURE for the chain steps that will not run (Celery does the same)."""
    for step in steps:
        for step_id in _result_ids(Signature.from_dict(step, app=app)):
            try:
                app.backend.store_result(step_id, exc, states.FAILURE, traceback=traceback)
            except Exception as err:
                logger.error("cannot store FAILURE for chain step %s: %s", step_id, err)


def fail_signature(app: Celery, sig: Signature, exc: BaseException, traceback: str | None) -> None:
    """Fail a signature that never ran: store FAILURE for its results and call its errbacks."""
    from .task import Context

    _fail_steps(app, [sig], exc, traceback)
    first = sig
    while isinstance(first, (chain, chord)):
        nxt = first.tasks[0] if isinstance(first, chain) and first.tasks else getattr(first, "body", None)
        if nxt is None:
            break
        first = nxt
    request = Context(id=first.id, task=first.task, args=first.args, kwargs=first.kwargs, called_directly=False)
    for errback in first.options.get("link_error") or []:
        call_errback(app, errback, request, exc, traceback, task_id=first.id or "", root_id=first.id or "")


def _takes_request(task: Task, errback: Signature) -> bool:
    """Celery 5's rule: a plain function task (not ``bind=True``, not a Task class) whose remaining
    positional arity is above one is called with ``(request, exc, traceback)``."""
    if not isinstance(inspect.getattr_static(type(task), "run", None), staticmethod):
        return False
    try:
        params = list(task.run_signature().parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return True
    positional: list[str] = []
    for param in params:
        if param.kind not in _POSITIONAL:
            continue
        if not errback.immutable and param.name in errback.kwargs:
            break  # a keyword given already makes it and what follows keyword-only
        positional.append(param.name)
    remaining = len(positional) - (0 if errback.immutable else len(errback.args))
    return remaining > 1


def call_errback(
    app: Celery,
    errback: Any,
    request: Any,
    exc: BaseException,
    traceback: str | None,
    *,
    task_id: str,
    root_id: str,
    eager: bool = False,
) -> None:
    """Call one errback of a failed task the way Celery 5 does (see the module docstring)."""
    sig = maybe_signature(errback, app=app)
    task = sig._local_task(app)
    if task is not None and _takes_request(task, sig):
        try:
            sig(request, exc, traceback)
        except Exception:
            logger.exception("errback %s of task %s raised", sig.task, task_id)
        return
    try:
        if eager:
            sig.clone().apply((task_id,), parent_id=task_id, root_id=root_id)
        else:
            sig._send(app, (task_id,), {}, {"parent_id": task_id, "root_id": root_id})
    except Exception:
        logger.exception("errback %s of task %s could not be sent", sig.task, task_id)


# -- eager mode -----------------------------------------------------------------------------------
def eager_followups(
    app: Celery, request: Any, state: str, retval: Any, traceback: str | None, link: Any, link_error: Any
) -> None:
    """``apply()``'s callbacks: ``link`` after a success (``apply_async``, which runs them here when
    eager and publishes them otherwise, as Celery), ``link_error`` after a failure."""
    task_id = str(request_field(request, "id"))
    root_id = request_field(request, "root_id") or task_id
    if state == states.SUCCESS:
        for callback in as_list(link):
            maybe_signature(callback, app=app).apply_async((retval,), parent_id=task_id, root_id=root_id)
    elif state == states.FAILURE:
        for errback in as_list(link_error):
            call_errback(app, errback, request, retval, traceback, task_id=task_id, root_id=root_id, eager=True)
