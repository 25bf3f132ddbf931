"""WorkerPool behaviour on a real Redis: running jobs, handlers and middleware, lock accounting,
pause and caps, priorities, unique jobs, malformed queue entries and refused settings."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import redis

from tests.work_compat.conftest import T0
from work_compat import (
    Client,
    ConfigurationError,
    Discard,
    Enqueuer,
    HistoryJob,
    InvalidJobNameError,
    Job,
    JobOptions,
    WorkerPool,
    decode_job,
)

MakePool = Callable[..., WorkerPool]


def lock_state(r: redis.Redis, pool: WorkerPool, name: str) -> tuple[bytes | None, bytes | None, int]:
    """(lock, this pool's lock_info field, length of this pool's in-progress list) of queue ``name``."""
    k = pool.keys
    return (
        r.get(k.jobs_lock(name)),
        r.hget(k.jobs_lock_info(name), pool.pool_id),
        r.llen(k.jobs_in_progress(name, pool.pool_id)),
    )


def history_statuses(r: redis.Redis, pool: WorkerPool) -> list[str]:
    return [HistoryJob.from_json(m).status for m in r.zrange(pool.keys.history(), 0, -1)]


# -- running jobs -----------------------------------------------------------------------------------


def test_every_registered_job_runs_once_with_its_args(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    # Given jobs of two names in their queues
    sent = [enq.enqueue("resize", {"n": n, "size": "small"}) for n in range(6)]
    sent += [enq.enqueue("email", {"to": f"u{n}@example.com"}) for n in range(4)]
    seen: list[tuple[str, str, dict[str, Any] | None]] = []
    lock = threading.Lock()

    def record(job: Job) -> None:
        with lock:
            seen.append((job.name, job.id, job.args))

    pool = make_pool(3).job("resize", record).job("email", record)
    # When the pool runs until its queues are empty
    pool.start()
    assert pool.drain(10)
    # Then each job ran exactly once, with the args it was enqueued with
    assert Counter((n, i) for n, i, _ in seen) == Counter((j.name, j.id) for j in sent)
    assert {i: a for _, i, a in seen} == {j.id: j.args for j in sent}
    assert redis_client.llen(pool.keys.jobs("resize")) == 0 and redis_client.llen(pool.keys.jobs("email")) == 0
    assert redis_client.zcard(pool.keys.retry()) == 0 and redis_client.zcard(pool.keys.dead()) == 0


def test_a_context_factory_gives_handler_and_middleware_a_fresh_context_per_job(
    make_pool: MakePool, enq: Enqueuer
) -> None:
    class Ctx:
        def __init__(self) -> None:
            self.user = ""

    contexts: list[tuple[Ctx, str]] = []

    def auth(ctx: Ctx, job: Job, next: Callable[[], Any]) -> Any:
        assert ctx.user == ""  # nothing leaks from the previous job
        ctx.user = job.arg_string("user")
        return next()

    def handler(ctx: Ctx, job: Job) -> None:
        contexts.append((ctx, ctx.user))

    # Given a pool with a context factory
    enq.enqueue("greet", {"user": "ann"})
    enq.enqueue("greet", {"user": "bob"})
    pool = make_pool(1, context=Ctx).middleware(auth).job("greet", handler)
    # When it runs two jobs
    pool.start()
    assert pool.drain(10)
    # Then middleware(ctx, job, next) and handler(ctx, job) shared one new context per job
    assert sorted(user for _, user in contexts) == ["ann", "bob"]
    assert contexts[0][0] is not contexts[1][0]
    assert all(isinstance(c, Ctx) for c, _ in contexts)


def test_middleware_runs_in_registration_order_around_the_handler(make_pool: MakePool, enq: Enqueuer) -> None:
    events: list[str] = []

    def outer(job: Job, next: Callable[[], Any]) -> Any:
        events.append("outer in")
        try:
            return next()
        finally:
            events.append("outer out")

    def inner(job: Job, next: Callable[[], Any]) -> Any:
        events.append("inner in")
        try:
            return next()
        finally:
            events.append("inner out")

    enq.enqueue("a", {})
    pool = make_pool(1).middleware(outer).middleware(inner).job("a", lambda job: events.append("handler"))
    pool.start()
    assert pool.drain(10)
    assert events == ["outer in", "inner in", "handler", "inner out", "outer out"]


def test_a_middleware_that_swallows_the_error_makes_the_job_succeed(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    def swallow(job: Job, next: Callable[[], Any]) -> Any:
        try:
            return next()
        except ValueError:
            return None

    def fail(job: Job) -> None:
        raise ValueError("ignored")

    enq.enqueue("a", {})
    pool = make_pool(1).middleware(swallow).job("a", fail)
    pool.start()
    assert pool.drain(10)
    assert redis_client.zcard(pool.keys.retry()) == 0 and redis_client.zcard(pool.keys.dead()) == 0
    assert history_statuses(redis_client, pool) == ["success"]


def test_a_middleware_that_replaces_the_error_changes_err(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    def wrap(job: Job, next: Callable[[], Any]) -> Any:
        try:
            return next()
        except ValueError as err:
            raise RuntimeError(f"wrapped: {err}") from err

    def fail(job: Job) -> None:
        raise ValueError("boom")

    enq.enqueue("a", {})
    pool = make_pool(1).middleware(wrap).job("a", fail)
    pool.start()
    assert pool.drain(10)
    [member] = redis_client.zrange(pool.keys.retry(), 0, -1)
    assert decode_job(member).last_err == "RuntimeError: wrapped: boom"


def test_a_middleware_raising_discard_skips_the_handler(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    ran: list[str] = []

    def gate(job: Job, next: Callable[[], Any]) -> Any:
        if job.arg_bool("skip"):
            raise Discard("not wanted")
        return next()

    enq.enqueue("a", {"skip": True})
    enq.enqueue("a", {"skip": False})
    pool = make_pool(1).middleware(gate).job("a", lambda job: ran.append(job.id))
    pool.start()
    assert pool.drain(10)
    # the skipped job is gone: no handler call, no retry, no dead entry, counters back to zero
    assert len(ran) == 1
    assert redis_client.zcard(pool.keys.retry()) == 0 and redis_client.zcard(pool.keys.dead()) == 0
    assert lock_state(redis_client, pool, "a") == (b"0", b"0", 0)
    assert sorted(history_statuses(redis_client, pool)) == ["dead", "success"]


# -- lock accounting, pause, caps, priorities ---------------------------------------------------------


def test_lock_counters_and_in_progress_lists_are_clear_after_drain_and_stop(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    def fail(job: Job) -> None:
        raise ValueError("x")

    for n in range(20):
        enq.enqueue("ok", {"n": n})
        enq.enqueue("bad", {"n": n})
    pool = make_pool(4).job_with_options("ok", JobOptions(max_concurrency=3), lambda job: None).job("bad", fail)
    pool.start()
    # max_concurrency is SET at start for every registered name ("0": no cap)
    assert redis_client.get(pool.keys.jobs_max_concurrency("ok")) == b"3"
    assert redis_client.get(pool.keys.jobs_max_concurrency("bad")) == b"0"
    assert pool.drain(10)
    for name in ("ok", "bad"):
        assert lock_state(redis_client, pool, name) == (b"0", b"0", 0)
    pool.stop()
    for name in ("ok", "bad"):
        assert lock_state(redis_client, pool, name) == (b"0", b"0", 0)
    assert redis_client.zcard(pool.keys.retry()) == 20


def test_a_paused_queue_is_not_fetched_until_unpaused(make_pool: MakePool, enq: Enqueuer, client: Client) -> None:
    ran: list[str] = []
    # Given a paused queue with a job in it, and a running pool
    client.pause("a")
    enq.enqueue("a", {})
    pool = make_pool(1).job("a", lambda job: ran.append(job.id))
    pool.start()
    # When the pool has found nothing to do
    assert pool.drain(10)
    # Then the job is still queued
    assert ran == [] and client.queues()[0].count == 1
    # And once unpaused, it runs
    client.unpause("a")
    assert pool.drain(10)
    assert len(ran) == 1 and client.queues()[0].count == 0


def test_max_concurrency_1_never_runs_two_jobs_at_once(make_pool: MakePool, enq: Enqueuer) -> None:
    intervals: list[tuple[float, float]] = []
    lock = threading.Lock()

    def slow(job: Job) -> None:
        start = time.monotonic()
        time.sleep(0.02)  # work long enough for a second worker to try to overlap
        with lock:
            intervals.append((start, time.monotonic()))

    for _ in range(8):
        enq.enqueue("serial", {})
    pool = make_pool(4).job_with_options("serial", JobOptions(max_concurrency=1), slow)
    pool.start()
    assert pool.drain(15)
    intervals.sort()
    assert len(intervals) == 8
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(intervals))


def test_without_a_cap_the_workers_run_jobs_side_by_side(make_pool: MakePool, enq: Enqueuer) -> None:
    # four jobs that can only finish when all four are running at the same time
    barrier = threading.Barrier(4, timeout=5)
    for _ in range(4):
        enq.enqueue("together", {})
    pool = make_pool(4).job("together", lambda job: barrier.wait())
    pool.start()
    assert pool.drain(10)
    assert not barrier.broken


def test_the_higher_priority_queue_mostly_runs_first(make_pool: MakePool, enq: Enqueuer) -> None:
    order: list[str] = []
    # Given two full queues, of priority 1 and 9
    enq.enqueue_many([("low", {"n": n}) for n in range(40)] + [("high", {"n": n}) for n in range(40)])
    pool = (
        make_pool(1)
        .job_with_options("low", JobOptions(priority=1), lambda job: order.append(job.name))
        .job_with_options("high", JobOptions(priority=9), lambda job: order.append(job.name))
    )
    # When one worker runs them all
    pool.start()
    assert pool.drain(15)
    # Then each fetch chose "high" about 9 times in 10 while both had jobs (expected ~36 of the first 40)
    assert len(order) == 80
    assert order[:40].count("high") >= 28


# -- unique jobs ----------------------------------------------------------------------------------------


def test_the_unique_lock_is_released_when_the_job_starts(make_pool: MakePool, enq: Enqueuer) -> None:
    started = threading.Event()
    release = threading.Event()
    runs: list[str] = []

    def handler(job: Job) -> None:
        runs.append(job.id)
        started.set()
        release.wait(5)

    first = enq.enqueue_unique("report", {"day": "mon"})
    assert first is not None
    assert enq.enqueue_unique("report", {"day": "mon"}) is None  # held while queued
    pool = make_pool(1).job("report", handler)
    pool.start()
    try:
        # When the first job is running
        assert started.wait(5)
        # Then the same unique job can be enqueued again
        second = enq.enqueue_unique("report", {"day": "mon"})
        assert second is not None
    finally:
        release.set()
    assert pool.drain(10)
    assert runs == [first.id, second.id]


def test_a_by_key_duplicate_before_the_run_makes_the_worker_run_the_latest_args(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    seen: list[tuple[str, dict[str, Any] | None]] = []
    # Given a by-key unique job, and a duplicate submitted before it ran
    first = enq.enqueue_unique_by_key("sync", {"version": 1}, {"account": "a1"})
    assert first is not None
    assert enq.enqueue_unique_by_key("sync", {"version": 2}, {"account": "a1"}) is None
    held = redis_client.get(first.unique_key)
    assert held is not None
    latest = decode_job(held)
    pool = make_pool(1).job("sync", lambda job: seen.append((job.id, job.args)))
    # When the pool runs the queue
    pool.start()
    assert pool.drain(10)
    # Then one run, with the latest submission's args, and nothing left behind
    assert seen == [(latest.id, {"version": 2})]
    assert redis_client.exists(first.unique_key) == 0
    assert lock_state(redis_client, pool, "sync") == (b"0", b"0", 0)


# -- malformed queue entries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"{not json", "not JSON"),
        (b'{"name":"inbox","id":"x1","t":1,"args":[1,2]}', "args"),
        (b'{"name":"inbox","id":"x2","t":1.5,"args":{}}', "'t'"),
        (b'{"id":"x3","t":1,"args":{}}', "no name"),
    ],
    ids=["not-json", "args-array", "t-float", "no-name"],
)
def test_a_malformed_queue_entry_is_buried_as_a_valid_dead_job_and_the_pool_goes_on(
    make_pool: MakePool, enq: Enqueuer, client: Client, redis_client: redis.Redis, raw: bytes, problem: str
) -> None:
    ran: list[str] = []
    # Given a malformed entry at the head of a queue, and a good job behind it
    redis_client.lpush(client.keys.jobs("inbox"), raw)
    good = enq.enqueue("inbox", {"ok": True})
    pool = make_pool(1).job("inbox", lambda job: ran.append(job.id))
    # When the pool runs
    pool.start()
    assert pool.drain(10)
    # Then the entry is in dead as a job every client can read, named after its queue
    [member] = redis_client.zrange(client.keys.dead(), 0, -1)
    buried = decode_job(member)
    assert buried.name == "inbox" and len(buried.id) == 24
    assert buried.args == {"raw": raw.decode()}
    assert buried.fails == 1 and buried.failed_at == T0
    assert buried.last_err.startswith("cannot decode job: ") and problem in buried.last_err
    [dead] = client.dead_jobs()[0]
    assert dead.job == buried and dead.died_at == T0
    # and the counters and the pool are fine: the good job ran
    assert ran == [good.id]
    assert redis_client.zcard(client.keys.retry()) == 0
    assert lock_state(redis_client, pool, "inbox") == (b"0", b"0", 0)


# -- refused settings -------------------------------------------------------------------------------------


def test_invalid_settings_are_refused_with_the_reason(make_pool: MakePool, redis_server: Any, namespace: str) -> None:
    with pytest.raises(ConfigurationError, match="concurrency must be 1 or more"):
        WorkerPool(0, namespace, redis_server.url)
    assert JobOptions(priority=0).priority == 1  # Go turns 0 into 1
    assert JobOptions(priority=100_000).priority == 100_000
    with pytest.raises(ConfigurationError, match=r"priority must be 1\.\.100000, got 100001"):
        JobOptions(priority=100_001)
    with pytest.raises(ConfigurationError, match="max_fails"):
        JobOptions(max_fails=-1)
    with pytest.raises(ConfigurationError, match="time_limit"):
        JobOptions(time_limit=0)
    pool = make_pool(1)
    for bad, reason in [("a:b", "':'"), ("a,b", "','"), ("", "empty"), ("index", "history")]:
        with pytest.raises(InvalidJobNameError, match=reason):
            pool.job(bad, lambda job: None)
    with pytest.raises(ConfigurationError, match="not callable"):
        pool.job("a", "not a function")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="drain\\(\\) needs a started pool"):
        pool.drain(1)
    with pytest.raises(ConfigurationError, match="at least one job"):
        pool.start()


def test_a_started_pool_refuses_new_registrations_and_ignores_a_second_start(make_pool: MakePool) -> None:
    pool = make_pool(1).job("a", lambda job: None)
    pool.start()
    pool.start()
    with pytest.raises(ConfigurationError, match="before start"):
        pool.job("b", lambda job: None)
    with pytest.raises(ConfigurationError, match="before start"):
        pool.middleware(lambda job, next: next())
    assert pool.drain(5)
