"""Fixtures of the work_compat tests: a manual clock, an Enqueuer and Client on it, and worker pools
with short cadences that are always stopped."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

import pytest
import redis

from tests.redis_server import RedisServer
from work_compat import Client, Enqueuer, ManualClock, PoolSettings, WorkerPool

T0 = 1_800_000_000

# Every background loop of a pool on a sub-second cadence; the reaper first runs 0.2 s after start.
# A pool is dead after an hour without a beat, so that tests may move the ManualClock minutes ahead
# without the pool's own reaper taking it for dead before its next beat; REAPER uses Go's 10 s.
FAST = PoolSettings(
    heartbeat_period=0.2,
    observer_period=0.1,
    requeue_period=0.1,
    reaper_first_delay=0.2,
    reaper_period=0.5,
    reaper_jitter=0,
    dead_after=3600,
    stop_timeout=15,
)
REAPER = replace(FAST, dead_after=10)
# Idle fetches back off to 50 ms at most, so jobs that appear while a pool runs are taken quickly.
FAST_SLEEP_BACKOFFS = (0, 5, 10, 20, 50)

V = TypeVar("V")


def wait_until(check: Callable[[], V], timeout: float = 5.0, what: str = "the condition") -> V:
    """Poll ``check`` until it returns something truthy, and return that; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {value!r})")
        time.sleep(0.01)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def enq(redis_server: RedisServer, namespace: str, clock: ManualClock) -> Enqueuer:
    return Enqueuer(namespace, redis_server.url, clock=clock)


@pytest.fixture
def client(redis_server: RedisServer, namespace: str, clock: ManualClock) -> Client:
    return Client(namespace, redis_server.url, clock=clock)


@pytest.fixture
def make_pool(
    redis_server: RedisServer, redis_client: redis.Redis, namespace: str, clock: ManualClock
) -> Iterator[Callable[..., WorkerPool]]:
    """``make_pool(concurrency=1, **kwargs)``: an unstarted WorkerPool on the test's namespace and
    clock with FAST settings; every pool made is stopped (and closed) when the test ends."""
    pools: list[WorkerPool] = []

    def make(concurrency: int = 1, **kwargs: Any) -> WorkerPool:
        kwargs.setdefault("settings", FAST)
        kwargs.setdefault("sleep_backoffs", FAST_SLEEP_BACKOFFS)
        kwargs.setdefault("clock", clock)
        pool = WorkerPool(concurrency, namespace, redis_server.url, **kwargs)
        pools.append(pool)
        return pool

    try:
        yield make
    finally:
        for pool in pools:
            pool.stop(timeout=15)
            pool.close()
