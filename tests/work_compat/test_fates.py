"""What becomes of a failed job, on a real Redis: retry, dead or discard under the fork's and the
original's rules, retry delays, handler-chosen fates (RetryAt, DeadNow, PutBack, Discard) and the
fork's history of attempts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import redis

from tests.work_compat.conftest import FAST, T0, wait_until
from work_compat import (
    BackoffStrategy,
    Client,
    DeadNow,
    Discard,
    EnqueueOptions,
    Enqueuer,
    HistoryJob,
    Job,
    JobOptions,
    ManualClock,
    PoolSettings,
    PutBack,
    RetryAt,
    RetryOptions,
    Semantics,
    WorkerPool,
    decode_job,
)

MakePool = Callable[..., WorkerPool]

BOTH = pytest.mark.parametrize("semantics", [Semantics.FORK, Semantics.ORIG], ids=["fork", "orig"])


def settings(semantics: Semantics = Semantics.FORK, **changes: Any) -> PoolSettings:
    return replace(FAST, semantics=semantics, **changes)


def fail(job: Job) -> None:
    raise ValueError("boom")


def zset(r: redis.Redis, key: str) -> list[tuple[bytes, float]]:
    return r.zrange(key, 0, -1, withscores=True)


def history(r: redis.Redis, key: str) -> list[HistoryJob]:
    return [HistoryJob.from_json(m) for m in r.zrange(key, 0, -1)]


def failed(job: Job, fails: int, err: str, at: int, **changes: Any) -> bytes:
    """The Go-JSON member Go writes for ``job`` after its ``fails``-th failure at ``at``."""
    data = {
        "name": job.name,
        "id": job.id,
        "enqueued_at": job.enqueued_at,
        "args": job.args,
        "unique": job.unique,
        "unique_key": job.unique_key,
        "max_retries": job.max_retries,
        "backoff_base": job.backoff_base,
        "backoff_type": job.backoff_type,
    }
    data.update(fails=fails, last_err=err, failed_at=at, **changes)
    return Job(**data).to_bytes()


def run_due_retry(pool: WorkerPool, clock: ManualClock, r: redis.Redis) -> None:
    """Move the clock to the retry's score, let the requeuer move it, and run it."""
    [(member, score)] = zset(r, pool.keys.retry())
    clock.set(int(score))
    # (the job may run and fail into retry again before a poll sees the set empty)
    wait_until(lambda: r.zscore(pool.keys.retry(), member) is None, what="the requeuer to move the due retry")
    assert pool.drain(10)


# -- the retry/dead rules ---------------------------------------------------------------------------


@BOTH
def test_by_default_a_failing_job_is_retried_three_times_then_dead(
    make_pool: MakePool, enq: Enqueuer, clock: ManualClock, redis_client: redis.Redis, semantics: Semantics
) -> None:
    # Given a job whose handler always fails
    job = enq.enqueue("flaky", {"n": 1})
    pool = make_pool(1, settings=settings(semantics)).job("flaky", fail)
    pool.start()
    assert pool.drain(10)
    # When it fails three times, each after its retry falls due
    moved_at = job.enqueued_at
    for f in (1, 2, 3):
        [(member, score)] = zset(redis_client, pool.keys.retry())
        # Then each failure is a Go-JSON retry member, scored within the default backoff range
        # (from the second on, "t" is when the requeuer moved it back to its queue, as in Go)
        assert member == failed(job, f, "ValueError: boom", clock.now(), enqueued_at=moved_at)
        assert clock.now() + f**4 + 15 <= score <= clock.now() + f**4 + 15 + 29 * (f + 1)
        assert redis_client.zcard(pool.keys.dead()) == 0
        run_due_retry(pool, clock, redis_client)
        moved_at = clock.now()
    # And the fourth failure is dead, scored at its failure time
    assert zset(redis_client, pool.keys.retry()) == []
    dead = failed(job, 4, "ValueError: boom", clock.now(), enqueued_at=moved_at)
    assert zset(redis_client, pool.keys.dead()) == [(dead, clock.now())]


