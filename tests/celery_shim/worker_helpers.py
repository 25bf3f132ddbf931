"""Fixtures of the worker tests: an app with a result backend and a settable clock, and workers that
start on the test's namespace with short cadences and are always stopped."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from celery_shim import Celery
from celery_shim.worker.worker import WorkController
from tests.redis_server import RedisServer
from tests.work_compat.conftest import FAST, FAST_SLEEP_BACKOFFS, wait_until
from work_compat import Client, Enqueuer

__all__ = ["T0", "Clock", "running_worker", "started_workers", "wait_until"]

T0 = 1_800_000_000.25


class Clock:
    """``app.now`` for the tests: fixed at T0 until moved."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@contextlib.contextmanager
def started_workers(app: Celery, **defaults: Any) -> Iterator[Callable[..., WorkController]]:
    """``start(**options)`` in the block: a started WorkController on ``app`` (threads, 2 slots and
    fast cadences unless ``defaults`` or ``options`` say otherwise); each is stopped at the end."""
    workers: list[WorkController] = []

    def start(**options: Any) -> WorkController:
        settings: dict[str, Any] = {
            "pool": "threads",
            "concurrency": 2,
            "pool_settings": FAST,
            "sleep_backoffs": FAST_SLEEP_BACKOFFS,
            "runtime_refresh": 0.1,
        }
        worker = WorkController(app, **{**settings, **defaults, **options})
        workers.append(worker)
        worker.start()
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop(timeout=15)


@contextlib.contextmanager
def running_worker(app: Celery) -> Iterator[WorkController]:
    """One celery_shim worker on ``app`` for the block, named like a host's, always stopped."""
    with started_workers(app) as start:
        yield start(hostname=f"w-{uuid.uuid4().hex[:6]}@localhost")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wapp(redis_server: RedisServer, namespace: str, redis_client: redis.Redis, clock: Clock) -> Iterator[Celery]:
    """An app on the test's namespace with the same Redis as result backend, its ``now`` at T0."""
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    app = Celery("wt", broker=url, backend=url, gocraft_namespace=namespace, set_as_current=False)
    app.now = clock
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def start_worker(wapp: Celery) -> Iterator[Callable[..., WorkController]]:
    """``start_worker(**options)``: a started WorkController (threads, 2 slots, fast cadences)."""
    with started_workers(wapp) as start:
        yield start


@pytest.fixture
def gclient(redis_server: RedisServer, namespace: str) -> Iterator[Client]:
    client = Client(namespace, redis_server.url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def go_enqueuer(redis_server: RedisServer, namespace: str) -> Iterator[Enqueuer]:
    """An Enqueuer that writes jobs as a Go producer does (no Celery metadata)."""
    enqueuer = Enqueuer(namespace, redis_server.url)
    try:
        yield enqueuer
    finally:
        enqueuer.close()
