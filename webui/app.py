"""make_app: the Tornado application for one namespace, with no module state [flower app.py].

The Client, Enqueuer, settings and the thread pool that runs their blocking calls travel in the
application's settings, so handlers reach them through ``self.application`` and two apps on two
namespaces can share a process.
"""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor

import tornado.web

from work_compat import Client, Enqueuer

from .appstate import app_state
from .handlers.base import NotFoundHandler
from .handlers.pages import STATIC_DIR, TEMPLATE_DIR, StaticHandler
from .routes import routes
from .settings import WebSettings

__all__ = ["close_app", "make_app"]

PROBE_THREADS = 2  # one for a metrics scrape (scrapes share one run), one always free for a ping


def make_app(
    client: Client,
    enqueuer: Enqueuer,
    settings: WebSettings | None = None,
    *,
    executor: Executor | None = None,
) -> tornado.web.Application:
    """Build the application. Without ``executor`` it makes a thread pool of ``max_workers``,
    found at ``app.settings["work_executor"]``; ``/healthcheck`` and ``/metrics`` run on a small
    pool of their own (``work_probe_executor``), so a probe answers in milliseconds however busy
    the pages keep the first. Whoever stops serving calls ``close_app``."""
    settings = settings or WebSettings(namespace=client.namespace)
    if executor is None:
        executor = ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="webui")
    return tornado.web.Application(
        routes(settings.url_prefix),
        default_handler_class=NotFoundHandler,
        work_client=client,
        work_enqueuer=enqueuer,
        web_settings=settings,
        work_executor=executor,
        work_probe_executor=ThreadPoolExecutor(max_workers=PROBE_THREADS, thread_name_prefix="webui-probe"),
        compress_response=False,
        # the pages: templates and static files ship inside the package (no build step)
        template_path=str(TEMPLATE_DIR),
        static_path=str(STATIC_DIR),
        static_url_prefix=settings.url_prefix + "/static/",
        static_handler_class=StaticHandler,
        **app_state(client, settings),  # Flower API, metrics, XSRF and session-cookie settings
    )


def close_app(app: tornado.web.Application, *, wait: bool = True) -> None:
    """Stop the app's thread pools (``wait``: let running calls end) and close its result reader."""
    for name in ("work_executor", "work_probe_executor"):
        app.settings[name].shutdown(wait=wait, cancel_futures=not wait)
    if app.settings["work_results"] is not None:
        app.settings["work_results"].close()
