"""What code in a process pool's children can ask of the pool (``pool_child``): its own job's hard
time limit, its replacement after the job, and what the parent tells the children; and what the
parent can do: signal the child running a job, and decide a lost job's outcome itself."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import redis

from tests.redis_server import RedisServer
from tests.work_compat import procjobs
from tests.work_compat.conftest import wait_until
from work_compat import Client, Enqueuer, JobOptions, WorkerPool
from work_compat.job_options import JobType
from work_compat.runner import Outcome

MakePool = Callable[..., WorkerPool]
ONCE = JobOptions(max_fails=1)


def test_a_handler_sets_its_time_limit_and_the_lost_job_handler_decides(
    make_pool: MakePool, enq: Enqueuer, client: Client
) -> None:
    # Given a process pool whose handler sets a 0.3 s hard limit, and a lost-job handler
    seen: list[tuple[str, str]] = []

    def lost(job_type: JobType, job: Any, outcome: Outcome) -> Outcome:
        seen.append((job.id, outcome.message))
        return Outcome("dead", "decided by the parent")

    pool = make_pool(1, processes=True).job_with_options("lim", ONCE, procjobs.limit_then_sleep)
    pool.set_lost_job_handler(lost)
    pool.start()
    job = enq.enqueue("lim", {"limit": 0.3})
    assert job is not None

    # Then the child is killed past it, and the parent's handler decided the job's fate
    dead = wait_until(lambda: client.dead_jobs()[0], timeout=20, what="the dead entry")
    assert [d.job.id for d in dead] == [job.id]
    assert dead[0].job.last_err == "decided by the parent"
    assert len(seen) == 1 and seen[0][0] == job.id and seen[0][1].startswith("TimeLimitExceeded")


def test_a_retired_child_is_replaced_after_its_job(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    pool = make_pool(1, processes=True).job("r", procjobs.record_pid_and_retire)
    pool.start()
    for _ in range(3):
        enq.enqueue("r", {"url": redis_server.url, "key": "pids"})
    assert pool.drain(60)
    pids = [int(p) for p in redis_client.lrange("pids", 0, -1)]
    assert len(pids) == 3 and len(set(pids)) == 3
    assert redis_client.llen(pool.keys.jobs_in_progress("r", pool.pool_id)) == 0


def test_children_hear_the_parent_and_the_child_running_a_job_can_be_signalled(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, redis_server: RedisServer, client: Client
) -> None:
    pool = make_pool(2, processes=True).job_with_options("w", ONCE, procjobs.listen_then_wait)
    pool.start()
    job = enq.enqueue("w", {"url": redis_server.url, "key": "k"})
    assert job is not None
    pid = int(wait_until(lambda: redis_client.get("k:pid"), timeout=30, what="the job to start"))
    assert pid != os.getpid()

    pool.tell_children(("hello", 1))
    wait_until(lambda: redis_client.lrange("k:told", 0, -1) == [b"('hello', 1)"], timeout=10, what="the tell")

    assert not pool.signal_job("no-such-job", signal.SIGKILL)
    assert pool.signal_job(job.id, signal.SIGKILL)
    dead = wait_until(lambda: client.dead_jobs()[0], timeout=20, what="the dead entry")
    assert [d.job.id for d in dead] == [job.id]
    assert dead[0].job.last_err.startswith("WorkerLost: the worker process died (exit code -9)")
