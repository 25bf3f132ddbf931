"""Signals to a worker process: the first SIGTERM finishes in-flight jobs and leaves cleanly; a
second one stops at once and leaves the pool's entries, so a reaper requeues what was in flight."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest
import redis

from tests.faults.conftest import Workers, leftovers, wait_for
from work_compat import Enqueuer, Job, WorkerPool

pytestmark = pytest.mark.faults


def test_first_sigterm_finishes_the_job_and_leaves(workers: Workers, ns: str, rc: redis.Redis) -> None:
    # Given a worker running a 1.5 s job
    keys = workers.keys
    with Enqueuer(ns, workers.url) as enq:
        enq.enqueue("work", {"rec": "sig1", "i": 1, "ms": 1500})
    proc = workers.start(1)
    pool_id = workers.wait_ready(proc)
    wait_for("the job to start", lambda: rc.hget("sig1:started", "1"), 10)

    # When it gets one SIGTERM
    assert workers.terminate(proc) == 0, proc.log_tail()

    # Then the job finished, and the pool left the books
    assert rc.hget("sig1:done", "1") == b"1"
    assert not rc.sismember(keys.worker_pools(), pool_id)
    assert rc.exists(keys.heartbeat(pool_id)) == 0
    assert leftovers(rc, keys, ["work"]) == {}


def test_second_sigterm_stops_at_once_and_a_reaper_recovers_the_job(
    workers: Workers, ns: str, rc: redis.Redis, make_pool: Callable[..., WorkerPool]
) -> None:
    # Given a worker running a job that would take 60 s
    keys = workers.keys
    with Enqueuer(ns, workers.url) as enq:
        job = enq.enqueue("work", {"rec": "sig2", "i": 1, "ms": 60000})
    proc = workers.start(1)
    pool_id = workers.wait_ready(proc)
    wait_for("the job to start", lambda: rc.hget("sig2:started", "1"), 10)

    # When it gets SIGTERM, and a second one a moment later (one keypress can arrive twice at once)
    proc.popen.send_signal(signal.SIGTERM)
    time.sleep(1.2)  # the second signal must come later than the first to count
    started = time.monotonic()
    proc.popen.send_signal(signal.SIGTERM)
    code = proc.popen.wait(timeout=10)

    # Then it exits at once, leaving its entries and the job in progress for a reaper
    assert code != 0 and time.monotonic() - started < 5
    assert rc.sismember(keys.worker_pools(), pool_id)
    assert rc.exists(keys.heartbeat(pool_id)) == 1
    assert rc.llen(keys.jobs_in_progress("work", pool_id)) == 1

    # And another pool's reaper requeues it once the heartbeat is stale, and runs it
    ran: list[str] = []

    def quick(j: Job) -> None:
        ran.append(j.id)

    rescuer = make_pool(1, ns, workers.url)
    rescuer.job("work", quick)
    rescuer.start()
    wait_for("the rescuer's reaper to requeue and run the job", lambda: job.id in ran, 20)
    assert not rc.sismember(keys.worker_pools(), pool_id)
    assert rc.llen(keys.jobs_in_progress("work", pool_id)) == 0
