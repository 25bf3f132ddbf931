"""Flower's JSON API (``/api/workers``, ``/api/tasks``, ``/api/task/...``, ``/api/queues/length``)
with Flower's paths, parameters and response shapes, read from Redis (spec §2).

Where Flower answers 500 (a bad number, an unknown sort key) these answer 400; unknown tasks and
workers are 404, as in Flower; errors are ``{"error": message}`` like the rest of the API.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from celery_shim import states
from work_compat import InvalidJobNameError, validate_job_name

from ..results import Results
from ..shared import SharedCalls
from ..taskcalls import CallError, task_call
from ..taskquery import TaskQuery
from ..taskstore import Snapshot, TaskStore
from ..taskview import exception_text, flower_task, task_state
from ..workerview import flower_workers
from .base import JSON_TYPE, ApiError, BaseHandler

__all__ = [
    "QueueLengthsHandler",
    "TaskApplyHandler",
    "TaskInfoHandler",
    "TaskResultHandler",
    "TaskRevokeHandler",
    "TaskTypesHandler",
    "TasksHandler",
    "WorkersHandler",
]

TASKS_WINDOW = 1000  # entries /api/tasks reads from each place (queues, sets, history, ...)
RESULT_WAIT_MAX = 30.0  # seconds /api/task/result?timeout= may wait
_POLL = 0.2
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")


class FlowerHandler(BaseHandler):
    """Shared by the Flower routes: the task store, results, JSON output, Flower's flags."""

    @property
    def store(self) -> TaskStore:
        s: TaskStore = self.application.settings["work_store"]
        return s

    @property
    def results(self) -> Results | None:
        r: Results | None = self.application.settings["work_results"]
        return r

    def write_json(self, value: Any) -> None:
        self.write_json_bytes(_json_bytes(value))

    def write_json_bytes(self, body: bytes) -> None:
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(body)

    def flag(self, name: str) -> bool:
        raw = (self.get_argument(name, "") or "").strip().lower()  # query string or form body, as Flower reads
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise ApiError(400, f"{name} must be true or false, got {raw!r}")

    def query_arg(self, name: str) -> str | None:
        return self.get_argument(name, None)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")


def _answer(query: TaskQuery, tasks: list[dict[str, Any]]) -> bytes:
    """The ``/api/tasks`` body: the query's page of the shared listing, as JSON bytes."""
    return _json_bytes({t["uuid"]: t for t in query.apply(tasks)})


class WorkersHandler(FlowerHandler):
    """``GET /api/workers?workername=&status=&refresh=``: pools by name (``refresh`` changes nothing:
    heartbeats are always current)."""

    async def get(self) -> None:
        self.flag("refresh")
        status = self.flag("status")
        name = self.query_arg("workername") or None
        pools, running, now = await self.run_blocking(self._read)
        workers = flower_workers(pools, running, now)
        if name is not None:
            if name not in workers:
                raise ApiError(404, f"Unknown worker '{name}'")
            workers = {name: workers[name]}
        if status:
            self.write_json({n: w["online"] for n, w in workers.items()})
            return
        self.write_json(workers)

    def _read(self) -> tuple[Any, Any, int]:
        pools = self.store.client.worker_pool_heartbeats()
        return pools, self.store.running(pools), self.store.now()


class TasksHandler(FlowerHandler):
    """``GET /api/tasks``: ``{uuid: task}`` from the newest entries of every place (bounded). The
    work is shared: clients asking for the same name within a second get one listing, and those
    asking the same query one answer."""

    async def get(self) -> None:
        try:
            query = TaskQuery.parse(self.query_arg)
        except ValueError as err:
            raise ApiError(400, str(err)) from err
        shared: SharedCalls[Any] = self.application.settings["work_shared_tasks"]
        # one answer per query string a second, built from one listing per job name a second:
        # filtering, sorting and encoding thousands of tasks is work too, done once, off the loop
        body = await shared.get(("answer", self.request.query), lambda: self._answer(query, shared))
        self.write_json_bytes(body)

    async def _answer(self, query: TaskQuery, shared: SharedCalls[Any]) -> bytes:
        name = query.taskname or ""
        tasks = await shared.get(("listing", name), lambda: self.run_blocking(self._tasks, name))
        return await self.run_blocking(_answer, query, tasks)

    def _tasks(self, name: str) -> list[dict[str, Any]]:
        snap = self.store.recent(TASKS_WINDOW, job_name=name)
        ids = snap.ids()
        metas = self.results.metas(ids) if self.results is not None else {}
        return [flower_task(i, snap, metas.get(i)) for i in ids]


class TaskInfoHandler(FlowerHandler):
    """``GET /api/task/info/<id>``: one task wherever it is; 404 when no place knows the id, saying
    how far the search went when it stopped at its bound."""

    async def get(self, task_id: str) -> None:
        task, snap = await self.run_blocking(self._info, task_id)
        if task is None:
            note = snap.search_note()
            raise ApiError(404, f"Unknown task '{task_id}'" + (f": {note}" if note else ""))
        self.write_json(task)

    def _info(self, task_id: str) -> tuple[dict[str, Any] | None, Snapshot]:
        snap = self.store.lookup(task_id)
        meta = self.results.meta(task_id) if self.results is not None else None
        known = any(s.job.id == task_id for s in snap.sightings) or snap.history or snap.revoked
        if not known and meta is None:
            return None, snap
        return flower_task(task_id, snap, meta), snap


