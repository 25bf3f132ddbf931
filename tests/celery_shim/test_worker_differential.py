"""The same tasks under a real Celery 5.7 worker and under the shim's worker: the order of task
signals and handler calls for a success, a failure and a retry-then-success must be the same."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from celery_shim import Celery as ShimCelery
from celery_shim.worker.worker import WorkController
from tests.redis_server import RedisServer
from tests.work_compat.conftest import FAST, FAST_SLEEP_BACKOFFS, wait_until

SIGNALS = ("task_received", "task_prerun", "task_postrun", "task_success", "task_failure", "task_retry")


def scenario(
    make_app: Callable[[], Any], signals: Any, worker: Callable[[Any], AbstractContextManager[Any]]
) -> dict[str, list[str]]:
    """Run ok, bad and retry_once on a worker; every signal and handler call, in order, per task."""
    events: list[str] = []
    for name in SIGNALS:

        def named(name: str = name, **kwargs: Any) -> None:
            events.append(name)

        getattr(signals, name).connect(named, weak=False, dispatch_uid=f"diff-{name}")
    app = make_app()

    class Base(app.Task):  # type: ignore[misc,name-defined]
        def before_start(self, *args: Any) -> None:
            events.append("before_start")

        def on_success(self, *args: Any) -> None:
            events.append("on_success")

        def on_failure(self, *args: Any) -> None:
            events.append("on_failure")

        def on_retry(self, *args: Any) -> None:
            events.append("on_retry")

        def after_return(self, status: str, *args: Any) -> None:
            events.append(f"after_return:{status}")

    @app.task(base=Base, name="diff.ok")
    def ok() -> int:
        events.append("run")
        return 1

    @app.task(base=Base, name="diff.bad")
    def bad() -> None:
        events.append("run")
        raise ValueError("bad")

    @app.task(base=Base, bind=True, name="diff.retry_once", max_retries=1)
    def retry_once(self: Any) -> int:
        events.append("run")
        if self.request.retries == 0:
            raise self.retry(countdown=0)
        return 2

    out: dict[str, list[str]] = {}
    try:
        with worker(app):
            for task, runs in ((ok, 1), (bad, 1), (retry_once, 2)):
                events.clear()
                task.delay()
                wait_until(
                    lambda: events.count("task_postrun") >= runs, timeout=20, what=f"{task.name} to finish"
                )
                out[task.name] = list(events)
    finally:
        for name in SIGNALS:
            getattr(signals, name).disconnect(dispatch_uid=f"diff-{name}")
        app.close()
    return out


@contextmanager
def celery_logging_restored() -> Iterator[None]:
    """Undo what a real Celery worker does to the logging tree (its loggers stop propagating)."""
    loggers = [logging.getLogger()] + [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    saved = {id(lg): (lg, lg.propagate, list(lg.handlers), lg.level, lg.disabled) for lg in loggers}
    try:
        yield
    finally:
        for name in list(logging.root.manager.loggerDict):
            lg = logging.getLogger(name)
            if id(lg) not in saved and name.startswith("celery"):
                lg.propagate, lg.handlers, lg.level, lg.disabled = True, [], logging.NOTSET, False
        for lg, propagate, handlers, level, disabled in saved.values():
            lg.propagate, lg.handlers, lg.level, lg.disabled = propagate, handlers, level, disabled


def test_signal_and_handler_order_matches_real_celery(
    redis_server: RedisServer, namespace: str, redis_client: Any
) -> None:
    celery = importlib.import_module("celery")
    celery_signals = importlib.import_module("celery.signals")
    testing = importlib.import_module("celery.contrib.testing.worker")

    def real_app() -> Any:
        app = celery.Celery("diff", broker="memory://", backend="cache+memory://", set_as_current=False)
        app.conf.worker_hijack_root_logger = False
        return app

    def real_worker(app: Any) -> AbstractContextManager[Any]:
        return testing.start_worker(app, perform_ping_check=False, pool="solo")

    url = f"redis://127.0.0.1:{redis_server.port}/0"

    def shim_app() -> Any:
        return ShimCelery("diff", broker=url, backend=url, gocraft_namespace=namespace, set_as_current=False)

    class shim_worker:
        def __init__(self, app: Any) -> None:
            self.worker = WorkController(app, pool="solo", pool_settings=FAST, sleep_backoffs=FAST_SLEEP_BACKOFFS)

        def __enter__(self) -> WorkController:
            self.worker.start()
            return self.worker

        def __exit__(self, *exc: object) -> None:
            self.worker.stop(timeout=10)

    from celery_shim import signals as shim_signals

    with celery_logging_restored():
        real = scenario(real_app, celery_signals, real_worker)
    shim = scenario(shim_app, shim_signals, shim_worker)
    assert real["diff.ok"] == [
        "task_received", "task_prerun", "before_start", "run", "on_success", "task_success",
        "after_return:SUCCESS", "task_postrun",
    ]  # fmt: skip
    assert shim == real
