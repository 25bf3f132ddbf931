"""work_compat's run_times record: when, on which pool and for how many milliseconds each attempt
ran, which the fork's history entry (whose format stays Go's) does not hold."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable

import redis

from tests.work_compat.conftest import FAST, T0, wait_until
from work_compat import Enqueuer, HistoryJob, Job, JobOptions, WorkerPool
from work_compat.observer import run_time_member

MakePool = Callable[..., WorkerPool]


def test_each_finished_attempt_is_recorded_beside_an_unchanged_history_entry(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    def slow(job: Job) -> None:
        time.sleep(0.05)

    def boom(job: Job) -> None:
        raise RuntimeError("boom")

    ok = enq.enqueue("slow", {"n": 1})
    failed = enq.enqueue("boom", {})
    pool = make_pool(1).job("slow", slow).job_with_options("boom", JobOptions(max_fails=1), boom)
    # an old record is trimmed at the first write (history retention: 15 days)
    old = run_time_member("ancient", "gone-pool", 1, 1)
    redis_client.zadd(pool.keys.run_times(), {old: T0 - 16 * 86400})
    pool.start()
    assert pool.drain(10)
    rows = wait_until(
        lambda: (r := redis_client.zrange(pool.keys.run_times(), 0, -1, withscores=True)) and len(r) == 2 and r,
        what="two run_times records",
    )
    records = {json.loads(raw)["id"]: (json.loads(raw), score) for raw, score in rows}
    assert set(records) == {ok.id, failed.id}
    doc, score = records[ok.id]
    assert list(doc) == ["id", "pool", "started_ms", "runtime_ms"]
    assert doc["pool"] == pool.pool_id and score == T0
    assert 45 <= doc["runtime_ms"] < 5000
    assert abs(doc["started_ms"] / 1000 - time.time()) < 60
    # the history entries keep the fork's exact layout: nothing was added to them
    for raw in redis_client.zrange(pool.keys.history(), 0, -1):
        entry = HistoryJob.from_json(raw)
        assert raw.decode() == entry.to_json()
        assert not entry.job.extra


def test_nothing_is_recorded_without_history(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    enq.enqueue("quiet", {})
    pool = make_pool(1, settings=dataclasses.replace(FAST, history=False)).job("quiet", lambda job: None)
    pool.start()
    assert pool.drain(10)
    wait_until(lambda: not any(o for o in pool_observations(redis_client, pool)), what="the worker to go idle")
    assert redis_client.exists(pool.keys.run_times()) == 0


def pool_observations(r: redis.Redis, pool: WorkerPool) -> list[dict[bytes, bytes]]:
    return [r.hgetall(pool.keys.worker_observation(w)) for w in pool.worker_ids]


def test_the_member_puts_the_id_first_as_go_json() -> None:
    member = run_time_member('a"b/c', "p1", 1_700_000_000_123, 7)
    assert member == b'{"id":"a\\"b/c","pool":"p1","started_ms":1700000000123,"runtime_ms":7}'
