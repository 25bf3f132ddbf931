"""One task as Flower's API shows it, assembled from where gocraft holds the job (spec D5).

The state is a stored Celery result's, else the first place the job was seen in celery_shim's D5
order (``task_state.D5_ORDER``, the one AsyncResult follows), so the dashboard and ``.state``
agree: the history log's verdict (success, dead); a worker running it (STARTED); a pool holding it
unobserved (RECEIVED); the revoked set; a history retry; then the retry set (RETRY), dead set
(FAILURE), scheduled set or queue (PENDING).

Values are Flower's: epoch floats for ``received``, ``started``, ``succeeded``, ``failed``,
``retried``, ``revoked``; ISO-8601 strings for ``eta`` and ``expires``; ``args`` and ``kwargs``
as text. gocraft keeps one args object (spec D1): ``args`` shows its ``"*args"`` list and
``kwargs`` every other key, both as JSON. What gocraft does not record is null. The fork's history
keeps no start time and no pool: for an attempt a Python pool ran, its ``run_times`` record gives
``started``, ``worker`` and ``runtime`` to the millisecond (``gocraft.timing`` "pool"); for one a
Go pool ran, ``runtime`` is completion minus ``t`` (the last time the job was put on its queue),
whole seconds, queue wait included (``gocraft.timing`` "history").
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from celery_shim import states
from celery_shim.gocraft.task_state import history_place, state_of
from work_compat import HistoryJob, HistoryStatus, Job

from .taskstore import RunTime, Sighting, Snapshot

__all__ = ["VAR_ARGS_KEY", "exception_text", "flower_task", "iso", "task_state"]

VAR_ARGS_KEY = "*args"  # celery_shim's key for positional args in a gocraft args object (D1)

# Which sighting describes the job best when it is in several places at once.
_PREFERENCE = ("worker", "inprogress", "retry", "dead", "scheduled", "queue")


def iso(epoch: float | None) -> str | None:
    """An epoch as Celery writes eta and expires: ISO 8601 in UTC."""
    if epoch is None:
        return None
    try:
        return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def exception_text(value: Any) -> str | None:
    """Celery's stored exception (``{"exc_type", "exc_message", ...}``) as ``Type('message')``."""
    if isinstance(value, Mapping) and "exc_type" in value:
        message = value.get("exc_message")
        parts = message if isinstance(message, (list, tuple)) else [message]
        return f"{value['exc_type']}({', '.join(repr(p) for p in parts if p is not None)})"
    return None if value is None else str(value)


def _primary(sightings: list[Sighting]) -> Sighting | None:
    for where in _PREFERENCE:
        for s in sightings:
            if s.where == where:
                return s
    return None


def task_state(
    meta: Mapping[str, Any] | None, sightings: list[Sighting], history: HistoryJob | None, revoked: float | None
) -> str:
    """The task's Celery state: a stored result's, else celery_shim's D5 order over where it was seen."""
    if meta is not None and isinstance(meta.get("status"), str):
        return str(meta["status"])
    places = {s.where for s in sightings}
    if history is not None:
        places.add(history_place(history))
    if revoked is not None:
        places.add("revoked")
    return state_of(places)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _split_args(job: Job | None) -> tuple[str | None, str | None]:
    if job is None:
        return None, None
    args = dict(job.args or {})
    positional = args.pop(VAR_ARGS_KEY, [])
    if not isinstance(positional, list):
        positional = [positional]
    return _json_text(positional), _json_text(args)


def _celery_meta(job: Job | None) -> Mapping[str, Any]:
    meta = job.extra.get("celery") if job is not None else None
    return meta if isinstance(meta, Mapping) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _done_at(meta: Mapping[str, Any] | None) -> float | None:
    text = meta.get("date_done") if meta is not None else None
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).timestamp()


def _recorded_run(snap: Snapshot, task_id: str, history: HistoryJob | None) -> RunTime | None:
    """The run_times record of the history's attempt (it ends within a second of completed_at)."""
    if history is None:
        return None
    for run in snap.runs.get(task_id, []):
        if abs(run.ended_at - history.completed_at) <= 1:
            return run
    return None


