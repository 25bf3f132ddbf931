"""The per-application objects of the Flower API, the metrics and the security checks.

``make_app`` merges these into the Tornado settings, so each app (one namespace) has its own task
store, result reader, metric counters and cookie secret; none of them is module state.
"""

from __future__ import annotations

import secrets
from typing import Any

from work_compat import Client

from .hosts import HostCheck
from .metrics import HistoryMetrics
from .progress import ProgressBoard
from .results import open_results
from .security import log_request
from .settings import WebSettings
from .shared import SharedCalls
from .taskstore import TaskStore

__all__ = ["SHARED_TTL", "app_state"]

SHARED_TTL = 1.0  # seconds a task listing serves every client (the pages refresh every 3 s)


def app_state(client: Client, settings: WebSettings) -> dict[str, Any]:
    """Tornado settings for one app: XSRF checks on, the session cookie's secret, and the objects
    the Flower handlers find at ``work_store``, ``work_results`` (None without a result backend)
    and ``work_metrics``; the Host names it answers (``work_hosts``) and its access log, which
    leaves out the ``?token=`` value. Whoever stops serving closes ``work_results``."""
    store = TaskStore.beside(client)
    return {
        "xsrf_cookies": True,  # checked by BaseHandler.check_xsrf_cookie: browser sessions only
        "xsrf_cookie_kwargs": {"samesite": "Strict", "path": settings.url_prefix or "/"},
        "cookie_secret": settings.cookie_secret or secrets.token_hex(32),
        "work_store": store,
        "work_results": open_results(settings),
        "work_metrics": HistoryMetrics(start=store.now()),
        # what concurrent clients share: one task listing per name a second, one scrape at a time
        "work_shared_tasks": SharedCalls[Any](ttl=SHARED_TTL),
        "work_shared_metrics": SharedCalls[Any](ttl=0.0),
        "work_progress": ProgressBoard(),
        "work_hosts": HostCheck(settings.address, settings.allowed_hosts),
        "log_function": log_request,
    }
