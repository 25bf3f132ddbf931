"""The one table that turns Celery call options into what the gocraft job gets (spec §1.4).

Each ``apply_async``/``send_task`` option lands in one of four places: when the job runs (D8:
``LPUSH`` now, or ``ZADD scheduled`` at a whole-second epoch), the job id, the top-level
``"celery"`` metadata object (D4; never inside args), or nowhere (accepted and ignored, or
ignored with a one-time warning where the gocraft model cannot honour it per message).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ImproperlyConfigured

__all__ = ["CALL_OPTIONS", "PublishPlan", "plan_publish", "to_epoch"]

logger = logging.getLogger(__name__)


@dataclass
class PublishPlan:
    """What one publish does: the job id, when it runs, its ``"celery"`` metadata, publish retries."""

    now: float
    job_id: str | None = None
    run_at: int | None = None  # None: LPUSH now; else the scheduled set's score (ceil of the eta)
    eta: float | None = None  # the exact eta, for request.eta
    meta: dict[str, Any] = field(default_factory=dict)
    publish_retry: bool | None = None  # None: the task_publish_retry setting
    retry_policy: Mapping[str, Any] | None = None
    ignored: list[str] = field(default_factory=list)  # per-message options gocraft cannot honour


def to_epoch(value: float | dt.datetime, now: float, *, naive_utc: bool = True) -> float:
    """A countdown (seconds from now) or a datetime as a UTC epoch; naive datetimes are UTC."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc) if naive_utc else value.astimezone()
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return now + float(value)
    raise TypeError(f"expected seconds or a datetime, got {type(value).__name__}")


def _eta(plan: PublishPlan, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dt.datetime):
        raise TypeError(f"eta must be a datetime, not {type(value).__name__}")
    _schedule(plan, to_epoch(value, plan.now))


def _countdown(plan: PublishPlan, value: Any) -> None:
    if value is None:
        return
    _schedule(plan, to_epoch(value, plan.now))


def _schedule(plan: PublishPlan, eta: float) -> None:
    if plan.eta is not None:
        raise ValueError("give countdown or eta, not both")
    plan.eta = eta
    if eta <= plan.now:
        return  # not in the future: a plain LPUSH, as gocraft's EnqueueIn with a delay of 0 (D8)
    plan.run_at = math.ceil(eta)  # gocraft scores and its 1 s requeuer tick are whole seconds
    plan.meta["eta"] = eta


def _expires(plan: PublishPlan, value: Any) -> None:
    if value is not None:
        plan.meta["expires"] = to_epoch(value, plan.now)  # absolute UTC epoch (D9)


def _task_id(plan: PublishPlan, value: Any) -> None:
    if value is not None:
        plan.job_id = str(value)


def _meta(key: str) -> Callable[[PublishPlan, Any], None]:
    def put(plan: PublishPlan, value: Any) -> None:
        if value is not None:
            plan.meta[key] = value

    return put


def _headers(plan: PublishPlan, value: Any) -> None:
    if value:
        if not isinstance(value, Mapping):
            raise TypeError(f"headers must be a mapping, not {type(value).__name__}")
        plan.meta["headers"] = dict(value)


def _publish_retry(plan: PublishPlan, value: Any) -> None:
    if value is not None:
        plan.publish_retry = bool(value)


def _retry_policy(plan: PublishPlan, value: Any) -> None:
    if value is not None:
        plan.retry_policy = dict(value)


def _serializer(plan: PublishPlan, value: Any) -> None:
    if value not in (None, "json"):
        raise ImproperlyConfigured(f"serializer {value!r} is not supported: Go peers read only json")


def _ignored_with_warning(name: str) -> Callable[[PublishPlan, Any], None]:
    def note(plan: PublishPlan, value: Any) -> None:
        if value is not None:
            plan.ignored.append(name)

    return note


def _accepted(plan: PublishPlan, value: Any) -> None:
    """Accepted and ignored: meaningless for a gocraft job (AMQP routing, producers, ...)."""


# Option -> what it does to the job. Queue checks (D10) need the task and live in task.py.
CALL_OPTIONS: dict[str, Callable[[PublishPlan, Any], None]] = {
    "countdown": _countdown,
    "eta": _eta,
    "expires": _expires,
    "task_id": _task_id,
    "headers": _headers,
    "root_id": _meta("root_id"),
    "parent_id": _meta("parent_id"),
    "shadow": _meta("shadow"),
    "time_limit": _meta("time_limit"),
    "soft_time_limit": _meta("soft_time_limit"),
    "retries": _meta("retries"),
    "retry": _publish_retry,
    "retry_policy": _retry_policy,
    "serializer": _serializer,
    "priority": _ignored_with_warning("priority"),  # per-type weights only (D11)
    "group_id": _meta("group_id"),  # a group member's group and place in it (D15)
    "group_index": _meta("group_index"),
    "link": _accepted,  # canvas continuations: Celery.publish keeps them in the side key (D15)
    "link_error": _accepted,
    "chain": _accepted,
    "chord": _accepted,
    "queue": _accepted,  # checked against the task's queue in task.py (D10)
    "routing_key": _accepted,
    "exchange": _accepted,
    "ignore_result": _accepted,
    "compression": _accepted,
    "add_to_parent": _accepted,
    "producer": _accepted,
    "connection": _accepted,
    "declare": _accepted,
    "reply_to": _accepted,
}


def plan_publish(options: Mapping[str, Any], now: float) -> PublishPlan:
    """Run each option through CALL_OPTIONS; unknown options are logged and ignored, as Celery
    passes them on as message properties nobody reads."""
    plan = PublishPlan(now=now)
    for name, value in options.items():
        handler = CALL_OPTIONS.get(name)
        if handler is None:
            logger.debug("ignoring call option %r", name)
            continue
        if value is not None:  # None means "not given" to every option (apply_async passes several)
            handler(plan, value)
    if plan.meta.get("time_limit") and plan.meta.get("soft_time_limit"):
        if plan.meta["soft_time_limit"] > plan.meta["time_limit"]:
            raise ValueError("soft_time_limit must be less than or equal to time_limit")
    return plan
