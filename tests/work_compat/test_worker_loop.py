"""The worker loop on a real Redis: what a worker holds never waits behind its running job, and a
worker never dies (of a handler's SystemExit, or of a failure of the loop itself)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest
import redis

from tests.work_compat.conftest import wait_until
from work_compat import Enqueuer, HistoryJob, Job, WorkerPool, decode_job
from work_compat.processor import Completion, Fetched

MakePool = Callable[..., WorkerPool]
N, SLOW = 13, 8


def state(r: redis.Redis, pool: WorkerPool, name: str) -> dict[str, object]:
    k = pool.keys
    return {
        "in_progress": [decode_job(v).arg_int64("i") for v in r.lrange(k.jobs_in_progress(name, pool.pool_id), 0, -1)],
        "queued": [decode_job(v).arg_int64("i") for v in r.lrange(k.jobs(name), 0, -1)],
        "lock": r.get(k.jobs_lock(name)),
        "lock_info": r.hget(k.jobs_lock_info(name), pool.pool_id),
    }


def completed(r: redis.Redis, pool: WorkerPool) -> list[int]:
    return sorted(HistoryJob.from_json(m).job.arg_int64("i") for m in r.zrange(pool.keys.history(), 0, -1))


class Blocking:
    """A handler that records each run and blocks on the job marked slow until released."""

    def __init__(self) -> None:
        self.ran: list[int] = []
        self.slow_started = threading.Event()
        self.release = threading.Event()

    def __call__(self, job: Job) -> None:
        self.ran.append(job.arg_int64("i"))
        if job.arg_bool("slow"):
            self.slow_started.set()
            self.release.wait(30)


def start_held(make_pool: MakePool, enq: Enqueuer) -> tuple[WorkerPool, Blocking]:
    """A one-worker pool running the slow ninth of thirteen jobs (fetched with the four after it)."""
    enq.enqueue_many(("h", {"i": i, "slow": i == SLOW}) for i in range(N))
    handler = Blocking()
    pool = make_pool(1).job("h", handler)
    pool.start()
    assert handler.slow_started.wait(10), handler.ran
    return pool, handler


def test_completions_are_written_and_unstarted_jobs_handed_back_while_a_job_runs_long(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    pool, handler = start_held(make_pool, enq)

    # The eight before the slow job are completed, only it is in progress, the four after it are
    # back at the front of the queue in their order (the next fetch takes 9 first)
    want = {"in_progress": [SLOW], "queued": [12, 11, 10, 9], "lock": b"1", "lock_info": b"1"}
    wait_until(lambda: state(redis_client, pool, "h") == want, 1.0, "only the slow job held")
    wait_until(lambda: completed(redis_client, pool) == list(range(SLOW)), 1.0, "jobs 0-7 completed")
    assert handler.ran == list(range(SLOW + 1))

    handler.release.set()
    assert pool.drain(10)
    assert handler.ran == list(range(N))
    assert state(redis_client, pool, "h") == {"in_progress": [], "queued": [], "lock": b"0", "lock_info": b"0"}


def test_a_graceful_stop_leaves_no_fetched_job_in_progress(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    pool, handler = start_held(make_pool, enq)
    threading.Timer(0.3, handler.release.set).start()
    pool.stop()
    assert state(redis_client, pool, "h") == {
        "in_progress": [],
        "queued": [12, 11, 10, 9],
        "lock": b"0",
        "lock_info": b"0",
    }
    assert completed(redis_client, pool) == list(range(SLOW + 1))


def test_a_stop_that_times_out_leaves_only_the_running_job_in_progress(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    pool, handler = start_held(make_pool, enq)
    try:
        pool.stop(timeout=0.2)
        assert state(redis_client, pool, "h") == {
            "in_progress": [SLOW],
            "queued": [12, 11, 10, 9],
            "lock": b"1",
            "lock_info": b"1",
        }
    finally:
        handler.release.set()
        assert pool.join(10)


def test_a_handler_raising_systemexit_fails_its_job_and_the_worker_goes_on(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    ran: list[int] = []

    def handler(job: Job) -> None:
        ran.append(job.arg_int64("i"))
        if job.arg_int64("i") == 0:
            raise SystemExit(3)

    enq.enqueue_many(("x", {"i": i}) for i in range(5))
    pool = make_pool(1).job("x", handler)
    pool.start()
    assert pool.drain(10)
    assert sorted(ran) == list(range(5))
    (member,) = redis_client.zrange(pool.keys.retry(), 0, -1)
    failed = decode_job(member)
    assert (failed.arg_int64("i"), failed.fails, failed.last_err) == (0, 1, "SystemExit: 3")
    assert pool.workers[0].thread.is_alive()


def test_a_worker_whose_loop_fails_is_restarted_and_its_fetched_jobs_go_back(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[int] = []
    pool = make_pool(1).job("x", lambda job: ran.append(job.arg_int64("i")))
    faults = 0

    def fault_on_the_fifth_job(fetched: Fetched, slot: int) -> Completion:
        nonlocal faults
        if len(ran) == 5 and not faults:
            faults += 1
            # the worker holds jobs it fetched and has not started: a fault now must not strand them
            assert pool.workers[0].unstarted, "the fault was meant to hit a worker holding fetched jobs"
            raise RuntimeError("injected fault in the worker loop")
        return process(fetched, slot)

    with caplog.at_level(logging.ERROR, logger="work_compat.worker"):
        pool.start()
        process = pool.processor.process_safely
        pool.processor.process_safely = fault_on_the_fifth_job  # type: ignore[method-assign]
        enq.enqueue_many(("x", {"i": i}) for i in range(40))
        assert pool.drain(10)
    assert faults == 1
    assert sorted(ran) == list(range(40)), "every job ran exactly once"
    assert "worker 0 failed; restarting it" in caplog.text
    assert state(redis_client, pool, "x") == {"in_progress": [], "queued": [], "lock": b"0", "lock_info": b"0"}
    assert completed(redis_client, pool) == list(range(40))
