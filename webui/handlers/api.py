"""The JSON API on the fork's workwebui paths and payload shapes (protocol §7.3).

Bodies are Go's bytes: each value's own ``to_json()`` (work_compat writes Go's field order and
escaping) laid out as Go's MarshalIndent, with listed args as the fork's client decodes them (every
number a float64). Where the fork answers 500 for everything, these routes say what went wrong: 400
bad input, 404 unknown, 409 already moved, 503 Redis down. tests/webui/test_workwebui_differential.py
asks the fork's real workwebui and these routes the same things; docs/dashboard.md lists where the
answers differ on purpose.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from work_compat import (
    BackoffStrategy,
    EnqueueOptions,
    Job,
    PeriodicSchedule,
    RedisUnavailableError,
    RetryOptions,
    WorkCompatError,
    gojson,
)
from work_compat.client import PAGE_SIZE

from ..jsonfmt import array, obj
from ..security import loggable
from .base import ApiError, BaseHandler

__all__ = [
    "BusyWorkersHandler",
    "DashboardHandler",
    "DeadJobActionHandler",
    "DeadJobsBulkHandler",
    "EnqueueHandler",
    "HealthcheckHandler",
    "HistoryJobHandler",
    "HistoryJobsHandler",
    "PeriodicScheduleHandler",
    "PeriodicScheduleToggleHandler",
    "PeriodicSchedulesHandler",
    "QueuesHandler",
    "RedisInfoHandler",
    "WorkerPoolsHandler",
    "ZsetDeleteHandler",
    "ZsetPageHandler",
]

logger = logging.getLogger(__name__)

_UINT_RE = re.compile(r"[0-9]+")
_INT_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = 2**63 - 1
_MAX_PAGE = _INT64_MAX // PAGE_SIZE + 1  # the last page whose offset Redis's LIMIT takes (Go's too)


# Go decodes the enqueue body's numbers into float64 (§7.3), so 2.50 is re-encoded as 2.5 and
# 12345678901234567890 as 12345678901234567000. NaN and Infinity are not JSON.
def _refuse(name: str) -> Any:
    raise ValueError(f"invalid JSON literal {name}")


class _IntLiteral(float):
    """A JSON number written without fraction or exponent: a float64 in args, as Go's interface{}
    holds it, and its exact value for the int64 fields (which refuse ``1e3``, ``1.0`` and overflow)."""

    exact: int

    def __new__(cls, text: str) -> _IntLiteral:
        literal = super().__new__(cls, text)
        literal.exact = int(text)
        return literal


_GO_NUMBERS = json.JSONDecoder(parse_int=_IntLiteral, parse_constant=_refuse)
_STRATEGIES = {"linear": BackoffStrategy.LINEAR, "fixed": BackoffStrategy.FIXED}


def _query(handler: BaseHandler, name: str) -> str:
    """Go's ``r.URL.Query().Get(name)``: the first value, unstripped ("" when absent).

    Tornado's ``get_query_argument`` takes the last one and strips it.
    """
    values = handler.request.query_arguments.get(name)
    return values[0].decode("utf-8", "replace") if values else ""


def _page(handler: BaseHandler) -> int:
    """``?page=``: missing or empty is 1, 0 is 1, anything but an unsigned decimal is a 400."""
    raw = _query(handler, "page")
    if raw == "":
        return 1
    if not _UINT_RE.fullmatch(raw) or int(raw) > _MAX_PAGE:
        raise ApiError(400, f"invalid page {raw!r}: want a page number from 1")
    return max(int(raw), 1)


def _int64(name: str, raw: str) -> int:
    """A numeric path segment, as Go's ParseInt(raw, 10, 64) reads it; 400 otherwise."""
    if not _INT_RE.fullmatch(raw) or not -(2**63) <= int(raw) <= _INT64_MAX:
        raise ApiError(400, f"invalid {name} {raw!r}: want a base-10 integer")
    return int(raw)


def _json_body(handler: BaseHandler, decoder: json.JSONDecoder | None = None) -> Any:
    try:
        text = handler.request.body.decode("utf-8", "replace")
        return decoder.decode(text) if decoder else gojson.loads(text)
    except ValueError as err:
        raise ApiError(400, f"request body is not valid JSON: {err}") from err


