"""The pages for one thing, addressed by its id in the path: a task (``/task/<id>``) and a worker
pool (``/worker/<name>``), as Flower's task and worker pages.

The shell is rendered as the list pages' are and filled in by its script from Flower's JSON API.
Before rendering, the handler asks Redis whether the id is known, so an unknown id is an HTML 404
that says so rather than an empty page; if Redis cannot answer, the shell is served anyway and the
script reports the outage, as on every other page. The id reaches the page only as an escaped
attribute value, and the script sends it back percent-encoded.
"""

from __future__ import annotations

from typing import Any

from ..taskstore import TaskStore
from .base import ApiError
from .pages import Page, PageHandler

__all__ = ["QUEUE_PAGE", "TASK_PAGE", "WORKER_PAGE", "QueuePageHandler", "TaskPageHandler", "WorkerPageHandler"]

TASK_PAGE = Page("task", "/task", "Task", "task.html", in_nav=False, nav="tasks")
WORKER_PAGE = Page("worker", "/worker", "Worker", "worker.html", in_nav=False, nav="pools")
QUEUE_PAGE = Page("queue", "/queue", "Queue", "queue.html", in_nav=False, nav="queues")


class _DetailPageHandler(PageHandler):
    """A page about one id: 404 page when Redis says the id is unknown, the shell otherwise."""

    detail_page: Page

    def initialize(self, page: str = "") -> None:
        self.page = self.detail_page

    async def get(self, ident: str) -> None:  # type: ignore[override]
        try:
            known = await self.run_blocking(self.exists, ident)
        except ApiError as err:
            if err.status_code != 503:
                raise
            known = True  # Redis is down: the page loads and its script says so
        if not known:
            raise ApiError(404, self.unknown(ident))
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.render(self.page.template, ident=ident, **self._context(1, ""))

    def exists(self, ident: str) -> bool:
        raise NotImplementedError

    def unknown(self, ident: str) -> str:
        raise NotImplementedError

    @property
    def store(self) -> TaskStore:
        s: TaskStore = self.application.settings["work_store"]
        return s


class TaskPageHandler(_DetailPageHandler):
    """``GET /task/<id>``: one task wherever gocraft holds it, with its actions."""

    detail_page = TASK_PAGE

    def exists(self, ident: str) -> bool:
        snap = self.store.lookup(ident)
        self.note = snap.search_note()
        if any(s.job.id == ident for s in snap.sightings) or snap.history or snap.revoked:
            return True
        results: Any = self.application.settings["work_results"]
        return results is not None and results.meta(ident) is not None

    def unknown(self, ident: str) -> str:
        if self.note:
            return f"No task with id “{ident}” was found, but {self.note}."
        return (
            f"No task with id “{ident}”: it is not queued, scheduled, running, waiting to retry or dead, "
            "and neither the history nor the results know it (it may have expired)."
        )


class WorkerPageHandler(_DetailPageHandler):
    """``GET /worker/<pool id>``: one pool's heartbeat, job names and running jobs."""

    detail_page = WORKER_PAGE

    def exists(self, ident: str) -> bool:
        return any(p.worker_pool_id == ident for p in self.client.worker_pool_heartbeats())

    def unknown(self, ident: str) -> str:
        return f"No worker pool with id “{ident}”: it is not beating in this namespace (it stopped, or was reaped)."


class QueuePageHandler(_DetailPageHandler):
    """``GET /queue/<job name>``: the jobs waiting in one queue, next to run first, and its purge."""

    detail_page = QUEUE_PAGE

    def exists(self, ident: str) -> bool:
        return ident in self.client.known_job_names()

    def unknown(self, ident: str) -> str:
        return f"No queue named “{ident}”: no job of that name was ever enqueued in this namespace."
