"""Fixtures of the celery_shim tests: an app on the session's Redis, in a fresh namespace, with a
fixed ``now`` so countdown and eta scores are exact; for the result, control and canvas tests, an
app with that Redis as result backend (``app_on``), an Enqueuer and real gocraft pools."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis

from celery_shim import Celery
from tests.redis_server import RedisServer
from tests.work_compat.conftest import FAST, FAST_SLEEP_BACKOFFS
from work_compat import Enqueuer, WorkerPool

T0 = 1_800_000_000.25  # a fractional second, so ceil() of an eta is visible


@pytest.fixture(autouse=True)
def _shared_tasks_stay_in_their_test() -> Iterator[None]:
    """``@shared_task`` binds to every app made afterwards, as in Celery; a shared task a test
    declares must not show up in the apps of the tests after it."""
    import celery_shim._state as app_module

    before = list(app_module._shared)
    try:
        yield
    finally:
        added = [t for t in app_module._shared if all(t is not b for b in before)]
        app_module._shared[:] = before
        for live in list(app_module._apps):  # long-lived apps (test task modules') got them too
            for task in added:
                if task.name and live.tasks.get(task.name) is task:
                    del live.tasks[task.name]


@pytest.fixture
def broker_url(redis_server: RedisServer) -> str:
    return f"redis://127.0.0.1:{redis_server.port}/0"


@pytest.fixture
def app(broker_url: str, namespace: str, redis_client: redis.Redis) -> Iterator[Celery]:
    """An app publishing into ``namespace`` on the flushed test Redis."""
    app = Celery("proj", broker=broker_url, gocraft_namespace=namespace)
    app.now = lambda: T0
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def url(redis_server: RedisServer, redis_client: redis.Redis) -> str:
    """The test Redis, flushed for the test, as broker and result backend URL."""
    return f"redis://127.0.0.1:{redis_server.port}/0"


@contextlib.contextmanager
def app_on(url: str, namespace: str, main: str = "proj", *, backend: bool = True) -> Iterator[Celery]:
    """An app on ``namespace`` with the same Redis as result backend (unless ``backend=False``),
    not made the current app; closed when the block ends."""
    app = Celery(main, broker=url, backend=url if backend else None, gocraft_namespace=namespace, set_as_current=False)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def enqueuer(url: str, namespace: str) -> Iterator[Enqueuer]:
    """A work_compat Enqueuer on the test's namespace: jobs as any gocraft producer writes them."""
    enq = Enqueuer(namespace, url)
    try:
        yield enq
    finally:
        enq.close()


@pytest.fixture
def make_pool(url: str, namespace: str) -> Iterator[Callable[..., WorkerPool]]:
    """``make_pool(concurrency=2, **settings)``: an unstarted gocraft WorkerPool on the test's
    namespace, FAST settings with ``settings`` replaced; every pool made is stopped at the end."""
    pools: list[WorkerPool] = []

    def make(concurrency: int = 2, **settings: Any) -> WorkerPool:
        pool = WorkerPool(
            concurrency, namespace, url, settings=replace(FAST, **settings), sleep_backoffs=FAST_SLEEP_BACKOFFS
        )
        pools.append(pool)
        return pool

    try:
        yield make
    finally:
        for pool in pools:
            pool.stop(timeout=15)
            pool.close()
