"""The requeuers next to keys of the wrong Redis type: a queue that is not a list refuses its due
jobs, which stay in their set (they were lost before: the script removed the member, then failed
to push it); other names' jobs move; a set that is not a sorted set is skipped. Each bad key is
logged once. Retrying a dead job onto such a queue fails and keeps the job in dead."""

from __future__ import annotations

import pytest
import redis

from tests.work_compat.conftest import T0
from work_compat import Job, Keys, ManualClock
from work_compat.requeuer import Requeuer
from work_compat.scripts import Scripts


def _requeuer(r: redis.Redis, keys: Keys, clock: ManualClock) -> Requeuer:
    return Requeuer(
        Scripts(r).requeue_due,
        keys,
        [keys.scheduled(), keys.retry()],
        lambda: ["good", "bad"],
        clock=clock,
        period=1,
        batch=100,
    )


def test_a_queue_of_the_wrong_type_keeps_its_jobs_in_the_set(
    redis_client: redis.Redis, namespace: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    k = Keys(namespace)
    # Given due retries of two names, and a string where one name's queue belongs
    good = Job("good", "g" * 24, T0 - 10, {"n": 1}).to_bytes()
    bad = Job("bad", "b" * 24, T0 - 10, {"n": 2}).to_bytes()
    redis_client.zadd(k.retry(), {good: T0 - 5, bad: T0 - 5})
    redis_client.set(k.jobs("bad"), "not a list")
    requeuer = _requeuer(redis_client, k, clock)
    # When the requeuer runs, twice
    assert requeuer.run_once() == 1
    assert requeuer.run_once() == 0
    # Then the good job moved, the other stayed in retry, and the bad queue was logged once
    assert redis_client.llen(k.jobs("good")) == 1
    assert redis_client.zrange(k.retry(), 0, -1) == [bad]
    assert caplog.text.count(repr(k.jobs("bad"))) == 1
    # And once the key is fixed, it moves
    redis_client.delete(k.jobs("bad"))
    assert requeuer.run_once() == 1
    assert redis_client.zcard(k.retry()) == 0


def test_a_set_of_the_wrong_type_is_skipped(
    redis_client: redis.Redis, namespace: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    k = Keys(namespace)
    redis_client.set(k.scheduled(), "not a sorted set")
    redis_client.zadd(k.retry(), {Job("good", "g" * 24, T0 - 10, {}).to_bytes(): T0 - 5})
    requeuer = _requeuer(redis_client, k, clock)
    assert requeuer.run_once() == 1  # the retry set still moves
    assert requeuer.run_once() == 0
    assert caplog.text.count(repr(k.scheduled())) == 1


def test_retrying_a_dead_job_onto_a_queue_of_the_wrong_type_fails_and_keeps_it(
    redis_client: redis.Redis, namespace: str, clock: ManualClock
) -> None:
    from work_compat import Client

    k = Keys(namespace)
    job = Job("bad", "b" * 24, T0 - 10, {"n": 2}, fails=4, last_err="boom", failed_at=T0 - 10)
    redis_client.zadd(k.dead(), {job.to_bytes(): T0 - 10})
    redis_client.sadd(k.known_jobs(), "bad")
    redis_client.set(k.jobs("bad"), "not a list")
    with Client(namespace, redis_client, clock=clock) as client:
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            client.retry_dead_job(T0 - 10, job.id)
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            client.retry_all_dead_jobs()
    assert redis_client.zrange(k.dead(), 0, -1) == [job.to_bytes()]  # still there: not lost
