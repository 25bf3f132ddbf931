"""Fixtures of the work_compat tests: a manual clock, and an Enqueuer and Client on it."""

from __future__ import annotations

import pytest

from tests.redis_server import RedisServer
from work_compat import Client, Enqueuer, ManualClock

T0 = 1_800_000_000


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def enq(redis_server: RedisServer, namespace: str, clock: ManualClock) -> Enqueuer:
    return Enqueuer(namespace, redis_server.url, clock=clock)


@pytest.fixture
def client(redis_server: RedisServer, namespace: str, clock: ManualClock) -> Client:
    return Client(namespace, redis_server.url, clock=clock)