@BOTH
def test_max_fails_1_is_dead_at_the_first_failure(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, semantics: Semantics
) -> None:
    job = enq.enqueue("once", {})
    pool = make_pool(1, settings=settings(semantics)).job_with_options("once", JobOptions(max_fails=1), fail)
    pool.start()
    assert pool.drain(10)
    assert zset(redis_client, pool.keys.retry()) == []
    assert zset(redis_client, pool.keys.dead()) == [(failed(job, 1, "ValueError: boom", T0), T0)]


@BOTH
def test_skip_dead_discards_instead_of_burying(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, semantics: Semantics
) -> None:
    enq.enqueue("fleeting", {})
    opts = JobOptions(max_fails=1, skip_dead=True)
    pool = make_pool(1, settings=settings(semantics)).job_with_options("fleeting", opts, fail)
    pool.start()
    assert pool.drain(10)
    assert redis_client.zcard(pool.keys.retry()) == 0 and redis_client.zcard(pool.keys.dead()) == 0
    assert [h.status for h in history(redis_client, pool.keys.history())] == ["dead"]  # the fork writes "dead"


@BOTH
def test_max_retries_in_the_job_wins_under_the_fork_only(
    make_pool: MakePool, redis_client: redis.Redis, client: Client, semantics: Semantics
) -> None:
    # Given a job whose JSON says max_retries 0 (a Go fork producer can write that)
    job = Job("strict", "00000000000000000000abcd", T0, {}, max_retries=0)
    redis_client.lpush(client.keys.jobs("strict"), job.to_bytes())
    pool = make_pool(1, settings=settings(semantics)).job("strict", fail)
    pool.start()
    assert pool.drain(10)
    member = failed(job, 1, "ValueError: boom", T0)
    if semantics is Semantics.FORK:  # 0 total runs allowed: dead at the first failure
        assert zset(redis_client, client.keys.dead()) == [(member, T0)]
    else:  # the original ignores the field: MaxFails 4
        assert [m for m, _ in zset(redis_client, client.keys.retry())] == [member]


def test_the_forks_max_retries_counts_total_runs(
    make_pool: MakePool, enq: Enqueuer, clock: ManualClock, redis_client: redis.Redis
) -> None:
    job = enq.enqueue_with_options("twice", {}, EnqueueOptions(retry=RetryOptions(max_retries=2)))
    assert job is not None
    pool = make_pool(1).job("twice", fail)  # the handler's own MaxFails (4) does not apply
    pool.start()
    assert pool.drain(10)
    assert redis_client.zcard(pool.keys.retry()) == 1
    run_due_retry(pool, clock, redis_client)
    dead = failed(job, 2, "ValueError: boom", clock.now(), enqueued_at=clock.now())  # t: when it was requeued
    assert zset(redis_client, pool.keys.dead()) == [(dead, clock.now())]


@pytest.mark.parametrize(
    ("strategy", "delays"),
    [(BackoffStrategy.LINEAR, [7, 14, 21]), (BackoffStrategy.FIXED, [7, 7, 7])],
    ids=["linear", "fixed"],
)
def test_the_forks_per_job_backoff_gives_exact_retry_scores(
    make_pool: MakePool,
    enq: Enqueuer,
    clock: ManualClock,
    redis_client: redis.Redis,
    strategy: BackoffStrategy,
    delays: list[int],
) -> None:
    # Given a job with the fork's backoff settings, and a handler backoff it overrides
    job = enq.enqueue_with_options(
        "paced", {}, EnqueueOptions(retry=RetryOptions(max_retries=5, strategy=strategy, base_delay=7))
    )
    assert job is not None
    opts = JobOptions(backoff=lambda j: 1000)
    pool = make_pool(1).job_with_options("paced", opts, fail)
    pool.start()
    assert pool.drain(10)
    for f, delay in enumerate(delays, start=1):
        # Then each retry is scored at failed_at + the strategy's delay, exactly
        [(member, score)] = zset(redis_client, pool.keys.retry())
        assert decode_job(member).failed_at == clock.now()
        assert decode_job(member).fails == f
        assert score == clock.now() + delay
        if f < len(delays):
            run_due_retry(pool, clock, redis_client)


