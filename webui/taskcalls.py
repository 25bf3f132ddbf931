"""Flower's task-calling body (``args``, ``kwargs`` and apply_async options) as one gocraft job.

The job is the one celery_shim's ``send_task`` publishes for a task with no local code, built by
``celery_shim.gocraft.call_job.unbound_call``: a new UUID as id, the args object built by D1's rule for
unknown names (keyword arguments by name, positional ones under ``"*args"``, which Go handlers
cannot read by name: call Go jobs with ``kwargs``), and Celery's options through celery_shim's
option table: ``countdown`` or ``eta`` schedule it (D8), ``expires`` goes in the ``"celery"``
metadata beside args (D4, D9). What is left here is reading Flower's body: ``eta`` and
``expires`` take Flower's ``YYYY-MM-DD HH:MM:SS.ffffff`` or ISO 8601; without a zone they are UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from celery_shim.gocraft.call_job import unbound_call
from work_compat import Job

__all__ = ["CallError", "TaskCall", "task_call"]

_FLOWER_DATE = "%Y-%m-%d %H:%M:%S.%f"


class CallError(ValueError):
    """The body cannot become a job; the message says why (the handler's 400)."""


@dataclass(frozen=True)
class TaskCall:
    """A job ready to enqueue, and when (None: now)."""

    job: Job
    run_at: int | None


def _datetime(name: str, value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise CallError(f"{name} must be a date string")
    for parse in (lambda v: dt.datetime.strptime(v, _FLOWER_DATE), dt.datetime.fromisoformat):
        try:
            when = parse(value)
        except ValueError:
            continue
        return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    raise CallError(f"{name} {value!r} is not a date (YYYY-MM-DD HH:MM:SS.ffffff or ISO 8601)")


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CallError(f"{name} must be a number of seconds")
    try:
        seconds = float(value)
    except ValueError:
        raise CallError(f"{name} {value!r} is not a number of seconds") from None
    if seconds != seconds or abs(seconds) > 10**10:
        raise CallError(f"{name} {value!r} is out of range")
    return seconds


def _options(body: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if body.get("countdown") is not None:
        options["countdown"] = _seconds("countdown", body["countdown"])
    if body.get("eta") is not None:
        options["eta"] = _datetime("eta", body["eta"])
    expires = body.get("expires")
    if expires is not None:
        try:
            options["expires"] = _seconds("expires", expires)
        except CallError:
            options["expires"] = _datetime("expires", expires)
    if body.get("task_id") is not None:
        if not isinstance(body["task_id"], str) or not body["task_id"]:
            raise CallError("task_id must be a non-empty string")
        options["task_id"] = body["task_id"]
    return options


def task_call(name: str, body: Any, now: float) -> TaskCall:
    """The job for ``POST /api/task/async-apply/<name>`` or ``send-task/<name>``; CallError if bad."""
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise CallError("the body must be a JSON object")
    args = body.get("args", [])
    kwargs = body.get("kwargs", {})
    if args is None:
        args = []
    if kwargs is None:
        kwargs = {}
    if not isinstance(args, list):
        raise CallError("args must be an array")
    if not isinstance(kwargs, Mapping):
        raise CallError("kwargs must be an object")
    try:
        job, plan = unbound_call(name, args, kwargs, _options(body), now)
    except CallError:
        raise
    except (TypeError, ValueError) as err:
        raise CallError(str(err)) from err
    return TaskCall(job, plan.run_at)
