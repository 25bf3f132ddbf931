"""JSON routes the pages need beyond the fork's API, under ``/api/ui/``.

The fork's workwebui has no pause, no max-concurrency setting, no bulk action by job name, no
per-minute activity and no next run times; these routes add them on top of the same Client. Their
bodies are plain JSON (not Go's indented bytes: no Go tool reads them). Errors, auth and
read-only refusals are BaseHandler's, as for every other route.
"""

from __future__ import annotations

import json
import time
from typing import Any

from work_compat import Client, PeriodicSchedule
from work_compat.cron import ConstantDelaySchedule, CronSpecError, Schedule, local_zone
from work_compat.periodic import parse_spec, schedule_job

from ..activity import history_activity
from ..bulk import SETS, bulk_apply
from ..progress import ProgressBoard
from .base import JSON_TYPE, ApiError, BaseHandler

__all__ = [
    "ActivityHandler",
    "BulkHandler",
    "CronPreviewHandler",
    "MaxConcurrencyHandler",
    "PauseHandler",
    "QueueStatesHandler",
    "SchedulesWithRunsHandler",
    "next_runs",
]

NEXT_RUNS = 3
PREVIEW_RUNS = 5
MAX_MINUTES = 24 * 60
MAX_SPEC = 500


def next_runs(schedule: Schedule, now: int, count: int) -> list[int]:
    """The next ``count`` instants after ``now`` (fewer when the schedule ends)."""
    out: list[int] = []
    t = now
    while len(out) < count:
        n = schedule.next(t)
        if n is None:
            break
        out.append(n)
        t = n
    return out


def _progress_id(body: dict[str, Any]) -> str | None:
    """The optional ``progress_id`` of an action's body; 400 when it is not a short token."""
    value = body.get("progress_id")
    if value is None:
        return None
    if not isinstance(value, str) or not ProgressBoard.valid(value):
        raise ApiError(400, "progress_id must be 8 to 64 letters, digits, '-' or '_'")
    return value


def _body(handler: BaseHandler) -> dict[str, Any]:
    try:
        body = json.loads(handler.request.body or b"{}")
    except ValueError as err:
        raise ApiError(400, f"request body is not valid JSON: {err}") from err
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


class UiHandler(BaseHandler):
    """Writes plain compact JSON."""

    def write_json(self, value: Any) -> None:
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


class QueueStatesHandler(UiHandler):
    """``GET /api/ui/queues``: every queue with its pause flag and max concurrency."""

    async def get(self) -> None:
        self.write_json(await self.run_blocking(self._states, self.client))

    @staticmethod
    def _states(client: Client) -> list[dict[str, Any]]:
        out = []
        for q in client.queues():
            out.append(
                {
                    "job_name": q.job_name,
                    "count": q.count,
                    "latency": q.latency,
                    "paused": client.is_paused(q.job_name),
                    "max_concurrency": client.max_concurrency(q.job_name),
                }
            )
        return out


class PauseHandler(UiHandler):
    """``POST /api/ui/queues/{name}/pause|unpause``: every pool, Go's or ours, stops or resumes."""

    async def post(self, job_name: str, action: str) -> None:
        fn = self.client.pause if action == "pause" else self.client.unpause
        await self.run_blocking(fn, job_name)
        self.write_json({"status": "ok", "paused": action == "pause"})


class MaxConcurrencyHandler(UiHandler):
    """``POST /api/ui/queues/{name}/max_concurrency`` with ``{"max_concurrency": n}`` (0: no cap)."""

    async def post(self, job_name: str) -> None:
        value = _body(self).get("max_concurrency")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            raise ApiError(400, "max_concurrency must be a whole number from 0 (no cap)")
        await self.run_blocking(self.client.set_max_concurrency, job_name, value)
        self.write_json({"status": "ok", "max_concurrency": value})


class BulkHandler(UiHandler):
    """``POST /api/ui/{dead,retry,scheduled}_jobs/bulk`` with ``{"action", "job_name"}`` or ``{"action", "all": true}``,
    and optionally ``"progress_id"`` (webui.progress).

    Answers ``{"status": "ok", "matched": n, "changed": n, "skipped": n}``; ``changed`` is 0 when
    every match moved before it could be acted on.
    """

    async def post(self, which: str) -> None:
        if which not in SETS:
            raise ApiError(404, "not found")
        body = _body(self)
        action = body.get("action")
        job_name = body.get("job_name")
        if body.get("all") is True:
            job_name = None
        elif not isinstance(job_name, str) or not job_name:
            raise ApiError(400, 'job_name is required (or "all": true)')
        if not isinstance(action, str):
            raise ApiError(400, "action must be retry or delete")
        board: ProgressBoard = self.application.settings["work_progress"]
        report = board.reporter(_progress_id(body))
        result = await self.run_blocking(
            bulk_apply, self.client, which, action, job_name, report, bad_input=(ValueError,)
        )
        self.write_json({"status": "ok", **result.to_dict()})


class ActivityHandler(UiHandler):
    """``GET /api/ui/activity?minutes=60``: attempts per minute by status, from the history."""

    async def get(self) -> None:
        raw = self.get_query_argument("minutes", "60")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_MINUTES:
            raise ApiError(400, f"invalid minutes {raw!r}: want 1 to {MAX_MINUTES}")
        now = int(time.time())
        activity = await self.run_blocking(history_activity, self.client, now, int(raw))
        self.write_json({"now": now, **activity.to_dict()})


class SchedulesWithRunsHandler(UiHandler):
    """``GET /api/ui/periodic_schedules``: the runtime schedules with their next run times.

    Times are computed in this server's zone unless the spec names one (``CRON_TZ=``), as the
    pools compute them in theirs; ``@every`` counts from each enqueue run, so its times are
    marked approximate.
    """

    async def get(self) -> None:
        schedules = await self.run_blocking(self.client.periodic_schedules)
        now = int(time.time())
        zone = local_zone()
        out = []
        for s in schedules:
            entry: dict[str, Any] = json.loads(s.to_json())
            entry.update(self._runs(s, now, zone))
            out.append(entry)
        self.write_json({"now": now, "schedules": out})

    @staticmethod
    def _runs(schedule: PeriodicSchedule, now: int, zone: Any) -> dict[str, Any]:
        try:
            job = schedule_job(schedule, zone=zone)
        except (CronSpecError, ValueError) as err:
            return {"next_runs": [], "approximate": False, "problem": str(err)}
        return {
            "next_runs": next_runs(job.schedule, now, NEXT_RUNS) if schedule.enabled else [],
            "approximate": isinstance(job.schedule, ConstantDelaySchedule),
            "problem": "",
        }


class CronPreviewHandler(UiHandler):
    """``GET /api/ui/cron_preview?spec=``: the next run times of a spec, or 400 naming the fault."""

    async def get(self) -> None:
        spec = self.get_query_argument("spec", "")
        if not spec.strip():
            raise ApiError(400, "a spec is required, for example 0 */15 * * * * or @every 1m")
        if len(spec) > MAX_SPEC:
            raise ApiError(400, f"the spec is longer than {MAX_SPEC} characters")
        now = int(time.time())
        try:
            schedule = parse_spec(spec, zone=local_zone(), warn=False)
        except CronSpecError as err:
            raise ApiError(400, str(err)) from err
        self.write_json(
            {
                "spec": spec,
                "now": now,
                "next_runs": next_runs(schedule, now, PREVIEW_RUNS),
                "approximate": isinstance(schedule, ConstantDelaySchedule),
            }
        )