def _float64(value: Any) -> Any:
    """A decoded JSON value as Go holds it in an ``interface{}``: every number a float64."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # beyond float64: Go fails the whole listing; show the number
            return value
    if isinstance(value, dict):
        return {k: _float64(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_float64(v) for v in value]
    return value


class _Listed(Protocol):
    job: Job


L = TypeVar("L", bound=_Listed)


def _as_go_reads(item: L) -> L:
    """A listed ScheduledJob/RetryJob/DeadJob/HistoryJob as the fork's client returns it to
    workwebui: args re-read as float64 (``2**53 + 1`` shows as ``9007199254740992``, as Go's), and
    the fields Go's Job has no place for left out."""
    listed = copy.copy(item)
    listed.job = dataclasses.replace(item.job, args=_float64(item.job.args), extra={})
    return listed


def _ignore_failures(fn: Any, default: Any) -> Any:
    """The dashboard shows 0 for a sub-query that fails, as Go's does; but Redis down is a 503."""
    try:
        return fn()
    except RedisUnavailableError:
        raise
    except WorkCompatError:
        return default


class HealthcheckHandler(BaseHandler):
    """``GET /healthcheck``: ``OK`` when Redis answers (Flower's probe route); 503 JSON otherwise.
    Open to anyone, so the 503 does not say where Redis is: the log does."""

    requires_auth = False
    probe = True

    async def get(self) -> None:
        try:
            await self.run_blocking(self.client.ping)
        except ApiError as err:
            logger.warning("healthcheck: %s", loggable(err.message))
            raise ApiError(err.status_code, "redis unavailable") from err
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("OK")


class DashboardHandler(BaseHandler):
    """``GET /api/dashboard``: counts of queues, sets, history, workers and schedules."""

    async def get(self) -> None:
        self.write_go_json(await self.run_blocking(self._counts))

    def _counts(self) -> str:
        c = self.client
        queues = _ignore_failures(c.queues, [])
        pools = _ignore_failures(c.worker_pool_heartbeats, [])
        busy = _ignore_failures(lambda: [o for o in c.worker_observations() if o.is_busy], [])

        def count(pairs: list[tuple[str, int]]) -> str:
            return obj((k, str(v)) for k, v in pairs)

        def total(count_fn: Any) -> int:
            return int(_ignore_failures(count_fn, 0))

        # Not in Go's dashboard, and only when there is one: keys of the wrong type these reads
        # skipped, one sentence each (work_compat.badkeys); otherwise the payload is Go's.
        warnings = c.warnings()
        extra = [("warnings", array(gojson.encode_string(w) for w in warnings))] if warnings else []
        return obj(
            [
                ("queues", count([("total", len(queues)), ("jobs", sum(q.count for q in queues))])),
                ("retry", count([("count", total(c.retry_count))])),
                ("scheduled", count([("count", total(c.scheduled_count))])),
                ("dead", count([("count", total(c.dead_count))])),
                ("history", count([("count", _ignore_failures(c.history_count, 0))])),
                (
                    "workers",
                    count(
                        [
                            ("active", len(busy)),
                            ("total", sum(len(p.worker_ids or []) for p in pools)),
                            ("pools", len(pools)),
                        ]
                    ),
                ),
                ("schedules", count([("count", len(_ignore_failures(c.periodic_schedules, [])))])),
                *extra,
            ]
        )

    head = get  # Go's GET patterns answer HEAD: the same status and headers, no body


class QueuesHandler(BaseHandler):
    """``GET /api/queues``: every known job name's queue (``[]`` when none)."""

    async def get(self) -> None:
        queues = await self.run_blocking(self.client.queues)
        self.write_go_json(array(q.to_json() for q in queues))

    head = get  # Go's GET patterns answer HEAD: the same status and headers, no body


class WorkerPoolsHandler(BaseHandler):
    """``GET /api/worker_pools``: every pool's heartbeat, by pool id."""

    async def get(self) -> None:
        pools = await self.run_blocking(self.client.worker_pool_heartbeats)
        self.write_go_json(array(p.to_json() for p in pools))

    head = get  # Go's GET patterns answer HEAD: the same status and headers, no body


class BusyWorkersHandler(BaseHandler):
    """``GET /api/busy_workers``: observations of busy workers; ``null`` when none is, as Go."""

    async def get(self) -> None:
        observations = await self.run_blocking(self.client.worker_observations)
        busy = [o for o in observations if o.is_busy]
        self.write_go_json(array(o.to_json() for o in busy) if busy else "null")

    head = get  # Go's GET patterns answer HEAD: the same status and headers, no body


class ZsetPageHandler(BaseHandler):
    """``GET /api/{retry,scheduled,dead}_jobs?page=``: ``{"count":total,"jobs":[...]}``, 20 a page."""

    def initialize(self, which: str) -> None:
        self.which = which

    async def get(self) -> None:
        page = _page(self)
        c = self.client
        pages: dict[str, Callable[[int], tuple[Sequence[Any], int]]] = {
            "retry": c.retry_jobs,
            "scheduled": c.scheduled_jobs,
            "dead": c.dead_jobs,
        }
        items, total = await self.run_blocking(pages[self.which], page)
        self.write_go_json(obj([("count", str(total)), ("jobs", array(_as_go_reads(i).to_json() for i in items))]))

    head = get  # Go's GET patterns answer HEAD: the same status and headers, no body


class ZsetDeleteHandler(BaseHandler):
    """``POST /api/delete_{dead,retry,scheduled}_job/{score}/{job_id}``; 409 when it is gone."""

    def initialize(self, which: str) -> None:
        self.which = which

    async def post(self, score: str, job_id: str) -> None:
        at = _int64({"dead": "died_at", "retry": "retry_at", "scheduled": "run_at"}[self.which], score)
        fn = {
            "dead": self.client.delete_dead_job,
            "retry": self.client.delete_retry_job,
            "scheduled": self.client.delete_scheduled_job,
        }[self.which]
        await self.run_blocking(fn, at, job_id)
        self.write_ok()


class DeadJobActionHandler(BaseHandler):
    """``POST /api/retry_dead_job/{died_at}/{job_id}``: back to its queue; 409 when not retried."""

    async def post(self, died_at: str, job_id: str) -> None:
        await self.run_blocking(self.client.retry_dead_job, _int64("died_at", died_at), job_id)
        self.write_ok()


class DeadJobsBulkHandler(BaseHandler):
    """``POST /api/delete_all_dead_jobs`` and ``/api/retry_all_dead_jobs``."""

    def initialize(self, action: str) -> None:
        self.action = action

    async def post(self) -> None:
        fn = self.client.delete_all_dead_jobs if self.action == "delete" else self.client.retry_all_dead_jobs
        await self.run_blocking(fn)
        self.write_ok()


class PeriodicSchedulesHandler(BaseHandler):
    """``GET /api/periodic_schedules`` (``[]`` when none) and ``POST`` to add or replace one.

    Unlike the fork, a schedule no pool could run (bad spec, bad job name, no name) is a 400.
    """

    async def get(self) -> None:
        schedules = await self.run_blocking(self.client.periodic_schedules)
        # Go re-reads the args as float64, as for jobs
        self.write_go_json(array(dataclasses.replace(s, args=_float64(s.args)).to_json() for s in schedules))

    head = get  # Go's GET patterns answer HEAD: the same status and headers, no body

    async def post(self) -> None:
        try:
            schedule = PeriodicSchedule.from_json(self.request.body)
        except ValueError as err:
            raise ApiError(400, f"request body is not a periodic schedule: {err}") from err
        schedule.args = _float64(schedule.args)  # Go decodes the body's args as float64, as /api/enqueue's
        await self.run_blocking(self.client.add_periodic_schedule, schedule, bad_input=(ValueError,))
        self.write_ok()


class PeriodicScheduleHandler(BaseHandler):
    """``DELETE /api/periodic_schedules/{name}``: ok even when there was none (as Go)."""

    async def delete(self, name: str) -> None:
        await self.run_blocking(self.client.delete_periodic_schedule, name)
        self.write_ok()


class PeriodicScheduleToggleHandler(BaseHandler):
    """``POST /api/periodic_schedules/{name}/enable|disable``; 404 when there is none of that name."""

    async def post(self, name: str, action: str) -> None:
        fn = self.client.enable_periodic_schedule if action == "enable" else self.client.disable_periodic_schedule
        await self.run_blocking(fn, name)
        self.write_ok()


class HistoryJobsHandler(BaseHandler):
    """``GET /api/history_jobs?page=&job_name=``: completed attempts, newest first."""

    async def get(self) -> None:
        page = _page(self)
        job_name = _query(self, "job_name")
        items, total = await self.run_blocking(self.client.history_jobs, page, job_name)
        self.write_go_json(obj([("count", str(total)), ("jobs", array(_as_go_reads(i).to_json() for i in items))]))

    head = get  # Go's GET patterns answer HEAD: the same status and headers, no body


class HistoryJobHandler(BaseHandler):
    """``GET /api/history_jobs/{job_id}``: the latest attempt; 404 ``job not found``."""

    async def get(self, job_id: str) -> None:
        item = await self.run_blocking(self.client.history_job_by_id, job_id)
        if item is None:
            raise ApiError(404, "job not found")
        self.write_go_json(_as_go_reads(item).to_json())

    head = get  # Go's GET patterns answer HEAD: the same status and headers, no body


class RedisInfoHandler(BaseHandler):
    """``GET /api/redis_info``: the fork's summary of INFO."""

    async def get(self) -> None:
        stats = await self.run_blocking(self.client.redis_info)
        self.write_go_json(stats.to_json())

    head = get  # Go's GET patterns answer HEAD: the same status and headers, no body


def _int_member(body: dict[str, Any], name: str, where: str) -> int:
    """An integer member Go would decode into an int64 field (0 when absent or null)."""
    v = body.get(name)
    if v is None:
        return 0
    if type(v) is not _IntLiteral or not -(2**63) <= v.exact <= _INT64_MAX:
        raise ApiError(400, f"{where}{name} must be an integer")
    return v.exact


def _go_members(obj: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The members Go's decoder gives to these fields: a key matches a field exactly or without
    regard to case (``Job_Name``), the last such key wins, and other keys are ignored."""
    folded = {n.casefold(): n for n in names}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = key if key in names else folded.get(key.casefold())
        if name is not None:
            out[name] = value
    return out


def enqueue_request(body: Any) -> tuple[str, dict[str, Any] | None, EnqueueOptions]:
    """Read the fork's enqueue body: job_name, args, delay (s), retry{max_retries, strategy, base_delay}."""
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    body = _go_members(body, ("job_name", "args", "delay", "retry"))
    job_name = body.get("job_name")
    if job_name is not None and not isinstance(job_name, str):
        raise ApiError(400, "job_name must be a string")
    if not job_name:
        raise ApiError(400, "job_name is required")
    args = body.get("args")
    if args is not None and not isinstance(args, dict):
        raise ApiError(400, "args must be a JSON object")
    delay = _int_member(body, "delay", "")
    retry = body.get("retry")
    options: RetryOptions | None = None
    if retry is not None:
        if not isinstance(retry, dict):
            raise ApiError(400, "retry must be a JSON object")
        retry = _go_members(retry, ("max_retries", "strategy", "base_delay"))
        strategy = retry.get("strategy")
        if strategy is not None and not isinstance(strategy, str):
            raise ApiError(400, "retry.strategy must be a string: exponential, linear or fixed")
        options = RetryOptions(
            max_retries=_int_member(retry, "max_retries", "retry."),
            # Go: "linear" -> 1, "fixed" -> 2, anything else (missing included) -> 0
            strategy=_STRATEGIES.get(strategy, BackoffStrategy.EXPONENTIAL)
            if isinstance(strategy, str)
            else BackoffStrategy.EXPONENTIAL,
            base_delay=_int_member(retry, "base_delay", "retry."),
        )
    return job_name, args, EnqueueOptions(delay=max(delay, 0), retry=options)


class EnqueueHandler(BaseHandler):
    """``POST /api/enqueue``: ``EnqueueWithOptions`` (never unique); answers with the Job."""

    async def post(self) -> None:
        job_name, args, options = enqueue_request(_json_body(self, _GO_NUMBERS))
        job: Job | None = await self.run_blocking(self.enqueuer.enqueue_with_options, job_name, args, options)
        assert job is not None  # only a unique enqueue returns None
        self.write_go_json(job.to_json())
