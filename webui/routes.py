"""The one URL table: the JSON API on the fork's paths, then the probe route [flower urls.py].

Path parameters are single segments, matched on the raw (still percent-encoded) path and decoded by
Tornado, so a periodic job id such as ``periodic:n:*/5 * * * * *:1795821860`` travels as
``periodic:n:*%2F5%20*%20*%20*%20*%20*:1795821860`` and arrives intact. The pages' own JSON
routes (pause, bulk actions, activity, next run times) live under ``/api/ui/``.
"""

from __future__ import annotations

from typing import Any

from tornado.routing import Rule
from tornado.web import url

from .handlers import api, detailpages, docs, flower, metrics, pages, uiapi, uijobs
from .handlers.base import RedirectHandler

__all__ = ["routes"]

_SEG = r"([^/]+)"


def routes(prefix: str = "") -> list[Rule]:
    """Every route, under ``prefix`` (``""`` or ``"/something"``)."""
    table: list[tuple[str, type[Any], dict[str, Any]]] = [
        *((page.path, pages.PageHandler, {"page": page.name}) for page in pages.PAGES),
        (f"/task/{_SEG}", detailpages.TaskPageHandler, {}),
        (f"/worker/{_SEG}", detailpages.WorkerPageHandler, {}),
        (f"/queue/{_SEG}", detailpages.QueuePageHandler, {}),
        ("/workers", RedirectHandler, {"url": prefix + "/pools", "permanent": False}),  # Flower's names
        ("/broker", RedirectHandler, {"url": prefix + "/queues", "permanent": False}),
        ("/api/ui/queues", uiapi.QueueStatesHandler, {}),
        (f"/api/ui/queues/{_SEG}/(pause|unpause)", uiapi.PauseHandler, {}),
        (f"/api/ui/queues/{_SEG}/max_concurrency", uiapi.MaxConcurrencyHandler, {}),
        ("/api/ui/(dead|retry|scheduled)_jobs/bulk", uiapi.BulkHandler, {}),
        ("/api/ui/(dead|retry|scheduled)_jobs", uijobs.SetPageHandler, {}),
        (f"/api/ui/(scheduled|retry)_jobs/run_now/{_SEG}/{_SEG}", uijobs.RunNowHandler, {}),
        (f"/api/ui/queues/{_SEG}/jobs", uijobs.QueueJobsHandler, {}),
        (f"/api/ui/queues/{_SEG}/purge", uijobs.QueuePurgeHandler, {}),
        (f"/api/ui/progress/{_SEG}", uijobs.ProgressHandler, {}),
        ("/api/ui/activity", uiapi.ActivityHandler, {}),
        ("/api/ui/periodic_schedules", uiapi.SchedulesWithRunsHandler, {}),
        ("/api/ui/cron_preview", uiapi.CronPreviewHandler, {}),
        ("/api/dashboard", api.DashboardHandler, {}),
        ("/api/queues", api.QueuesHandler, {}),
        ("/api/worker_pools", api.WorkerPoolsHandler, {}),
        ("/api/busy_workers", api.BusyWorkersHandler, {}),
        ("/api/retry_jobs", api.ZsetPageHandler, {"which": "retry"}),
        ("/api/scheduled_jobs", api.ZsetPageHandler, {"which": "scheduled"}),
        ("/api/dead_jobs", api.ZsetPageHandler, {"which": "dead"}),
        (f"/api/delete_dead_job/{_SEG}/{_SEG}", api.ZsetDeleteHandler, {"which": "dead"}),
        (f"/api/retry_dead_job/{_SEG}/{_SEG}", api.DeadJobActionHandler, {}),
        ("/api/delete_all_dead_jobs", api.DeadJobsBulkHandler, {"action": "delete"}),
        ("/api/retry_all_dead_jobs", api.DeadJobsBulkHandler, {"action": "retry"}),
        (f"/api/delete_scheduled_job/{_SEG}/{_SEG}", api.ZsetDeleteHandler, {"which": "scheduled"}),
        (f"/api/delete_retry_job/{_SEG}/{_SEG}", api.ZsetDeleteHandler, {"which": "retry"}),
        ("/api/periodic_schedules", api.PeriodicSchedulesHandler, {}),
        (f"/api/periodic_schedules/{_SEG}/(enable|disable)", api.PeriodicScheduleToggleHandler, {}),
        (f"/api/periodic_schedules/{_SEG}", api.PeriodicScheduleHandler, {}),
        ("/api/history_jobs", api.HistoryJobsHandler, {}),
        (f"/api/history_jobs/{_SEG}", api.HistoryJobHandler, {}),
        ("/api/redis_info", api.RedisInfoHandler, {}),
        ("/api/enqueue", api.EnqueueHandler, {}),
        # Flower's API (spec §2), its metrics, and the OpenAPI description of all of it
        ("/api/workers", flower.WorkersHandler, {}),
        ("/api/tasks", flower.TasksHandler, {}),
        ("/api/task/types", flower.TaskTypesHandler, {}),
        (f"/api/task/info/{_SEG}", flower.TaskInfoHandler, {}),
        (f"/api/task/result/{_SEG}", flower.TaskResultHandler, {}),
        (f"/api/task/async-apply/{_SEG}", flower.TaskApplyHandler, {"known_only": True}),
        (f"/api/task/send-task/{_SEG}", flower.TaskApplyHandler, {"known_only": False}),
        (f"/api/task/revoke/{_SEG}", flower.TaskRevokeHandler, {}),
        ("/api/queues/length", flower.QueueLengthsHandler, {}),
        ("/api/openapi.json", docs.OpenApiHandler, {}),
        ("/metrics", metrics.MetricsHandler, {}),
        ("/healthcheck", api.HealthcheckHandler, {}),
    ]
    rules: list[Rule] = [url(prefix + path + "$", handler, kwargs or None) for path, handler, kwargs in table]
    if prefix:  # "/ui" -> "/ui/", where the overview is
        rules.append(url(prefix + "$", RedirectHandler, {"url": prefix + "/", "permanent": True}))
    return rules
