"""An embedded worker for tests (Celery's ``celery.contrib.testing.worker.start_worker``).

``with start_worker(app): ...`` starts a WorkController in this process (the ``solo`` pool by
default), checks it runs tasks by sending ``celery.ping`` and waiting for ``'pong'``, yields it, and
stops it when the block ends. The test worker polls Redis with short idle backoffs (at most 100 ms)
so that a job sent by the test starts at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from work_compat import PoolSettings

from ... import states
from ...backends.base import DisabledBackend
from ...signals import Signal
from ...worker.worker import WorkController

if TYPE_CHECKING:
    from ...app.base import Celery

__all__ = ["TEST_POOL_SETTINGS", "start_worker", "test_worker_started", "test_worker_starting", "test_worker_stopped"]

WORKER_LOGLEVEL = "ERROR"
TEST_SLEEP_BACKOFFS = (0, 10, 20, 50, 100)
# Short cadences: heartbeats and requeues (retries, countdowns) within a fraction of a second.
TEST_POOL_SETTINGS = PoolSettings(heartbeat_period=1.0, observer_period=0.2, requeue_period=0.2, stop_timeout=10.0)

test_worker_starting = Signal("test_worker_starting")
test_worker_started = Signal("test_worker_started")
test_worker_stopped = Signal("test_worker_stopped")


def _wait_pong(app: Celery, timeout: float) -> None:
    from .tasks import ping

    result = ping.delay()
    if not isinstance(app.backend, DisabledBackend):
        answer = result.get(timeout=timeout)
        if answer != "pong":
            raise AssertionError(f"celery.ping answered {answer!r}")
        return
    deadline = time.monotonic() + timeout  # no backend: wait for the job's success in Redis
    while result.state != states.SUCCESS:
        if time.monotonic() > deadline:
            raise AssertionError(f"the test worker did not run celery.ping within {timeout}s")
        time.sleep(0.02)


@contextmanager
def start_worker(
    app: Celery,
    concurrency: int = 1,
    pool: str = "solo",
    loglevel: str | int = WORKER_LOGLEVEL,
    logfile: str | None = None,
    perform_ping_check: bool = True,
    ping_task_timeout: float = 10.0,
    shutdown_timeout: float = 10.0,
    **kwargs: Any,
) -> Iterator[WorkController]:
    """Run a worker for ``app`` in this process for the ``with`` block; yields the WorkController."""
    from . import tasks  # noqa: F401  registers celery.ping

    test_worker_starting.send(sender=app)
    worker: WorkController | None = None
    app.set_current()
    finalize = getattr(app, "finalize", None)
    if callable(finalize):
        finalize()
    if perform_ping_check and "celery.ping" not in app.tasks:
        raise AssertionError("celery.ping is not registered with the app")
    kwargs.setdefault("hostname", f"testworker-{uuid.uuid4().hex[:8]}@localhost")
    kwargs.setdefault("pool_settings", TEST_POOL_SETTINGS)
    kwargs.setdefault("sleep_backoffs", TEST_SLEEP_BACKOFFS)
    try:
        worker = WorkController(app, concurrency=concurrency, pool=pool, **kwargs)
        worker.start()
        try:
            test_worker_started.send(sender=app, worker=worker)
            if perform_ping_check:
                _wait_pong(app, ping_task_timeout)
            yield worker
        finally:
            worker.stop(timeout=shutdown_timeout)
            pool_obj = worker.pool
            if pool_obj is not None and not pool_obj.join(0):
                raise RuntimeError(
                    "Worker thread failed to exit within the allocated timeout. Consider raising "
                    "`shutdown_timeout` if your tasks take longer to execute."
                )
    finally:
        test_worker_stopped.send(sender=app, worker=worker)