class TaskTypesHandler(FlowerHandler):
    """``GET /api/task/types``: every job name known to the namespace or registered by a pool."""

    async def get(self) -> None:
        self.write_json({"task-types": await self.run_blocking(self.store.task_types)})


class QueueLengthsHandler(FlowerHandler):
    """``GET /api/queues/length``: each job name's queue (a gocraft queue is one list per name)."""

    async def get(self) -> None:
        queues = await self.run_blocking(self.store.client.queues)
        self.write_json({"active_queues": [{"name": q.job_name, "messages": q.count} for q in queues]})


class TaskApplyHandler(FlowerHandler):
    """``POST /api/task/async-apply/<name>`` (the name must be known: 404 otherwise, as Flower) and
    ``POST /api/task/send-task/<name>`` (any valid name): enqueue one job, answer its id."""

    def initialize(self, known_only: bool) -> None:
        self.known_only = known_only

    async def post(self, name: str) -> None:
        try:
            validate_job_name(name)
        except InvalidJobNameError as err:
            raise ApiError(400, str(err)) from err
        body = self._body()
        if self.known_only and name not in await self.run_blocking(self.store.task_types):
            raise ApiError(404, f"Unknown task '{name}'")
        try:
            call = task_call(name, body, float(self.store.now()))
        except CallError as err:
            raise ApiError(400, str(err)) from err
        await self.run_blocking(self.enqueuer.enqueue_job, call.job, run_at=call.run_at)
        response: dict[str, Any] = {"task-id": call.job.id}
        if self.results is not None:
            response["state"] = states.PENDING
        self.write_json(response)

    def _body(self) -> Any:
        if not self.request.body.strip():
            return {}
        try:
            return json.loads(self.request.body)
        except ValueError as err:
            raise ApiError(400, f"request body is not valid JSON: {err}") from err


class TaskResultHandler(FlowerHandler):
    """``GET /api/task/result/<id>?timeout=``: the stored state and, once ready, the result; 503
    without a result backend (Flower's answer). ``timeout`` waits up to that many seconds (at most
    RESULT_WAIT_MAX) for a ready state; after it the answer is the state reached, without a result."""

    async def get(self, task_id: str) -> None:
        results = self.results
        if results is None:
            raise ApiError(503, "no result backend is configured (start the dashboard with --result-backend)")
        timeout = self._timeout()
        deadline = time.monotonic() + timeout
        meta = await self.run_blocking(results.meta, task_id)
        while timeout and not _ready(meta) and time.monotonic() < deadline:
            await asyncio.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))
            meta = await self.run_blocking(results.meta, task_id)
        if meta is None:
            snap = await self.run_blocking(self.store.lookup, task_id)
            sightings = [s for s in snap.sightings if s.job.id == task_id]
            state = task_state(None, sightings, snap.history.get(task_id), snap.revoked.get(task_id))
        else:
            state = str(meta["status"])
        response: dict[str, Any] = {"task-id": task_id, "state": state}
        if meta is not None and _ready(meta):
            stored = meta.get("result")
            if state in states.EXCEPTION_STATES:
                response["result"] = exception_text(stored)
                response["traceback"] = meta.get("traceback")
            else:
                response["result"] = stored
        self.write_json(response)

    def _timeout(self) -> float:
        raw = self.query_arg("timeout")
        if raw is None or raw == "":
            return 0.0
        try:
            value = float(raw)
        except ValueError:
            raise ApiError(400, f"timeout must be a number of seconds, got {raw!r}") from None
        if not 0 <= value <= RESULT_WAIT_MAX:
            raise ApiError(400, f"timeout must be from 0 to {RESULT_WAIT_MAX:g} seconds")
        return value


def _ready(meta: dict[str, Any] | None) -> bool:
    return meta is not None and meta.get("status") in states.READY_STATES


class TaskRevokeHandler(FlowerHandler):
    """``POST /api/task/revoke/<id>`` with ``terminate``/``signal`` in the query or the form body (Flower's
    documented curl): spec D17, as celery_shim's
    ``app.control.revoke``. The job leaves ``scheduled``, ``retry`` and its queue (so no pool runs
    it) and its id joins the revoked set Python workers check; a job removed gets a REVOKED result
    when results are kept. ``terminate`` reaches a Python worker running it; Go workers finish."""

    async def post(self, task_id: str) -> None:
        terminate = self.flag("terminate")
        signal = self.query_arg("signal") or "SIGTERM"
        backend = self.results.backend if self.results is not None else None
        removed, complete = await self.run_blocking(
            self.store.revoke, task_id, terminate=terminate, signal=signal, backend=backend
        )
        answer: dict[str, Any] = {"message": f"Revoked '{task_id}'", "removed_from": removed}
        if not removed and not complete:
            answer["message"] += (
                f": not found within the first {self.store.lookup_budget:,} entries of the sets and queues, so it may "
                "still be queued; Python workers will drop it, Go workers would run it"
            )
            answer["searched_everything"] = False
        self.write_json(answer)
