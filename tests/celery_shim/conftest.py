"""Fixtures of the celery_shim tests: an app on the session's Redis, in a fresh namespace, with a
fixed ``now`` so countdown and eta scores are exact."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from celery_shim import Celery
from tests.redis_server import RedisServer

T0 = 1_800_000_000.25  # a fractional second, so ceil() of an eta is visible


@pytest.fixture(autouse=True)
def _shared_tasks_stay_in_their_test() -> Iterator[None]:
    """``@shared_task`` binds to every app made afterwards, as in Celery; a shared task a test
    declares must not show up in the apps of the tests after it."""
    import celery_shim.app as app_module

    before = list(app_module._shared)
    try:
        yield
    finally:
        app_module._shared[:] = before


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
