"""Recovery as fast as the protocol allows: a pool reaps when it starts.

A lone pool restarted after a crash has no other pool's reaper to help it. On the library's default
cadences (Go's 10 s dead_after, a reaper that then waits 10 minutes) the crashed pool's jobs must
come back as soon as its heartbeat is older than dead_after: at once when it already is when the
new pool starts, otherwise within dead_after + 1 s of that start.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest
import redis

from tests.faults.conftest import Workers, _s, leftovers, wait_for
from tests.interop.driver import GoDriver
from work_compat import Enqueuer

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

DEAD_AFTER = 10  # PoolSettings' default, Go's deadTime
SLACK = 3.0  # a worker process's start-up, fetch back-off and the load of a shared machine


def _in_progress(rc: redis.Redis, workers: Workers, pool_id: str) -> int:
    return int(rc.llen(workers.keys.jobs_in_progress("work", pool_id)))


def test_a_lone_pool_restarted_at_once_recovers_within_dead_after(
    workers: Workers, rc: redis.Redis, fault_report: Callable[[str], None]
) -> None:
    """Given a pool running two long jobs, when it is SIGKILLed and a new pool starts at once, then
    both jobs are back within dead_after + 1 s of the new pool's start (its own reaper's second
    pass), with no other pool around, and run again."""
    rec = f"{workers.ns}:rec"
    with Enqueuer(workers.ns, workers.url) as enq:
        crashed = workers.start(2, pool="default_reaper_pool")
        crashed_id = workers.wait_ready(crashed)
        enq.enqueue_many(("work", {"rec": rec, "i": i, "ms": 60_000}) for i in range(2))
        wait_for("both jobs to start", lambda: len(rc.hgetall(rec + ":started")) == 2, 15, state=workers.logs)
        workers.sigkill(crashed)
        assert _in_progress(rc, workers, crashed_id) == 2
        enq.enqueue("work", {"rec": f"{rec}:later", "i": 0, "ms": 0})  # proves the new pool works meanwhile
        restarted = workers.start(2, pool="default_reaper_pool")
        workers.wait_ready(restarted)
        ready_at = time.monotonic()
        wait_for(
            "the crashed pool's jobs to be back (the new pool may fetch both in one batch)",
            lambda: _in_progress(rc, workers, crashed_id) == 0,
            DEAD_AFTER + 1 + SLACK,
            state=lambda: (rc.hgetall(rec + ":started"), leftovers(rc, workers.keys, ["work"]), workers.logs()),
        )
        took = time.monotonic() - ready_at
        wait_for("one of them to run again", lambda: 2 in {int(v) for v in rc.hgetall(rec + ":started").values()}, 5)
        assert rc.hget(f"{rec}:later:done", "0") == b"1"
        assert rc.sismember(workers.keys.worker_pools(), crashed_id) == 0
        assert rc.hget(workers.keys.jobs_lock_info("work"), crashed_id) is None
        assert took <= DEAD_AFTER + 1 + SLACK
        fault_report(f"a lone pool restarted at once after a SIGKILL had the jobs back {took:.1f}s after it was ready")


def test_a_pool_started_after_a_go_pool_died_reaps_it_at_once(
    workers: Workers, rc: redis.Redis, go_driver: GoDriver, fault_report: Callable[[str], None]
) -> None:
    """Given a gocraft/work pool running two long jobs, when it is SIGKILLed and a Python pool
    starts after its heartbeat went stale, then the Python pool requeues and runs both jobs at once
    (Go's reaper would first wait dead_after, then 10 minutes)."""
    rec = f"{workers.ns}:rec"
    go = go_driver.start_work(
        workers.ns, ["work"], concurrency="2", sleep_ms="work=60000", expect="0", hold_seconds="600"
    )
    try:
        go_id = wait_for(
            "the Go pool to beat",
            lambda: next(iter(rc.smembers(workers.keys.worker_pools())), None),
            20,
        )
        go_id = _s(go_id)
        with Enqueuer(workers.ns, workers.url) as enq:
            enq.enqueue_many(("work", {"rec": rec, "i": i, "ms": 0}) for i in range(2))
        wait_for("the Go pool to take both jobs", lambda: _in_progress(rc, workers, go_id) == 2, 15)
        go.kill()
        go.wait(10)

        def stale() -> bool:
            beat = rc.hget(workers.keys.heartbeat(go_id), "heartbeat_at")
            return beat is not None and int(beat) + DEAD_AFTER < int(rc.time()[0])

        wait_for("the Go pool's heartbeat to be older than dead_after", stale, DEAD_AFTER + 7)
        assert _in_progress(rc, workers, go_id) == 2  # nobody reaped it meanwhile
        proc = workers.start(2, pool="default_reaper_pool")
        workers.wait_ready(proc)
        ready_at = time.monotonic()
        wait_for("the Go pool's jobs to run in the Python pool", lambda: len(rc.hgetall(rec + ":done")) == 2, SLACK)
        took = time.monotonic() - ready_at
        assert took <= SLACK
        fault_report(f"a stale SIGKILLed Go pool's 2 jobs ran in a Python pool {took:.1f}s after it was ready")
        assert _in_progress(rc, workers, go_id) == 0
        assert rc.sismember(workers.keys.worker_pools(), go_id) == 0
        assert int(rc.get(workers.keys.jobs_lock("work")) or 0) == 0
    finally:
        if go.poll() is None:
            go.kill()
        try:
            go.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pass