def flower_task(task_id: str, snap: Snapshot, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Flower's task dict for ``task_id`` from what ``snap`` saw of it and its stored result."""
    sightings = [s for s in snap.sightings if s.job.id == task_id]
    history = snap.history.get(task_id)
    revoked = snap.revoked.get(task_id)
    state = task_state(meta, sightings, history, revoked)
    primary = _primary(sightings)
    job = primary.job if primary is not None and (primary.job.enqueued_at or history is None) else None
    if job is None:
        job = history.job if history is not None else (primary.job if primary is not None else None)
    at = {s.where: s.at for s in sightings}
    done = history.completed_at if history is not None else None
    status = history.status if history is not None else ""
    result_done = _done_at(meta)
    received = float(job.enqueued_at) if job is not None and job.enqueued_at else None
    started = float(at["worker"]) if at.get("worker") else None
    succeeded = float(done) if done is not None and status == HistoryStatus.SUCCESS else None
    if succeeded is None and state == states.SUCCESS:
        succeeded = result_done
    failed = float(at["dead"]) if "dead" in at else None
    if failed is None and done is not None and status == HistoryStatus.DEAD:
        failed = float(done)
    if failed is None and state == states.FAILURE:
        failed = result_done
    retried = float(done) if done is not None and status == HistoryStatus.RETRY else None
    if retried is None and "retry" in at and job is not None and job.failed_at:
        retried = float(job.failed_at)
    runtime = None
    timing = None
    run = _recorded_run(snap, task_id, history) if state not in (states.STARTED, states.RECEIVED) else None
    if run is not None:
        timing = "pool"
        started = started if started is not None else run.started_ms / 1000
        runtime = run.runtime_ms / 1000 if status != HistoryStatus.RETRY else None
    elif history is not None and history.job.enqueued_at and status != HistoryStatus.RETRY:
        timing = "history"
        runtime = float(max(0, history.completed_at - history.job.enqueued_at))
    celery = _celery_meta(job)
    eta = at.get("scheduled") or at.get("retry") or _number(celery.get("eta"))
    args, kwargs = _split_args(job)
    exception = None
    traceback = None
    result = None
    if meta is not None:
        stored = meta.get("result")
        if state in states.EXCEPTION_STATES:
            exception = exception_text(stored)
        elif stored is not None:
            result = _json_text(stored)
        traceback = meta.get("traceback")
    if exception is None and state in (states.FAILURE, states.RETRY) and job is not None and job.last_err:
        exception = job.last_err
    pool = primary.pool if primary is not None and primary.pool else None
    if pool is None and run is not None and run.pool:
        pool = run.pool
    worker = pool or (meta.get("worker") if meta is not None and isinstance(meta.get("worker"), str) else None)
    times = [t for t in (received, started, succeeded, failed, retried, revoked, result_done) if t is not None]
    return {
        "name": job.name if job is not None else (meta.get("name") if meta is not None else None),
        "uuid": task_id,
        "state": state,
        "received": received,
        "sent": None,
        "started": started,
        "succeeded": succeeded,
        "failed": failed,
        "retried": retried,
        "revoked": revoked,
        "rejected": None,
        "runtime": runtime,
        "retries": job.fails if job is not None else 0,
        "eta": iso(eta) if eta else None,
        "expires": iso(_number(celery.get("expires"))),
        "exception": exception,
        "traceback": traceback,
        "result": result,
        "args": args,
        "kwargs": kwargs,
        "worker": worker,
        "timestamp": max(times) if times else None,
        "root_id": celery.get("root_id"),
        "parent_id": celery.get("parent_id"),
        "children": meta.get("children") if meta is not None else None,
        "gocraft": {
            "where": primary.where if primary is not None else ("history" if history is not None else None),
            "at": (primary.at or None) if primary is not None else done,
            "checkin": primary.checkin or None if primary is not None else None,
            "timing": timing,
        },
    }
