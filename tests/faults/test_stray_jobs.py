"""Scenario 4: a job no handler exists for, in a queue the pool fetches.

A pool fetches by queue key, so the stray job is one whose JSON name differs from its queue:
``{"name": "other"}`` LPUSHed into ``P jobs:known``. With ``Semantics.FORK`` it fails with
``stray job: no handler`` and is retried like any failed job (4 runs in all, then dead); with
``Semantics.ORIG`` it goes straight to dead. Either way the lock counters of the queue it was
fetched from come back to 0 and the ``known`` handler never sees it.

A retry is moved by a requeuer to the queue of its *name* (``P jobs:other``), which this pool does
not fetch; to make it run again here the test moves it back into ``P jobs:known`` each time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from tests.faults.conftest import leftovers, wait_for
from work_compat import Enqueuer, Job, Semantics, WorkerPool, decode_job, make_identifier
from work_compat.embedded import EmbeddedRedis
from work_compat.processor import STRAY_JOB_ERROR

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]


def _start(
    make_pool: Callable[..., WorkerPool], ns: str, url: str, semantics: Semantics
) -> tuple[WorkerPool, list[Job]]:
    seen: list[Job] = []
    pool = make_pool(2, ns, url, semantics=semantics)
    pool.job("known", seen.append)
    pool.start()
    return pool, seen


def _members(rc: redis.Redis, key: str) -> list[tuple[bytes, int]]:
    return [(m, int(s)) for m, s in rc.zrange(key, 0, -1, withscores=True)]


def test_fork_retries_a_stray_job_then_buries_it(
    fault_redis: EmbeddedRedis,
    rc: redis.Redis,
    make_pool: Callable[..., WorkerPool],
    ns: str,
    fault_report: Callable[[str], None],
) -> None:
    pool, seen = _start(make_pool, ns, fault_redis.url, Semantics.FORK)
    keys = pool.keys
    stray = Job("other", make_identifier(), int(time.time()), {"n": 1})
    rc.lpush(keys.jobs("known"), stray.to_bytes())

    runs = 0
    for run in range(1, 5):
        runs = run
        if run < 4:
            member, score = wait_for(
                f"run {run} to put the stray job in retry",
                lambda: _members(rc, keys.retry()),
                10,
                state=lambda: leftovers(rc, keys, ["known", "other"]),
            )[0]
            job = decode_job(member)
            assert (job.name, job.id, job.fails, job.last_err) == ("other", stray.id, run, STRAY_JOB_ERROR)
            assert score >= job.failed_at + 16, "default backoff: fails**4 + 15 + R*(fails+1), R >= 0"
            assert rc.zcard(keys.dead()) == 0
            # Where a requeuer would put it (P jobs:other) no pool here fetches; put it back in known.
            assert rc.zrem(keys.retry(), member) == 1
            rc.lpush(keys.jobs("known"), member)
    member, _ = wait_for("run 4 to bury the stray job", lambda: _members(rc, keys.dead()), 10)[0]
    job = decode_job(member)
    assert (job.name, job.id, job.fails, job.last_err) == ("other", stray.id, 4, STRAY_JOB_ERROR)
    assert rc.zcard(keys.retry()) == 0

    with Enqueuer(pool.namespace, fault_redis.url) as enq:
        valid = enq.enqueue("known", {"n": 2})
    wait_for("a valid job after the stray one", lambda: any(j.id == valid.id for j in seen), 10)
    assert pool.drain(timeout=10)
    assert [j.id for j in seen] == [valid.id], "the known handler ran the stray job"
    assert {k: v for k, v in leftovers(rc, keys, ["known", "other"]).items() if k != keys.dead()} == {}
    fault_report(f"FORK: stray job ran {runs} times (retry x3 with {STRAY_JOB_ERROR!r}), then dead with fails 4")


def test_orig_buries_a_stray_job_at_once(
    fault_redis: EmbeddedRedis, rc: redis.Redis, make_pool: Callable[..., WorkerPool], ns: str
) -> None:
    pool, seen = _start(make_pool, ns, fault_redis.url, Semantics.ORIG)
    keys = pool.keys
    stray = Job("other", make_identifier(), int(time.time()), {"n": 1})
    rc.lpush(keys.jobs("known"), stray.to_bytes())
    member, _ = wait_for("the stray job in dead", lambda: _members(rc, keys.dead()), 10)[0]
    job = decode_job(member)
    assert (job.name, job.id, job.fails, job.last_err) == ("other", stray.id, 1, STRAY_JOB_ERROR)
    assert pool.drain(timeout=10)
    assert rc.zcard(keys.retry()) == 0
    assert seen == []
    assert {k: v for k, v in leftovers(rc, keys, ["known", "other"]).items() if k != keys.dead()} == {}
