"""Enqueuer behaviour on a real Redis: what lands where, known_jobs, uniqueness, batches, bad input."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis

from tests.redis_server import RedisServer
from tests.work_compat.conftest import T0
from work_compat import (
    BackoffStrategy,
    EncodeError,
    EnqueueOptions,
    Enqueuer,
    InvalidJobNameError,
    ManualClock,
    RetryOptions,
    decode_job,
)


def sadd_calls(client: redis.Redis) -> int:
    """How many SADDs the server has run since the last CONFIG RESETSTAT."""
    return int(client.info("commandstats").get("cmdstat_sadd", {}).get("calls", 0))


def test_enqueue_pushes_on_the_left_and_records_the_name(enq: Enqueuer, redis_client: redis.Redis) -> None:
    first = enq.enqueue("send_email", {"to": "a@example.com"})
    second = enq.enqueue("send_email", {"to": "b@example.com"})
    queued = redis_client.lrange(enq.keys.jobs("send_email"), 0, -1)
    assert [decode_job(b).id for b in queued] == [second.id, first.id]  # oldest at the right (RPOP side)
    assert queued[-1] == first.to_bytes()
    assert redis_client.smembers(enq.keys.known_jobs()) == {b"send_email"}
    assert first.enqueued_at == T0 and first.args == {"to": "a@example.com"}


def test_known_jobs_is_added_once_per_300_seconds_per_enqueuer(
    enq: Enqueuer, clock: ManualClock, redis_client: redis.Redis
) -> None:
    redis_client.config_resetstat()
    for _ in range(5):
        enq.enqueue("a")
    enq.enqueue_in("a", 10)
    enq.enqueue_unique("a", {"x": 1})
    enq.enqueue_many([("a", {})])
    assert sadd_calls(redis_client) == 1
    clock.advance(299)
    enq.enqueue("a")
    assert sadd_calls(redis_client) == 1
    clock.advance(1)
    enq.enqueue("a")
    assert sadd_calls(redis_client) == 2


def test_enqueue_in_scores_run_at_and_keeps_t_as_enqueue_time(enq: Enqueuer, redis_client: redis.Redis) -> None:
    sj = enq.enqueue_in("later", 300, {"a": 1})
    assert sj.run_at == T0 + 300 and sj.job.enqueued_at == T0
    assert redis_client.zrange(enq.keys.scheduled(), 0, -1, withscores=True) == [(sj.job.to_bytes(), float(T0 + 300))]
    # zero or negative delays are allowed: the job is due at once, as in Go
    past = enq.enqueue_in("later", -5)
    assert past.run_at == T0 - 5


def test_unique_duplicates_are_refused_and_renew_the_lock(enq: Enqueuer, redis_client: redis.Redis) -> None:
    job = enq.enqueue_unique("u", {"b": "cool", "a": 1})
    assert job is not None
    key = enq.keys.prefix + 'unique:u:{"a":1,"b":"cool"}\n'
    assert job.unique and job.unique_key == key
    assert redis_client.get(key) == b"1"
    redis_client.expire(key, 100)
    assert enq.enqueue_unique("u", {"a": 1, "b": "cool"}) is None
    assert redis_client.ttl(key) > 86000  # the duplicate reset the TTL to a full day
    assert redis_client.llen(enq.keys.jobs("u")) == 1
    # different args, nil and {} are three other keys
    assert enq.enqueue_unique("u", {"a": 2}) is not None
    assert enq.enqueue_unique("u", None) is not None
    assert enq.enqueue_unique("u", {}) is not None
    assert redis_client.exists(enq.keys.prefix + "unique:u:", enq.keys.prefix + "unique:u:{}\n") == 2


def test_unique_by_key_duplicate_stores_the_latest_submission(enq: Enqueuer, redis_client: redis.Redis) -> None:
    first = enq.enqueue_unique_by_key("k", {"payload": "p1"}, {"k": "key1"})
    assert first is not None
    assert enq.enqueue_unique_by_key("k", {"payload": "p2"}, {"k": "key1"}) is None
    held = decode_job(redis_client.get(first.unique_key))
    assert held.args == {"payload": "p2"} and held.id != first.id
    assert [decode_job(b).id for b in redis_client.lrange(enq.keys.jobs("k"), 0, -1)] == [first.id]


def test_unique_in_by_key_schedules_and_collides(enq: Enqueuer, redis_client: redis.Redis) -> None:
    sj = enq.enqueue_unique_in_by_key("k", 60, {"p": 1}, {"n": 7, "k": "x"})
    assert sj is not None and sj.run_at == T0 + 60
    assert sj.job.unique_key.endswith('unique:k:{"k":"x","n":7}\n')
    assert enq.enqueue_unique_in_by_key("k", 60, {"p": 2}, {"k": "x", "n": 7}) is None
    assert redis_client.zcard(enq.keys.scheduled()) == 1


def test_enqueue_with_options_writes_the_forks_fields(enq: Enqueuer, redis_client: redis.Redis) -> None:
    job = enq.enqueue_with_options("o", {"n": 1}, EnqueueOptions(retry=RetryOptions(5, BackoffStrategy.LINEAR, 3)))
    assert job is not None
    assert job.to_json().endswith(',"max_retries":5,"backoff_base":3,"backoff_type":1}')
    defaults = enq.enqueue_with_options("o", {"n": 2}, EnqueueOptions(retry=RetryOptions()))
    assert defaults is not None and defaults.to_json().endswith(',"backoff_type":0}')
    plain = enq.enqueue_with_options("o", None, EnqueueOptions())
    assert plain is not None and plain.to_json().endswith('"args":null}')
    assert redis_client.llen(enq.keys.jobs("o")) == 3


def test_enqueue_with_options_delay_truncates_to_seconds(enq: Enqueuer, redis_client: redis.Redis) -> None:
    import datetime as dt

    enq.enqueue_with_options("d", {}, EnqueueOptions(delay=dt.timedelta(seconds=90.9)))
    enq.enqueue_with_options("d", {}, EnqueueOptions(delay=0.5))  # under a second: scheduled, due now
    scores = sorted(s for _, s in redis_client.zrange(enq.keys.scheduled(), 0, -1, withscores=True))
    assert scores == [T0, T0 + 90]
    u = enq.enqueue_with_options("d", {"x": 1}, EnqueueOptions(delay=30, unique=True, unique_key={"uk": "x1"}))
    assert u is not None and u.unique_key.endswith('unique:d:{"uk":"x1"}\n')
    assert (
        enq.enqueue_with_options("d", {"x": 2}, EnqueueOptions(delay=30, unique=True, unique_key={"uk": "x1"})) is None
    )


def test_enqueue_many_is_one_ordered_batch(enq: Enqueuer, redis_client: redis.Redis) -> None:
    jobs = enq.enqueue_many([("a", {"i": i}) for i in range(7000)] + [("b", None), ("a", {"i": 7000})])
    assert len(jobs) == 7002
    oldest_first = [decode_job(b).args for b in reversed(redis_client.lrange(enq.keys.jobs("a"), 0, -1))]
    assert oldest_first == [{"i": i} for i in range(7001)]
    assert redis_client.llen(enq.keys.jobs("b")) == 1
    assert redis_client.smembers(enq.keys.known_jobs()) == {b"a", b"b"}
    assert enq.enqueue_many([]) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ({"tags": {"a", "b"}}, "tags"),
        ({"blob": b"\x00"}, "blob"),
        ({"ratio": float("nan")}, "ratio"),
        ({"when": object()}, "when"),
    ],
)
def test_args_json_cannot_carry_are_refused_before_anything_is_written(
    enq: Enqueuer, redis_client: redis.Redis, args: dict[str, Any], named: str
) -> None:
    for call in (
        lambda: enq.enqueue("x", args),
        lambda: enq.enqueue_in("x", 5, args),
        lambda: enq.enqueue_unique("x", args),
        lambda: enq.enqueue_unique_by_key("x", {"ok": 1}, args),
        lambda: enq.enqueue_with_options("x", args, EnqueueOptions(unique=True)),
        lambda: enq.enqueue_many([("x", {"fine": 1}), ("x", args)]),
    ):
        with pytest.raises(EncodeError) as err:
            call()
        assert named in str(err.value)
    assert redis_client.keys("*") == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [("", "empty"), ("a:lock", "':'"), ("a,b", "','"), ("index", "history:index"), ("tab\tname", "control")],
)
def test_names_that_break_the_key_layout_are_refused(
    enq: Enqueuer, redis_client: redis.Redis, name: str, reason: str
) -> None:
    with pytest.raises(InvalidJobNameError) as err:
        enq.enqueue(name, {})
    assert reason in str(err.value)
    with pytest.raises(InvalidJobNameError):
        enq.enqueue_many([("ok", {}), (name, {})])
    assert redis_client.keys("*") == []


def test_args_must_be_a_mapping(enq: Enqueuer) -> None:
    with pytest.raises(EncodeError) as err:
        enq.enqueue("x", [1, 2])  # type: ignore[arg-type]
    assert "mapping" in str(err.value)


def test_a_failed_unique_enqueue_leaves_no_lock_behind(enq: Enqueuer, redis_client: redis.Redis) -> None:
    # Given a queue key that holds the wrong type, so the push inside the script fails
    redis_client.set(enq.keys.jobs("u"), "not a list")
    with pytest.raises(redis.ResponseError):
        enq.enqueue_unique("u", {"a": 1})
    assert redis_client.keys(enq.keys.prefix + "unique:*") == []
    # When the queue is repaired, the same enqueue goes through at once
    redis_client.delete(enq.keys.jobs("u"))
    assert enq.enqueue_unique("u", {"a": 1}) is not None


def test_enqueuers_are_safe_to_share_between_threads(enq: Enqueuer, redis_client: redis.Redis) -> None:
    def produce(t: int) -> None:
        for i in range(200):
            enq.enqueue("threaded", {"t": t, "i": i})

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert redis_client.llen(enq.keys.jobs("threaded")) == 800


def test_namespace_prefix_rules(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    for ns, key in (("", "jobs:a"), ("work", "work:jobs:a"), ("work:", "work:jobs:a"), ("a::", "a::jobs:a")):
        redis_client.flushdb()
        Enqueuer(ns, redis_server.url).enqueue("a")
        assert redis_client.exists(key), ns


def test_plain_enqueues_of_a_known_name_go_on_a_held_connection_and_survive_its_loss(
    redis_server: RedisServer, redis_client: redis.Redis, namespace: str
) -> None:
    # Once a name is in known_jobs, enqueue() sends its LPUSH on a connection held for it (skipping
    # redis-py's per-command work); if Redis dropped that connection, the job is sent the usual way.
    with Enqueuer(namespace, redis_server.url) as enq:
        assert enq._sender is not None
        first = enq.enqueue("mail", {"n": 1})  # LPUSH + SADD through redis-py
        second = enq.enqueue("mail", {"n": 2})  # direct
        assert enq._sender.held == 1, "the direct LPUSH keeps its connection for the next one"
        redis_client.client_kill_filter(_type="normal", skipme=True)  # the held connection too
        third = enq.enqueue("mail", {"n": 3})
        fourth = enq.enqueue("mail", {"n": 4})
    queued = list(reversed(redis_client.lrange(f"{namespace}:jobs:mail", 0, -1)))
    assert queued == [j.to_bytes() for j in (first, second, third, fourth)]
    assert redis_client.smembers(f"{namespace}:known_jobs") == {b"mail"}


def test_enqueuers_made_and_dropped_on_a_shared_client_do_not_starve_its_pool(
    redis_server: RedisServer, redis_client: redis.Redis, namespace: str
) -> None:
    # An Enqueuer per request on one shared client: each holds a connection for its LPUSHes, and
    # gives it back when dropped (or closed), so the pool never runs out.
    import gc

    shared = redis.Redis.from_url(redis_server.url + "?max_connections=8")
    try:
        for i in range(40):
            enq = Enqueuer(namespace, shared)
            enq.enqueue("mail", {"i": i})
            enq.enqueue("mail", {"i": i})  # direct once the name is known
            if i % 2:
                enq.close()
            del enq
            gc.collect()
        assert redis_client.llen(f"{namespace}:jobs:mail") == 80
        assert shared.ping()
    finally:
        shared.close()
