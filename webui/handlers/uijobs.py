"""The pages' routes for single jobs and whole queues, under ``/api/ui/`` (webui.jobops): the sets
newest or oldest first, "run now", a queue's jobs, a queue purge, and the progress of a long action.

The sets' pages keep the fork's item layout (``{"count", "jobs"}`` in Go's bytes), so the pages
read them as they read ``/api/dead_jobs``; the rest is plain JSON.
"""

from __future__ import annotations

import json

from work_compat import InvalidJobNameError, validate_job_name

from ..jobops import purge_queue, queue_page, run_now, zset_page
from ..jsonfmt import array, obj
from ..progress import ProgressBoard
from .api import _int64, _page
from .base import ApiError
from .uiapi import UiHandler, _body, _progress_id

__all__ = ["ProgressHandler", "QueueJobsHandler", "QueuePurgeHandler", "RunNowHandler", "SetPageHandler"]

_ORDERS = {"newest": True, "oldest": False}


class SetPageHandler(UiHandler):
    """``GET /api/ui/{dead,retry,scheduled}_jobs?page=&order=newest|oldest``: a page of the set in
    the fork's layout; dead jobs newest first unless asked, the others soonest first."""

    async def get(self, which: str) -> None:
        page = _page(self)
        order = self.get_query_argument("order", "") or ("newest" if which == "dead" else "oldest")
        if order not in _ORDERS:
            raise ApiError(400, f"invalid order {order!r}: want newest or oldest")
        items, total = await self.run_blocking(zset_page, self.client, which, page, _ORDERS[order])
        self.write_go_json(obj([("count", str(total)), ("jobs", array(i.to_json() for i in items))]))


class RunNowHandler(UiHandler):
    """``POST /api/ui/{scheduled,retry}_jobs/run_now/{score}/{job_id}``: due now, so the next
    requeuer pass of any pool queues it; 409 when it moved meanwhile."""

    async def post(self, which: str, score: str, job_id: str) -> None:
        at = _int64("run_at" if which == "scheduled" else "retry_at", score)
        await self.run_blocking(run_now, self.client, which, at, job_id)
        self.write_json({"status": "ok"})


def _queue_name(name: str) -> str:
    try:
        validate_job_name(name)
    except InvalidJobNameError as err:
        raise ApiError(400, str(err)) from err
    return name


class QueueJobsHandler(UiHandler):
    """``GET /api/ui/queues/{name}/jobs?page=``: 20 of the queue's jobs, next to run first."""

    async def get(self, name: str) -> None:
        page = _page(self)
        rows, total = await self.run_blocking(queue_page, self.client, _queue_name(name), page)
        jobs = [
            {"position": pos, "job": json.loads(job.to_json()) if job is not None else None}
            | ({} if job is not None else {"raw": raw.decode("utf-8", "replace")})
            for pos, job, raw in rows
        ]
        self.write_json({"count": total, "jobs": jobs})


class QueuePurgeHandler(UiHandler):
    """``POST /api/ui/queues/{name}/purge`` (body ``{"progress_id"}`` optional): every job waiting
    in the queue is deleted (their unique locks released); answers ``{"status", "purged"}``."""

    async def post(self, name: str) -> None:
        body = _body(self)
        board: ProgressBoard = self.application.settings["work_progress"]
        report = board.reporter(_progress_id(body))
        purged = await self.run_blocking(purge_queue, self.client, _queue_name(name), report)
        self.write_json({"status": "ok", "purged": purged})


class ProgressHandler(UiHandler):
    """``GET /api/ui/progress/{id}``: ``{"done", "total"}`` of a running action; 404 when unknown."""

    async def get(self, progress: str) -> None:
        board: ProgressBoard = self.application.settings["work_progress"]
        found = board.get(progress) if ProgressBoard.valid(progress) else None
        if found is None:
            raise ApiError(404, "no action reports progress under this id")
        self.write_json({"done": found[0], "total": found[1]})