def test_a_backoff_type_without_base_uses_60_seconds(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    enq.enqueue_with_options("paced", {}, EnqueueOptions(retry=RetryOptions(strategy=BackoffStrategy.FIXED)))
    pool = make_pool(1).job("paced", fail)
    pool.start()
    assert pool.drain(10)
    assert [s for _, s in zset(redis_client, pool.keys.retry())] == [T0 + 60]


def test_the_original_ignores_the_jobs_backoff_type(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    enq.enqueue_with_options(
        "paced", {}, EnqueueOptions(retry=RetryOptions(strategy=BackoffStrategy.FIXED, base_delay=7))
    )
    pool = make_pool(1, settings=settings(Semantics.ORIG)).job("paced", fail)
    pool.start()
    assert pool.drain(10)
    [(_, score)] = zset(redis_client, pool.keys.retry())
    assert T0 + 16 <= score <= T0 + 74  # the default formula for the first failure


def test_the_default_backoff_spreads_over_its_range(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    for n in range(30):
        enq.enqueue("spread", {"n": n})
    pool = make_pool(4).job("spread", fail)
    pool.start()
    assert pool.drain(10)
    delays = [int(s) - T0 for _, s in zset(redis_client, pool.keys.retry())]
    # f = 1: 1 + 15 + R * 2 with R uniform in 0..29
    assert len(delays) == 30 and all(16 <= d <= 74 and d % 2 == 0 for d in delays)
    assert len(set(delays)) > 5


@BOTH
def test_a_custom_backoff_function_sets_the_delay(
    make_pool: MakePool, enq: Enqueuer, clock: ManualClock, redis_client: redis.Redis, semantics: Semantics
) -> None:
    enq.enqueue("custom", {})
    opts = JobOptions(backoff=lambda job: 100 * job.fails)
    pool = make_pool(1, settings=settings(semantics)).job_with_options("custom", opts, fail)
    pool.start()
    assert pool.drain(10)
    assert [s for _, s in zset(redis_client, pool.keys.retry())] == [T0 + 100]
    run_due_retry(pool, clock, redis_client)
    assert [s for _, s in zset(redis_client, pool.keys.retry())] == [clock.now() + 200]


@BOTH
def test_a_stray_job_is_retried_by_the_fork_and_buried_by_the_original(
    make_pool: MakePool, redis_client: redis.Redis, client: Client, semantics: Semantics
) -> None:
    # Given a job of a name no pool handles, in a queue this pool fetches
    stray = Job("ghost", "0000000000000000000000aa", T0 - 5, {"x": 1})
    redis_client.lpush(client.keys.jobs("real"), stray.to_bytes())
    pool = make_pool(1, settings=settings(semantics)).job("real", lambda job: None)
    pool.start()
    assert pool.drain(10)
    member = failed(stray, 1, "stray job: no handler", T0)
    if semantics is Semantics.FORK:
        [(got, score)] = zset(redis_client, client.keys.retry())
        assert got == member and T0 + 16 <= score <= T0 + 74
    else:
        assert zset(redis_client, client.keys.dead()) == [(member, T0)]
    # the lock counters are those of the queue the job came from
    assert redis_client.get(client.keys.jobs_lock("real")) == b"0"
    assert redis_client.hget(client.keys.jobs_lock_info("real"), pool.pool_id) == b"0"


def test_err_is_the_exception_type_and_message(make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis) -> None:
    def bare(job: Job) -> None:
        raise KeyError

    enq.enqueue("msg", {})
    enq.enqueue("bare", {})
    pool = make_pool(1).job("msg", lambda job: int("x")).job("bare", bare)
    pool.start()
    assert pool.drain(10)
    errs = sorted(decode_job(m).last_err for m, _ in zset(redis_client, pool.keys.retry()))
    assert errs == ["KeyError", "ValueError: invalid literal for int() with base 10: 'x'"]


# -- fates a handler chooses ---------------------------------------------------------------------------


def test_retry_at_schedules_the_retry_at_that_time_with_new_args(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    def later(job: Job) -> None:
        raise RetryAt(T0 + 3600, new_args={"cursor": 42}, reason="rate limited")

    job = enq.enqueue("page", {"cursor": 0})
    pool = make_pool(1).job("page", later)
    pool.start()
    assert pool.drain(10)
    expected = failed(job, 1, "rate limited", T0, args={"cursor": 42})
    assert zset(redis_client, pool.keys.retry()) == [(expected, T0 + 3600)]
    assert [h.status for h in history(redis_client, pool.keys.history())] == ["retry"]


def test_dead_now_buries_the_job_whatever_retries_are_left(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    def hopeless(job: Job) -> None:
        raise DeadNow("account closed")

    job = enq.enqueue("charge", {"account": 9})
    pool = make_pool(1).job_with_options("charge", JobOptions(max_fails=25), hopeless)
    pool.start()
    assert pool.drain(10)
    assert zset(redis_client, pool.keys.dead()) == [(failed(job, 1, "account closed", T0), T0)]
    assert redis_client.zcard(pool.keys.retry()) == 0


def test_put_back_returns_the_exact_bytes_to_the_front_of_the_queue(
    make_pool: MakePool, enq: Enqueuer, client: Client, redis_client: redis.Redis
) -> None:
    runs: list[str] = []

    def not_now(job: Job) -> None:
        runs.append(job.id)
        if len(runs) == 1:
            client.pause("limited")  # keep it in the queue so the test can look at it
            raise PutBack("over the rate limit")

    # Given two queued jobs, the first stored with bytes Go would not write
    first = b'{"name":"limited","id":"000000000000000000000001","t":1, "args":{"b":1,"a":2},"zz":true}'
    redis_client.lpush(client.keys.jobs("limited"), first)
    second = enq.enqueue("limited", {})
    pool = make_pool(1).job("limited", not_now)
    # When the handler puts the first back
    pool.start()
    assert pool.drain(10)
    # Then its exact bytes are at the front (the RPOP end) again, and no attempt was counted
    assert redis_client.lrange(client.keys.jobs("limited"), 0, -1) == [second.to_bytes(), first]
    assert redis_client.get(client.keys.jobs_lock("limited")) == b"0"
    assert redis_client.hget(client.keys.jobs_lock_info("limited"), pool.pool_id) == b"0"
    assert redis_client.llen(client.keys.jobs_in_progress("limited", pool.pool_id)) == 0
    assert redis_client.zcard(client.keys.retry()) == 0 and redis_client.exists(client.keys.history()) == 0
    # And it runs first once the queue is open again
    client.unpause("limited")
    assert pool.drain(10)
    assert runs == ["000000000000000000000001", "000000000000000000000001", second.id]


def test_discard_from_the_handler_drops_the_job(make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis) -> None:
    def drop(job: Job) -> None:
        raise Discard("obsolete", history_status="success")

    enq.enqueue("old", {})
    pool = make_pool(1).job("old", drop)
    pool.start()
    assert pool.drain(10)
    assert redis_client.zcard(pool.keys.retry()) == 0 and redis_client.zcard(pool.keys.dead()) == 0
    assert [h.status for h in history(redis_client, pool.keys.history())] == ["success"]


# -- history --------------------------------------------------------------------------------------------


def test_history_has_one_entry_per_attempt_and_the_index_keeps_the_latest(
    make_pool: MakePool, enq: Enqueuer, clock: ManualClock, redis_client: redis.Redis, client: Client
) -> None:
    def second_time_lucky(job: Job) -> None:
        if job.fails == 0:
            raise ValueError("first try")

    # Given a job that fails once, then succeeds
    job = enq.enqueue("lucky", {"k": "v"})
    pool = make_pool(1).job("lucky", second_time_lucky)
    pool.start()
    assert pool.drain(10)
    first_at = clock.now()
    run_due_retry(pool, clock, redis_client)
    second_at = clock.now()
    # Then history and history:lucky hold both attempts, scored at completion
    k = pool.keys
    for key in (k.history(), k.history_for("lucky")):
        entries = history(redis_client, key)
        assert [(h.completed_at, h.status) for h in entries] == [(first_at, "retry"), (second_at, "success")]
        assert [s for _, s in zset(redis_client, key)] == [first_at, second_at]
        assert entries[0].job == decode_job(failed(job, 1, "ValueError: first try", first_at))
    # and the index holds the latest attempt, which still carries the earlier failure
    latest = HistoryJob.from_json(redis_client.hget(k.history_index(), job.id) or b"")
    assert (latest.completed_at, latest.status) == (second_at, "success")
    assert (latest.job.fails, latest.job.last_err, latest.job.failed_at) == (1, "ValueError: first try", first_at)
    assert client.history_job_by_id(job.id) == latest


def test_a_dead_attempt_is_recorded_as_dead(make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis) -> None:
    job = enq.enqueue("doomed", {})
    pool = make_pool(1).job_with_options("doomed", JobOptions(max_fails=1), fail)
    pool.start()
    assert pool.drain(10)
    [entry] = history(redis_client, pool.keys.history_for("doomed"))
    assert entry.status == "dead" and entry.job.id == job.id and entry.job.fails == 1


def test_with_history_off_no_history_is_written(make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis) -> None:
    enq.enqueue("quiet", {"ok": True})
    enq.enqueue("quiet", {"ok": False})
    enq.enqueue("quiet-dead", {})

    def handler(job: Job) -> None:
        if not job.arg_bool("ok"):
            raise ValueError("no")

    pool = (
        make_pool(1, settings=settings(history=False))
        .job("quiet", handler)
        .job_with_options("quiet-dead", JobOptions(max_fails=1), fail)
    )
    pool.start()
    assert pool.drain(10)
    assert redis_client.zcard(pool.keys.retry()) == 1 and redis_client.zcard(pool.keys.dead()) == 1
    assert redis_client.keys(pool.keys.history() + "*") == []


def test_metadata_outside_args_survives_failure_retry_and_the_requeuer(
    make_pool: MakePool, redis_client: redis.Redis, client: Client, clock: ManualClock
) -> None:
    # Given a job whose JSON carries a field of its own beside args (as celery_shim stores there)
    keys = client.keys
    raw = b'{"name":"meta","id":"m1","t":1800000000,"args":{"n":1},"celery":{"retries":0,"root":"r-1"}}'
    redis_client.lpush(keys.jobs("meta"), raw)
    redis_client.sadd(keys.known_jobs(), "meta")
    seen: list[dict[str, object]] = []

    def flaky(job: Job) -> None:
        seen.append(dict(job.extra))
        if len(seen) == 1:
            raise RuntimeError("first run fails")

    pool = make_pool(1)
    pool.job_with_options("meta", JobOptions(backoff=lambda job: 5), flaky)
    pool.start()
    assert pool.drain(10)

    # When it failed once, it sits in retry with the field; and when it is due it runs with it again
    (retry,), _ = client.retry_jobs()
    assert retry.job.extra == {"celery": {"retries": 0, "root": "r-1"}}
    clock.advance(5)
    wait_until(lambda: len(seen) == 2, what="the retried job to run")
    assert seen == [{"celery": {"retries": 0, "root": "r-1"}}] * 2
