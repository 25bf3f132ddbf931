"""The one URL table: the JSON API on the fork's paths, then the probe route [flower urls.py].

Path parameters are single segments, matched on the raw (still percent-encoded) path and decoded by
Tornado, so a periodic job id such as ``periodic:n:*/5 * * * * *:1795821860`` travels as
``periodic:n:*%2F5%20*%20*%20*%20*%20*:1795821860`` and arrives intact. Pages come in a later slice.
"""

from __future__ import annotations

from typing import Any

from tornado.routing import Rule
from tornado.web import url

from .handlers import api

__all__ = ["routes"]

_SEG = r"([^/]+)"


def routes(prefix: str = "") -> list[Rule]:
    """Every route, under ``prefix`` (``""`` or ``"/something"``)."""
    table: list[tuple[str, type[Any], dict[str, Any]]] = [
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
        ("/healthcheck", api.HealthcheckHandler, {}),
    ]
    return [url(prefix + path + "$", handler, kwargs or None) for path, handler, kwargs in table]
