"""Scenario 5: a handler that hangs does not hold up ``pool.stop(timeout=2)``.

stop() waits up to its timeout for in-flight jobs, then returns. The hung job stays in the pool's
in-progress list and the pool's heartbeat entries stay (no deregistration while a worker is
stuck), so a later pool's reaper finds the pool dead and puts the job back in its queue. When the
hung handler finally returns, its late completion finds the job gone from in-progress and writes
nothing: the lock counters stay at 0 and the job is not recorded twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import pytest
import redis

from tests.faults.conftest import leftovers, wait_for
from work_compat import Enqueuer, HistoryJob, Job, WorkerPool, decode_job
from work_compat.embedded import EmbeddedRedis

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

STOP_TIMEOUT = 2.0
SLACK = 2.0


def _beat(rc: redis.Redis, pool: WorkerPool) -> int:
    return int(rc.hget(pool.keys.heartbeat(pool.pool_id), "heartbeat_at") or 0)


def test_stop_leaves_a_hung_job_for_a_later_pools_reaper(
    fault_redis: EmbeddedRedis,
    rc: redis.Redis,
    make_pool: Callable[..., WorkerPool],
    ns: str,
    caplog: pytest.LogCaptureFixture,
    fault_report: Callable[[str], None],
) -> None:
    started, release = threading.Event(), threading.Event()
    reran: list[Job] = []

    def hang(job: Job) -> None:
        started.set()
        release.wait(60)  # "sleeps 60 s"; the test lets it go at the end

    pool1 = make_pool(2, ns, fault_redis.url)
    pool1.job("hang", hang)
    keys = pool1.keys
    try:
        with Enqueuer(ns, fault_redis.url) as enq:
            hung = enq.enqueue("hang", {"n": 1})
        pool1.start()
        assert started.wait(10)

        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="work_compat"):
            pool1.stop(timeout=STOP_TIMEOUT)
        elapsed = time.monotonic() - t0
        assert elapsed < STOP_TIMEOUT + SLACK, f"stop(timeout={STOP_TIMEOUT}) took {elapsed:.2f}s"
        stuck_log = [r.getMessage() for r in caplog.records if "still running" in r.getMessage()]
        assert stuck_log, "stop() did not say which threads were stuck"

        # The job stays in progress, the pool stays registered, and it no longer beats.
        in_progress = rc.lrange(keys.jobs_in_progress("hang", pool1.pool_id), 0, -1)
        assert [decode_job(m).id for m in in_progress] == [hung.id]
        assert rc.sismember(keys.worker_pools(), pool1.pool_id)
        beat = _beat(rc, pool1)
        time.sleep(1.5)  # more than a heartbeat period
        assert _beat(rc, pool1) == beat, "a stopped pool is still beating"

        # A later pool's reaper finds pool1 dead and requeues the job, which then runs there.
        pool2 = make_pool(2, ns, fault_redis.url)
        pool2.job("hang", reran.append)
        t1 = time.monotonic()
        pool2.start()
        wait_for(
            "the later pool to reap and rerun the hung job",
            lambda: any(j.id == hung.id for j in reran),
            20,
            state=lambda: leftovers(rc, keys, ["hang"]),
        )
        reaped_after = time.monotonic() - t1
        assert pool2.drain(timeout=10)
        assert not rc.sismember(keys.worker_pools(), pool1.pool_id)
        assert leftovers(rc, keys, ["hang"]) == {}
        assert pool1.pool_id.encode() not in rc.hgetall(keys.jobs_lock_info("hang"))
    finally:
        release.set()

    # The hung handler returns now; its late completion must find nothing to complete.
    assert pool1.join(timeout=10), "pool1's stuck worker ends once its handler returns"
    assert leftovers(rc, keys, ["hang"]) == {}
    history = [HistoryJob.from_json(m) for m in rc.zrange(keys.history_for("hang"), 0, -1)]
    assert [(h.status, h.job.id) for h in history] == [("success", hung.id)]
    fault_report(
        f"thread pool: stop(timeout={STOP_TIMEOUT}) returned after {elapsed:.2f}s ({stuck_log[0]}); "
        f"the hung job stayed in progress, a later pool reaped and reran it {reaped_after:.1f}s after its start; "
        "the late completion wrote nothing"
    )


def test_stop_of_a_process_pool_with_a_hung_child(
    fault_redis: EmbeddedRedis,
    rc: redis.Redis,
    make_pool: Callable[..., WorkerPool],
    ns: str,
    monkeypatch: pytest.MonkeyPatch,
    fault_report: Callable[[str], None],
) -> None:
    from tests.faults import jobs

    monkeypatch.setenv("WORK_COMPAT_REDIS", fault_redis.url)  # the children's recorder
    pool = make_pool(2, ns, fault_redis.url, processes=True)
    pool.job("hang", jobs.hang)
    keys = pool.keys
    flag = f"{ns}:hung-pid"
    with Enqueuer(ns, fault_redis.url) as enq:
        hung = enq.enqueue("hang", {"flag": flag, "s": 60})
    pool.start()
    child = int(wait_for("the child to start the job", lambda: rc.get(flag), 20))

    t0 = time.monotonic()
    pool.stop(timeout=STOP_TIMEOUT)
    elapsed = time.monotonic() - t0

    def child_gone() -> bool:
        try:
            with open(f"/proc/{child}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True

    gone = child_gone()
    # Where the job is now: still in progress (for a reaper), or failed into retry; never lost.
    time.sleep(0.5)
    in_progress = [decode_job(m).id for m in rc.lrange(keys.jobs_in_progress("hang", pool.pool_id), 0, -1)]
    retry = [decode_job(m) for m in rc.zrange(keys.retry(), 0, -1)]
    where = "in progress" if hung.id in in_progress else f"retry ({retry[0].last_err})" if retry else "nowhere"
    fault_report(
        f"process pool: stop(timeout={STOP_TIMEOUT}) returned after {elapsed:.2f}s; hung child "
        f"{'killed' if gone else 'still running'}; the job is {where}"
    )
    if not gone:
        os.kill(child, 9)  # our own pool's child; do not leave it sleeping
    assert where != "nowhere"
    assert gone, "stop() returned and left the hung child process running"
    assert elapsed < STOP_TIMEOUT + SLACK, f"stop(timeout={STOP_TIMEOUT}) took {elapsed:.2f}s with a hung child"
