"""Client behaviour on a real Redis: listings, deletes and retries, history, schedules, controls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.work_compat.conftest import T0
from work_compat import (
    Client,
    Enqueuer,
    HistoryJob,
    Job,
    ManualClock,
    NotDeletedError,
    NotRetriedError,
    PeriodicSchedule,
    ScheduleNotFoundError,
    decode_job,
)

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"


def dead_job(name: str, n: int, died_at: int) -> Job:
    return Job(
        name=name, id=f"{n:024x}", enqueued_at=died_at - 10, args={"n": n}, fails=4, last_err="boom", failed_at=died_at
    )


def test_queues_list_known_names_with_count_and_latency(client: Client, enq: Enqueuer, clock: ManualClock) -> None:
    enq.enqueue("b", {})
    clock.advance(5)
    enq.enqueue("b", {})
    enq.enqueue("a", {})
    enq.enqueue_in("c", 60, {})
    clock.advance(10)
    assert [(q.job_name, q.count, q.latency) for q in client.queues()] == [("a", 1, 10), ("b", 2, 15), ("c", 0, 0)]
    assert client.queues()[0].to_json() == '{"job_name":"a","count":1,"latency":10}'


def test_a_malformed_oldest_job_does_not_break_the_queue_listing(client: Client, redis_client: redis.Redis) -> None:
    redis_client.sadd(client.keys.known_jobs(), "bad")
    redis_client.lpush(client.keys.jobs("bad"), b"{not json")
    assert [(q.job_name, q.count, q.latency) for q in client.queues()] == [("bad", 1, 0)]


def test_pages_hold_20_in_score_order_with_the_total(client: Client, redis_client: redis.Redis) -> None:
    for n in range(45):
        redis_client.zadd(client.keys.dead(), {dead_job("d", n, T0 + n).to_bytes(): T0 + n})
    first, total = client.dead_jobs(1)
    third, _ = client.dead_jobs(3)
    assert total == 45 and len(first) == 20 and len(third) == 5
    assert [d.died_at for d in first] == [T0 + n for n in range(20)]
    assert client.dead_jobs(0)[0] == first  # page 0 is page 1, as in Go
    assert client.dead_jobs(4) == ([], 45)
    with pytest.raises(ValueError):
        client.dead_jobs(-1)
    assert first[0].to_json().startswith('{"died_at":1800000000,"name":"d","id":')


def test_an_undecodable_member_is_listed_not_fatal(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd(client.keys.retry(), {b"garbage": T0, dead_job("r", 1, T0).to_bytes(): T0 + 1})
    items, total = client.retry_jobs()
    assert total == 2
    assert items[0].job.args == {"raw": "garbage"} and "not JSON" in items[0].job.last_err
    assert items[1].job.name == "r"


def test_delete_single_jobs_and_errors_when_nothing_matches(client: Client, redis_client: redis.Redis) -> None:
    a, b = dead_job("d", 1, T0), dead_job("d", 2, T0)
    redis_client.zadd(client.keys.dead(), {a.to_bytes(): T0, b.to_bytes(): T0})
    client.delete_dead_job(T0, a.id)
    assert [d.job.id for d in client.dead_jobs()[0]] == [b.id]
    with pytest.raises(NotDeletedError, match="nothing deleted"):
        client.delete_dead_job(T0, a.id)
    with pytest.raises(NotDeletedError):
        client.delete_dead_job(T0 + 1, b.id)  # right id, wrong score
    redis_client.zadd(client.keys.retry(), {a.to_bytes(): T0 + 7})
    client.delete_retry_job(T0 + 7, a.id)
    assert client.retry_jobs()[1] == 0


def test_delete_scheduled_releases_the_lock_the_job_names(
    client: Client, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    # Go's client recomputes the key from the args and misses a key-map lock; this one does not.
    sj = enq.enqueue_unique_in_by_key("k", 60, {"payload": 1}, {"customer": 9})
    assert sj is not None
    assert redis_client.exists(sj.job.unique_key)
    client.delete_scheduled_job(sj.run_at, sj.job.id)
    assert not redis_client.exists(sj.job.unique_key)
    assert enq.enqueue_unique_in_by_key("k", 60, {"payload": 2}, {"customer": 9}) is not None
    plain = enq.enqueue_unique_in("p", 60, {"a": 1})
    assert plain is not None
    client.delete_scheduled_job(plain.run_at, plain.job.id)
    assert not redis_client.exists(plain.job.unique_key)
    with pytest.raises(NotDeletedError):
        client.delete_scheduled_job(plain.run_at, plain.job.id)


def test_retry_dead_job_requeues_with_fresh_attempts(
    client: Client, enq: Enqueuer, redis_client: redis.Redis, clock: ManualClock
) -> None:
    enq.enqueue("known", {})  # puts the name in known_jobs
    redis_client.delete(client.keys.jobs("known"))
    job = dead_job("known", 1, T0)
    job.unique, job.unique_key, job.max_retries = True, "k", 3
    redis_client.zadd(client.keys.dead(), {job.to_bytes(): T0})
    clock.advance(100)
    client.retry_dead_job(T0, job.id)
    (raw,) = redis_client.lrange(client.keys.jobs("known"), 0, -1)
    back = decode_job(raw)
    assert (back.id, back.enqueued_at, back.fails, back.last_err, back.failed_at) == (job.id, T0 + 100, 0, "", 0)
    assert back.unique and back.unique_key == "k" and back.max_retries == 3 and back.args == {"n": 1}
    with pytest.raises(NotRetriedError, match="nothing retried"):
        client.retry_dead_job(T0, job.id)


def test_retry_of_an_unknown_name_goes_back_to_dead_five_seconds_ahead(
    client: Client, redis_client: redis.Redis
) -> None:
    job = dead_job("nobody_knows", 1, T0)
    redis_client.zadd(client.keys.dead(), {job.to_bytes(): T0})
    with pytest.raises(NotRetriedError):
        client.retry_dead_job(T0, job.id)
    (back,), total = client.dead_jobs()
    assert total == 1 and back.died_at == T0 + 5
    assert back.job.last_err == "unknown job when requeueing" and back.job.failed_at == T0


def test_retry_all_and_delete_all_dead(client: Client, enq: Enqueuer, redis_client: redis.Redis) -> None:
    enq.enqueue("a", {})
    redis_client.delete(client.keys.jobs("a"))
    for n in range(2500):
        redis_client.zadd(client.keys.dead(), {dead_job("a", n, T0 - 1).to_bytes(): T0 - 1})
    redis_client.zadd(client.keys.dead(), {dead_job("a", 9999, T0 + 50).to_bytes(): T0 + 50})  # not yet due
    assert client.retry_all_dead_jobs() == 2500
    assert redis_client.llen(client.keys.jobs("a")) == 2500
    assert client.dead_jobs()[1] == 1
    client.delete_all_dead_jobs()
    assert client.dead_jobs()[1] == 0


def _history_from_vector() -> list[dict[str, Any]]:
    vec = json.loads((VECTORS / "fork-keys.json").read_text())
    for key in vec["phase2_worker_pool"]["dumps"]["during_run"]["keys"]:
        if key["key"].endswith(":history"):
            return list(key["value"])
    raise AssertionError("no history in the vector")


def test_history_pages_newest_first_by_name_and_by_id(client: Client, redis_client: redis.Redis) -> None:
    # Given history entries exactly as the fork's worker writes them
    entries = _history_from_vector()
    for e in entries:
        h = HistoryJob.from_json(e["member"])
        pipe = redis_client.pipeline()
        pipe.zadd(client.keys.history(), {e["member"]: int(e["score"])})
        pipe.zadd(client.keys.history_for(h.job.name), {e["member"]: int(e["score"])})
        pipe.hset(client.keys.history_index(), h.job.id, e["member"])
        pipe.execute()
    items, total = client.history_jobs()
    assert total == len(entries) == client.history_count()
    assert [h.completed_at for h in items] == sorted((h.completed_at for h in items), reverse=True)
    assert {h.to_json() for h in items} == {e["member"] for e in entries}  # byte-identical round trip
    fails, n = client.history_jobs(1, "vec_fail")
    assert n == 2 and [h.status for h in fails] == ["dead", "retry"]
    latest = client.history_job_by_id(fails[0].job.id)
    assert latest is not None and latest.status == "dead"
    assert client.history_job_by_id("no-such-id") is None


def test_history_of_a_job_named_index_is_read_correctly(client: Client, redis_client: redis.Redis) -> None:
    # The fork writes a job named "index" into history:index, the id index; the zset came first here.
    h = HistoryJob(completed_at=T0, status="success", job=Job(name="index", id="abc", enqueued_at=T0, args={}))
    redis_client.zadd(client.keys.history(), {h.to_json(): T0})
    redis_client.zadd(client.keys.history_index(), {h.to_json(): T0})
    items, total = client.history_jobs(1, "index")
    assert total == 1 and items[0].job.id == "abc"
    found = client.history_job_by_id("abc")
    assert found is not None and found.job.name == "index"


def test_periodic_schedules_add_list_toggle_delete(
    client: Client, redis_client: redis.Redis, clock: ManualClock
) -> None:
    s = client.add_periodic_schedule(
        PeriodicSchedule(name="nightly", job_name="report", spec="0 0 2 * * *", args={"n": 2.0})
    )
    assert (s.created_at, s.updated_at) == (T0, T0)
    stored = redis_client.hget(client.keys.periodic_schedules(), "nightly")
    assert stored == (
        b'{"name":"nightly","job_name":"report","spec":"0 0 2 * * *","args":{"n":2},"enabled":true,'
        b'"created_at":1800000000,"updated_at":1800000000}'
    )
    client.add_periodic_schedule(PeriodicSchedule(name="empty", job_name="report", spec="@daily", args={}))
    assert b'"args"' not in redis_client.hget(client.keys.periodic_schedules(), "empty")  # omitempty
    clock.advance(60)
    client.disable_periodic_schedule("nightly")
    by_name = {p.name: p for p in client.periodic_schedules()}
    assert not by_name["nightly"].enabled and by_name["nightly"].updated_at == T0 + 60
    assert by_name["nightly"].created_at == T0
    client.enable_periodic_schedule("nightly")
    assert {p.name: p.enabled for p in client.periodic_schedules()} == {"empty": True, "nightly": True}
    with pytest.raises(ScheduleNotFoundError):
        client.enable_periodic_schedule("missing")
    client.delete_periodic_schedule("nightly")
    client.delete_periodic_schedule("missing")  # not an error, as in Go
    assert [p.name for p in client.periodic_schedules()] == ["empty"]
    redis_client.hset(client.keys.periodic_schedules(), "broken", "{nope")
    assert [p.name for p in client.periodic_schedules()] == ["empty"]
    with pytest.raises(ValueError):
        client.add_periodic_schedule(PeriodicSchedule(name="x", job_name="a:b", spec="@daily"))


def test_pause_unpause_and_max_concurrency(client: Client, redis_client: redis.Redis) -> None:
    client.pause("q")
    assert redis_client.get(client.keys.jobs_paused("q")) == b"1" and client.is_paused("q")
    client.unpause("q")
    assert not client.is_paused("q")
    client.set_max_concurrency("q", 3)
    assert redis_client.get(client.keys.jobs_max_concurrency("q")) == b"3" and client.max_concurrency("q") == 3
    with pytest.raises(ValueError):
        client.set_max_concurrency("q", -1)


def test_heartbeats_and_observations_parse_as_go_and_survive_bad_fields(
    client: Client, redis_client: redis.Redis
) -> None:
    redis_client.sadd(client.keys.worker_pools(), "p2", "p1")
    redis_client.hset(
        client.keys.heartbeat("p1"),
        mapping={
            "heartbeat_at": T0,
            "started_at": T0 - 60,
            "job_names": "b,a",
            "concurrency": 2,
            "worker_ids": "w2,w1",
            "host": "box",
            "pid": 42,
        },
    )
    redis_client.hset(client.keys.heartbeat("p2"), mapping={"heartbeat_at": "soon", "job_names": "x"})
    redis_client.hset(
        client.keys.worker_observation("w1"),
        mapping={"job_name": "a", "job_id": "j", "started_at": T0, "args": '{"k":1}'},
    )
    pools = client.worker_pool_heartbeats()
    assert [p.worker_pool_id for p in pools] == ["p1", "p2"]
    assert pools[0].to_json() == (
        '{"worker_pool_id":"p1","started_at":1799999940,"heartbeat_at":1800000000,"job_names":["a","b"],'
        '"concurrency":2,"host":"box","pid":42,"worker_ids":["w1","w2"]}'
    )
    assert pools[1].heartbeat_at == 0 and pools[1].worker_ids is None
    obs = client.worker_observations()
    assert [(o.worker_id, o.is_busy, o.job_name, o.args_json) for o in obs] == [
        ("w1", True, "a", '{"k":1}'),
        ("w2", False, "", ""),
    ]


def test_redis_info_summarises_the_server(client: Client, enq: Enqueuer) -> None:
    enq.enqueue("a", {})
    info = client.redis_info()
    assert info.version.count(".") == 2 and info.db_keys >= 2 and info.connected_clients >= 1
    assert json.loads(info.to_json())["version"] == info.version


def test_counts_of_the_sorted_sets(client: Client, enq: Enqueuer, redis_client: redis.Redis) -> None:
    enq.enqueue_in("a", 60, {})
    enq.enqueue_in("a", 90, {})
    redis_client.zadd(client.keys.dead(), {dead_job("d", 1, T0).to_bytes(): T0})
    assert (client.scheduled_count(), client.retry_count(), client.dead_count()) == (2, 0, 1)
    assert client.scheduled_count() == client.scheduled_jobs()[1]
