"""Where handlers run, on a real Redis: ``async def`` handlers on the pool's event loop, and child
processes (``processes=True``) with hard time limits and children that die mid-job."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis

from tests.redis_server import RedisServer
from tests.work_compat import procjobs
from tests.work_compat.conftest import wait_until
from work_compat import ConfigurationError, Enqueuer, Job, JobOptions, WorkerPool, decode_job

MakePool = Callable[..., WorkerPool]


# -- async handlers ----------------------------------------------------------------------------------


def test_async_handlers_run_and_can_await(make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis) -> None:
    done: list[int] = []
    threads: set[int] = set()

    async def fetch_page(job: Job) -> None:
        await asyncio.sleep(0.01)
        threads.add(threading.get_ident())
        done.append(job.arg_int64("n"))

    async def broken(job: Job) -> None:
        await asyncio.sleep(0)
        raise ValueError("async boom")

    for n in range(6):
        enq.enqueue("fetch_page", {"n": n})
    enq.enqueue("broken", {})
    pool = make_pool(3).job("fetch_page", fetch_page).job("broken", broken)
    pool.start()
    assert pool.drain(10)
    assert sorted(done) == list(range(6))
    assert len(threads) == 1  # one event loop runs them all
    [member] = redis_client.zrange(pool.keys.retry(), 0, -1)
    assert decode_job(member).last_err == "ValueError: async boom"


def test_async_and_sync_handlers_share_the_middleware_and_context(make_pool: MakePool, enq: Enqueuer) -> None:
    class Ctx:
        def __init__(self) -> None:
            self.seen_by_middleware = False

    log: list[tuple[str, bool]] = []

    def mark(ctx: Ctx, job: Job, next: Callable[[], Any]) -> Any:
        ctx.seen_by_middleware = True
        return next()  # for an async handler this is an awaitable, handed back unawaited

    async def async_handler(ctx: Ctx, job: Job) -> None:
        await asyncio.sleep(0)
        log.append(("async", ctx.seen_by_middleware))

    def sync_handler(ctx: Ctx, job: Job) -> None:
        log.append(("sync", ctx.seen_by_middleware))

    enq.enqueue("a", {})
    enq.enqueue("s", {})
    pool = make_pool(2, context=Ctx).middleware(mark).job("a", async_handler).job("s", sync_handler)
    pool.start()
    assert pool.drain(10)
    assert sorted(log) == [("async", True), ("sync", True)]


# -- child processes -------------------------------------------------------------------------------------


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    return str(redis_server.url)


def pids(r: redis.Redis, key: str) -> list[int]:
    return [int(p) for p in r.lrange(key, 0, -1)]


def test_a_process_pool_runs_handlers_in_child_processes(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, url: str
) -> None:
    for _ in range(6):
        enq.enqueue("record_pid", {"url": url, "key": "pids"})
    enq.enqueue("fail", {})
    pool = make_pool(2, processes=True).job("record_pid", procjobs.record_pid).job("fail", procjobs.fail)
    pool.start()
    assert pool.drain(30)
    ran_in = pids(redis_client, "pids")
    assert len(ran_in) == 6 and os.getpid() not in ran_in
    assert 1 <= len(set(ran_in)) <= 2  # one child per worker, reused from job to job
    [member] = redis_client.zrange(pool.keys.retry(), 0, -1)
    assert decode_job(member).last_err.startswith("ValueError: failed in ")
    assert redis_client.get(pool.keys.jobs_lock("record_pid")) == b"0"


def test_a_child_gets_the_context_and_middleware_too(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, url: str
) -> None:
    enq.enqueue("ctx", {"url": url, "key": "trail"})
    pool = (
        make_pool(1, processes=True, context=procjobs.Context)
        .middleware(procjobs.tag_middleware)
        .job("ctx", procjobs.record_context)
    )
    pool.start()
    assert pool.drain(30)
    assert redis_client.lrange("trail", 0, -1) == [b"middleware,handler"]


def test_a_job_over_its_time_limit_is_killed_and_the_pool_goes_on(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, url: str
) -> None:
    # Given a job that would run 30 s under a 0.5 s limit, and a quick job behind it
    slow = enq.enqueue("slow", {"url": url, "key": "slow", "seconds": 30})
    enq.enqueue("quick", {"url": url, "key": "quick"})
    opts = JobOptions(time_limit=0.5, max_fails=1)
    pool = (
        make_pool(1, processes=True)
        .job_with_options("slow", opts, procjobs.sleep_then_record)
        .job("quick", procjobs.record_pid)
    )
    pool.start()
    # When the pool runs both
    assert pool.drain(30)
    # Then the slow job failed with TimeLimitExceeded, and the quick one ran in a fresh child
    [member] = redis_client.zrange(pool.keys.dead(), 0, -1)
    dead = decode_job(member)
    assert dead.id == slow.id and dead.last_err.startswith("TimeLimitExceeded")
    assert pids(redis_client, "slow") == []
    assert len(pids(redis_client, "quick")) == 1
    for name in ("slow", "quick"):
        assert redis_client.get(pool.keys.jobs_lock(name)) == b"0"


def test_a_child_that_dies_fails_its_job_with_worker_lost_and_the_next_job_runs(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, url: str
) -> None:
    enq.enqueue("before", {"url": url, "key": "pids"})
    pool = (
        make_pool(1, processes=True)
        .job_with_options("die", JobOptions(max_fails=1), procjobs.die)
        .job("before", procjobs.record_pid)
        .job("after", procjobs.record_pid)
    )
    pool.start()
    assert pool.drain(30)
    # When a job ends its child process, and another job comes after it
    doomed = enq.enqueue("die", {})
    wait_until(lambda: redis_client.zcard(pool.keys.dead()) == 1, timeout=30, what="the job to fail")
    enq.enqueue("after", {"url": url, "key": "pids"})
    assert pool.drain(30)
    # Then that job failed with WorkerLost, and the next one ran in a new child
    [member] = redis_client.zrange(pool.keys.dead(), 0, -1)
    dead = decode_job(member)
    assert dead.id == doomed.id and dead.last_err.startswith("WorkerLost")
    first, second = pids(redis_client, "pids")
    assert first != second and os.getpid() not in (first, second)
    assert redis_client.get(pool.keys.jobs_lock("die")) == b"0"


def test_a_check_in_from_a_child_reaches_the_observer(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, url: str
) -> None:
    job = enq.enqueue("checkin", {"url": url, "go": "go"})
    pool = make_pool(1, processes=True).job("checkin", procjobs.checkin_and_wait)
    pool.start()
    key = pool.keys.worker_observation(pool.worker_ids[0])
    try:
        wait_until(lambda: redis_client.hget(key, "checkin") == b"from the child", timeout=30, what="the check-in")
        assert redis_client.hget(key, "job_id") == job.id.encode()
    finally:
        redis_client.lpush("go", 1)
    assert pool.drain(30)


def test_a_process_pool_refuses_handlers_children_cannot_import(make_pool: MakePool, redis_client: redis.Redis) -> None:
    pool = make_pool(1, processes=True).job("local", lambda job: None)
    with pytest.raises(ConfigurationError, match="module-level"):
        pool.start()
    assert redis_client.keys(pool.keys.prefix + "*") == []  # refused before anything was written
