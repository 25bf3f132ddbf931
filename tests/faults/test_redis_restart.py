"""Scenario 2: Redis restarted mid-run, with append-only persistence.

A pool works 1,000 jobs on a redis-server run with ``--appendonly yes --appendfsync always``. A
third of the way in the server is stopped (SIGTERM: it finishes its AOF), left down for a moment,
and started again on the same port and directory, so it loads the AOF. The pool reconnects by
itself and finishes: every job runs at least once, its heartbeat is back, and once drained
nothing is in progress and the lock counters are 0.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from tests.faults.conftest import leftovers, wait_for
from tests.faults.proxy import LossyProxy
from tests.work_compat.procjobs import count_runs
from work_compat import Enqueuer, Job, WorkerPool
from work_compat.embedded import EmbeddedRedis
from work_compat.scripts import source

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

N = 1000


@pytest.fixture
def aof_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis("--appendonly", "yes", "--appendfsync", "always").start()
    try:
        yield server
    finally:
        server.cleanup()


def test_pool_survives_a_redis_restart_with_aof(
    aof_redis: EmbeddedRedis,
    make_pool: Callable[..., WorkerPool],
    ns: str,
    fault_report: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="work_compat")
    runs: Counter[int] = Counter()
    lock = threading.Lock()

    def handler(job: Job) -> None:
        time.sleep(0.01)
        with lock:
            runs[job.arg_int64("i")] += 1

    with Enqueuer(ns, aof_redis.url) as enq:
        enq.enqueue_many(("work", {"i": i}) for i in range(N))
    pool = make_pool(4, ns, aof_redis.url)
    pool.job("work", handler)
    keys = pool.keys
    pool.start()

    wait_for("a third of the jobs", lambda: len(runs) >= N // 3, 30)
    with aof_redis.client() as marker:
        marker.set(f"{ns}:marker", "written before the restart")
    before = len(runs)
    aof_redis.stop()
    time.sleep(1.5)  # down long enough for fetches, completions and a heartbeat to fail
    assert len(runs) < N, "every job ran before the restart; the scenario did not happen mid-run"
    aof_redis.start()
    restarted_at = int(time.time())
    rc = aof_redis.client()
    try:
        assert rc.get(f"{ns}:marker") == b"written before the restart", "the AOF was not loaded"
        assert any(aof_redis.dir.glob("appendonlydir/*.aof")) or any(aof_redis.dir.glob("*.aof"))
        wait_for(
            f"all {N} jobs to run after the restart",
            lambda: len(runs) == N,
            20,
            interval=0.1,
            state=lambda: (len(runs), leftovers(rc, keys, ["work"])),
        )
        assert pool.drain(timeout=20), "the pool did not drain"
        wait_for(
            "the pool's heartbeat to be back",
            lambda: (
                int(rc.hget(keys.heartbeat(pool.pool_id), "heartbeat_at") or 0) >= restarted_at
                and rc.sismember(keys.worker_pools(), pool.pool_id)
            ),
            10,
        )
        stuck = leftovers(rc, keys, ["work"])
        assert stuck == {}, f"not drained after the restart: {stuck}; in progress: " + repr(
            rc.lrange(keys.jobs_in_progress("work", pool.pool_id), 0, -1)[:5]
        )
        pool.stop(timeout=10)
        assert rc.scard(keys.worker_pools()) == 0

        # The operator reads the outage once, with its end, not one line per thread and retry.
        logged = [r for r in caplog.records if r.name.startswith("work_compat") and r.levelno >= logging.WARNING]
        down = [r.getMessage() for r in logged if "is unreachable" in r.getMessage()]
        back = [r.getMessage() for r in caplog.records if "is reachable again" in r.getMessage()]
        assert down and len(down) == len(back), (down, back)
        assert aof_redis.url.split("//")[1].split("/")[0] in down[0], down[0]
        assert len(logged) <= 3 * len(down), [r.getMessage() for r in logged]
        assert set(runs) == set(range(N))
        twice = sum(1 for v in runs.values() if v > 1)
        fault_report(
            f"restart after {before} of {N} jobs, Redis down 1.5 s: all {N} ran, {twice} ran twice, "
            f"nothing in progress after drain, lock counters 0"
        )
    finally:
        rc.close()


def test_lost_fetch_reply_does_not_strand_jobs(
    fault_redis: EmbeddedRedis,
    make_pool: Callable[..., WorkerPool],
    ns: str,
    fault_report: Callable[[str], None],
) -> None:
    """The restart's rare case, forced: a fetch runs in Redis (jobs moved to this pool's
    in-progress list, lock counters up) but its reply is lost with the connection. The pool lives
    on and keeps beating, so no reaper will ever take those jobs back: the pool itself must."""
    proxy = LossyProxy(fault_redis.port)
    runs: Counter[int] = Counter()
    lock = threading.Lock()

    def handler(job: Job) -> None:
        with lock:
            runs[job.arg_int64("i")] += 1

    n = 40
    pool = make_pool(4, ns, proxy.url)
    pool.job("work", handler)
    keys = pool.keys
    rc = fault_redis.client()
    try:
        with Enqueuer(ns, fault_redis.url) as enq:
            enq.enqueue_many(("work", {"i": i}) for i in range(n))
        sha = rc.script_load(source("work_step"))  # so the marked EVALSHA runs (no NOSCRIPT round)
        assert sha == hashlib.sha1(source("work_step").encode()).hexdigest()
        proxy.lose_reply_to(sha.encode())
        pool.start()
        assert proxy.lost.wait(10), "no fetch went through the proxy"
        wait_for(
            f"all {n} jobs to run after a lost fetch reply",
            lambda: len(runs) == n,
            10,
            interval=0.1,
            state=lambda: (
                f"{len(runs)} ran",
                leftovers(rc, keys, ["work"]),
                rc.lrange(keys.jobs_in_progress("work", pool.pool_id), 0, -1),
            ),
        )
        assert pool.drain(timeout=10)
        assert leftovers(rc, keys, ["work"]) == {}
        fault_report(f"lost fetch reply: all {n} ran, nothing stranded in progress")
    finally:
        pool.stop(timeout=5)
        proxy.close()
        rc.close()


def test_lost_fetch_reply_in_a_process_pool_child_does_not_strand_jobs(
    fault_redis: EmbeddedRedis,
    make_pool: Callable[..., WorkerPool],
    ns: str,
    fault_report: Callable[[str], None],
) -> None:
    """The same in a process pool: a child's fetch runs in Redis but its reply is lost. The jobs sit
    in the pool's in-progress list, shared with the other children; the child asks the parent,
    which puts back what no live child holds."""
    proxy = LossyProxy(fault_redis.port)
    n = 40
    key = f"{ns}:runs"
    pool = make_pool(2, ns, proxy.url, processes=True)
    pool.job("work", count_runs)
    keys = pool.keys
    rc = fault_redis.client()
    try:
        with Enqueuer(ns, fault_redis.url) as enq:
            enq.enqueue_many(("work", {"i": i, "url": fault_redis.url, "key": key}) for i in range(n))
        sha = rc.script_load(source("work_step"))
        proxy.lose_reply_to(sha.encode())
        pool.start()
        assert proxy.lost.wait(30), "no fetch went through the proxy"
        wait_for(
            f"all {n} jobs to run after a child's lost fetch reply",
            lambda: rc.hlen(key) == n,
            15,
            interval=0.1,
            state=lambda: (f"{rc.hlen(key)} ran", leftovers(rc, keys, ["work"])),
        )
        assert pool.drain(timeout=15)
        assert leftovers(rc, keys, ["work"]) == {}
        runs = {int(i): int(c) for i, c in rc.hgetall(key).items()}
        assert runs == dict.fromkeys(range(n), 1)
        fault_report(f"process pool, lost fetch reply in a child: all {n} ran once, nothing stranded in progress")
    finally:
        pool.stop(timeout=5)
        rc.close()
        proxy.close()
