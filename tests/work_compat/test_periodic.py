"""Periodic jobs on a real Redis: the enqueuer's members, gate and horizon, runtime schedules, the
aligned every(), missed instants and restarts, registration errors, and a periodic job run once.

Time is the ManualClock's; pools run their first enqueue inside start(), and tests that need a
later run either call the enqueuer or give the loop a short period and wait (bounded) for it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta, timezone
from pathlib import Path

import pytest
import redis

from tests.work_compat.conftest import FAST, T0, wait_until
from work_compat import (
    Client,
    ConfigurationError,
    EncodeError,
    InvalidJobNameError,
    Job,
    ManualClock,
    PeriodicSchedule,
    PoolSettings,
    WorkerPool,
    decode_job,
)
from work_compat.cron import CronSpecError, parse
from work_compat.periodic import PeriodicEnqueuer, PeriodicJob, periodic_member

MakePool = Callable[..., WorkerPool]
UTC = timezone.utc
VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"
VECTOR_MEMBER = (
    b'{"name":"vec_periodic","id":"periodic:vec_periodic:*/20 * * * * *:1795821860","t":1795821860,"args":null}'
)


def scheduled(r: redis.Redis, pool: WorkerPool | Client) -> dict[bytes, int]:
    """Every member of ``scheduled`` with its score."""
    return {m: int(s) for m, s in r.zrange(pool.keys.scheduled(), 0, -1, withscores=True)}


def instants_of(r: redis.Redis, pool: WorkerPool | Client, name: str) -> list[int]:
    """The t of every scheduled member of job ``name``, ascending."""
    return sorted(decode_job(m).enqueued_at for m in scheduled(r, pool) if decode_job(m).name == name)


def enqueuer(
    r: redis.Redis, pool: WorkerPool, clock: ManualClock, jobs: list[PeriodicJob] | None = None
) -> PeriodicEnqueuer:
    """A stand-alone enqueuer on the pool's namespace (for gate and horizon checks)."""
    return PeriodicEnqueuer(
        r,
        pool.keys,
        pool.periodic_jobs if jobs is None else jobs,
        clock=clock,
        zone=UTC,
        period=120,
        jitter=0,
        horizon=240,
    )


def store_schedule(r: redis.Redis, client: Client, name: str, raw: str) -> None:
    """Write a schedule's bytes as some other writer might (bypassing the client's checks)."""
    r.hset(client.keys.periodic_schedules(), name, raw)


# -- the member bytes ---------------------------------------------------------------------------------


def test_member_bytes_are_gos_for_the_same_name_spec_and_instant() -> None:
    # Given the fork's golden member for vec_periodic, */20 * * * * *, at 1795821860 (UTC)
    job = PeriodicJob("vec_periodic", parse("*/20 * * * * *", zone=UTC))
    # Then ours is the same bytes, and that instant is the schedule's next after 1795821856
    assert job.member(1795821860) == VECTOR_MEMBER
    assert job.schedule.next(1795821856) == 1795821860


def test_a_run_writes_exactly_what_the_forks_enqueuer_wrote(
    make_pool: MakePool, redis_client: redis.Redis, client: Client, clock: ManualClock
) -> None:
    # Given the fork's golden run: vec_periodic in code, and two stored schedules (one disabled)
    vec = json.loads((VECTORS / "fork-keys.json").read_text())["phase2_worker_pool"]["dumps"]["during_run"]
    dump = {k["key"].split(":", 1)[1]: k for k in vec["keys"]}
    now = int(dump["last_periodic_enqueue"]["value"])
    for entry in dump["periodic_schedules"]["value"]:
        store_schedule(redis_client, client, entry["field"], entry["value"])
    want = {
        e["member"].encode(): int(e["score"])
        for e in dump["scheduled"]["value"]
        if json.loads(e["member"])["id"].startswith("periodic:")
    }
    # When a Python pool runs its enqueuer at the same second, in the same zone
    clock.set(now)
    pool = make_pool(zone=UTC).job("vec_periodic", lambda job: None)
    pool.periodically_enqueue("*/20 * * * * *", "vec_periodic")
    pool.start()
    # Then the scheduled set holds the same members with the same scores, and the same gate value
    assert scheduled(redis_client, pool) == want
    assert len(want) == 20
    assert redis_client.get(pool.keys.last_periodic_enqueue()) == str(now).encode()


def test_args_are_go_json_and_schedule_args_are_read_as_go_reads_them(
    make_pool: MakePool, redis_client: redis.Redis, client: Client
) -> None:
    # Given a code-defined job with args Go formats its own way, and schedules with and without args
    args = {"f": 2.0, "big": 1e21, "small": 1e-7, "html": "<a&b>", "n": None, "list": [1.5, 3], "m": {"z": 1}}
    pool = make_pool(zone=UTC).job("noop", lambda job: None)
    pool.periodically_enqueue_with_args("0 * * * * *", "code", args)
    pool.periodically_enqueue_with_args("0 * * * * *", "code_empty", {})
    client.add_periodic_schedule(PeriodicSchedule("ints", "sched", "0 * * * * *", args={"k": 1, "big": 2**60 + 1}))
    client.add_periodic_schedule(PeriodicSchedule("empty", "sched_empty", "0 * * * * *", args={}))
    client.add_periodic_schedule(PeriodicSchedule("none", "sched_none", "0 * * * * *"))
    store_schedule(
        redis_client,
        client,
        "raw_empty",
        '{"name":"raw_empty","job_name":"raw","spec":"0 * * * * *","args":{},"enabled":true}',
    )
    # When it runs
    pool.start()
    t = T0 + 60
    members = {decode_job(m).name: m for m, score in scheduled(redis_client, pool).items() if score == t}

    def head(name: str) -> bytes:
        return f'{{"name":"{name}","id":"periodic:{name}:0 * * * * *:{t}","t":{t},"args":'.encode()

    # Then code args are Go-JSON: sorted keys, Go's floats, HTML escaped; {} stays {} as in Go
    assert members["code"] == head("code") + (
        b'{"big":1e+21,"f":2,"html":"\\u003ca\\u0026b\\u003e","list":[1.5,3],"m":{"z":1},"n":null,"small":1e-7}}'
    )
    assert members["code_empty"] == head("code_empty") + b"{}}"
    # And schedule args are float64 after Go's decode: 2**60 + 1 is written as Go writes 2.0**60
    assert members["sched"] == head("sched") + b'{"big":1152921504606847000,"k":1}}'
    # And a schedule stored without args (the client drops {}, as Go's omitempty) gives null
    assert members["sched_empty"] == head("sched_empty") + b"null}"
    assert members["sched_none"] == head("sched_none") + b"null}"
    # And a hand-written "args":{} is decoded as an empty map, so Go writes {} and so do we
    assert members["raw"] == head("raw") + b"{}}"


# -- the gate and the horizon --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "runs"),
    [
        (None, True),
        (b"garbage", True),
        (str(T0 - 3).encode(), True),
        (str(T0 - 2).encode(), False),
        (str(T0).encode(), False),
    ],
)
def test_the_gate_lets_a_run_through_unless_a_pool_ran_within_two_seconds(
    make_pool: MakePool, redis_client: redis.Redis, clock: ManualClock, stored: bytes | None, runs: bool
) -> None:
    pool = make_pool().job("noop", lambda job: None).periodically_enqueue("*/20 * * * * *", "tick")
    pe = enqueuer(redis_client, pool, clock)
    if stored is not None:
        redis_client.set(pool.keys.last_periodic_enqueue(), stored)
    assert pe.run_once() is runs
    assert bool(scheduled(redis_client, pool)) is runs
    if runs:
        assert redis_client.get(pool.keys.last_periodic_enqueue()) == str(T0).encode()


def test_a_starting_pool_schedules_its_jobs_even_if_another_pool_just_passed_the_gate(
    make_pool: MakePool, redis_client: redis.Redis, clock: ManualClock
) -> None:
    # Given a Go pool (with or without periodic jobs) that ran its enqueuer this very second
    pool = make_pool(zone=UTC).job("noop", lambda job: None).periodically_enqueue("*/20 * * * * *", "tick")
    redis_client.set(pool.keys.last_periodic_enqueue(), str(T0))
    # When this pool starts, its first run ignores the gate: its own instants are there at once
    pool.start()
    assert instants_of(redis_client, pool, "tick")


@pytest.mark.parametrize(("offset", "first", "last"), [(0, 20, 220), (5, 20, 240), (19, 20, 240), (20, 40, 240)])
def test_a_run_adds_the_instants_strictly_after_now_and_before_now_plus_the_horizon(
    make_pool: MakePool, redis_client: redis.Redis, clock: ManualClock, offset: int, first: int, last: int
) -> None:
    # Given */20 * * * * * and a clock ``offset`` s past a multiple of 20 (T0 is one)
    clock.set(T0 + offset)
    pool = make_pool(zone=UTC).job("noop", lambda job: None).periodically_enqueue("*/20 * * * * *", "tick")
    pool.start()
    # Then exactly the instants in (now, now + 240) are scheduled, each scored at its instant
    assert instants_of(redis_client, pool, "tick") == list(range(T0 + first, T0 + last + 1, 20))
    assert all(score == decode_job(m).enqueued_at for m, score in scheduled(redis_client, pool).items())


def test_the_loop_runs_again_every_period_with_the_clock_it_is_given(
    make_pool: MakePool, redis_client: redis.Redis, clock: ManualClock
) -> None:
    settings = replace(FAST, periodic_period=0.05, periodic_jitter=0)
    pool = make_pool(settings=settings, zone=UTC).job("noop", lambda job: None)
    pool.periodically_enqueue("0 * * * * *", "minutely").start()
    assert instants_of(redis_client, pool, "minutely") == [T0 + 60, T0 + 120, T0 + 180]
    clock.advance(600)
    wait_until(lambda: T0 + 780 in instants_of(redis_client, pool, "minutely"), what="the next run")
    assert redis_client.get(pool.keys.last_periodic_enqueue()) == str(T0 + 600).encode()


def test_a_run_with_nothing_periodic_leaves_the_gate_alone(make_pool: MakePool, redis_client: redis.Redis) -> None:
    # A pool with no periodic job must not hold back another pool's run within the next 2 s
    pool = make_pool().job("noop", lambda job: None)
    pool.start()
    assert redis_client.get(pool.keys.last_periodic_enqueue()) is None


def test_period_plus_jitter_must_be_shorter_than_the_horizon() -> None:
    with pytest.raises(ConfigurationError, match="periodic_horizon"):
        PoolSettings(periodic_period=200, periodic_jitter=40, periodic_horizon=240)
    with pytest.raises(ConfigurationError):
        PoolSettings(periodic_period=0)


# -- many pools ----------------------------------------------------------------------------------------


def test_two_pools_on_one_namespace_schedule_and_run_each_instant_once(
    make_pool: MakePool, redis_client: redis.Redis, clock: ManualClock
) -> None:
    # Given two pools with the same periodic job, both of which really run their enqueuer
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def handler(job: Job) -> None:
        with lock:
            runs[job.id] += 1

    a = make_pool(2, zone=UTC).job("tick", handler).periodically_enqueue("*/20 * * * * *", "tick")
    b = make_pool(2, zone=UTC).job("tick", handler).periodically_enqueue("*/20 * * * * *", "tick")
    a.start()
    redis_client.delete(a.keys.last_periodic_enqueue())  # past the gate: b writes its own members
    b.start()
    assert redis_client.get(b.keys.last_periodic_enqueue()) == str(T0).encode()
    # Then each instant is in scheduled once (identical bytes)
    assert redis_client.zcard(a.keys.scheduled()) == 11
    # When every instant falls due, both pools' requeuers race to move them
    clock.advance(240)
    wait_until(lambda: sum(runs.values()) >= 11, what="11 runs")
    assert a.drain(10) and b.drain(10)
    # Then each ran exactly once
    assert runs == Counter({f"periodic:tick:*/20 * * * * *:{T0 + 20 * i}": 1 for i in range(1, 12)})
    assert redis_client.zcard(a.keys.scheduled()) == 0


# -- runtime schedules (the fork's periodic_schedules) ---------------------------------------------------


def test_enabled_schedules_run_disabled_ones_do_not_and_bad_ones_are_skipped_with_a_log(
    make_pool: MakePool,
    redis_client: redis.Redis,
    client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given one good schedule, one disabled, and bad ones written by some other writer
    client.add_periodic_schedule(PeriodicSchedule("good", "report", "0 */2 * * * *", args={"a": 1}))
    client.add_periodic_schedule(PeriodicSchedule("off", "off_job", "0 * * * * *", enabled=False))
    store_schedule(redis_client, client, "notjson", "{nope")
    store_schedule(
        redis_client, client, "badspec", '{"name":"badspec","job_name":"x","spec":"61 * * * * *","enabled":true}'
    )
    store_schedule(
        redis_client, client, "badname", '{"name":"badname","job_name":"a:b","spec":"@hourly","enabled":true}'
    )
    store_schedule(
        redis_client, client, "wrongtype", '{"name":"wrongtype","job_name":7,"spec":"@hourly","enabled":true}'
    )
    store_schedule(
        redis_client,
        client,
        "hugearg",
        '{"name":"h","job_name":"h","spec":"@hourly","args":{"n":1e400},"enabled":true}',
    )
    pool = make_pool(zone=UTC).job("noop", lambda job: None)
    # When a pool runs its enqueuer
    with caplog.at_level(logging.WARNING, logger="work_compat.periodic"):
        pool.start()
    # Then only the good schedule is scheduled: its job name, its spec in the id, its args
    assert {decode_job(m).name for m in scheduled(redis_client, pool)} == {"report"}
    assert instants_of(redis_client, pool, "report") == [T0 + 120]
    member = next(iter(scheduled(redis_client, pool)))
    assert member == periodic_member("report", "0 */2 * * * *", T0 + 120, {"a": 1.0})
    # And each bad one was logged by name, and the run still set the gate
    logged = caplog.text
    for name in ("notjson", "badspec", "badname", "wrongtype", "hugearg"):
        assert f"periodic schedule {name}" in logged
    assert "periodic schedule off" not in logged
    assert redis_client.get(pool.keys.last_periodic_enqueue()) == str(T0).encode()


def test_disabling_or_deleting_a_schedule_removes_its_scheduled_instances(
    make_pool: MakePool, redis_client: redis.Redis, client: Client, clock: ManualClock
) -> None:
    # Given two schedules whose instances a pool has scheduled, and an unrelated scheduled job
    client_utc = Client(client.namespace, redis_client, clock=clock, zone=UTC)
    client_utc.add_periodic_schedule(PeriodicSchedule("a", "job_a", "*/30 * * * * *", args={"x": "y"}))
    client_utc.add_periodic_schedule(PeriodicSchedule("b", "job_b", "*/20 * * * * *"))
    redis_client.zadd(client.keys.scheduled(), {b'{"name":"other","id":"1","t":1,"args":null}': T0 + 100})
    pool = make_pool(zone=UTC).job("noop", lambda job: None)
    pool.start()
    assert len(instants_of(redis_client, pool, "job_a")) == 7
    assert len(instants_of(redis_client, pool, "job_b")) == 11
    # When one is disabled, a few seconds later
    clock.advance(5)
    client_utc.disable_periodic_schedule("a")
    # Then its instances are gone (Go's client leaves them), the others stay
    assert instants_of(redis_client, pool, "job_a") == []
    assert len(instants_of(redis_client, pool, "job_b")) == 11
    # When the other is deleted
    client_utc.delete_periodic_schedule("b")
    # Then only the unrelated job is left
    assert [decode_job(m).name for m in scheduled(redis_client, pool)] == ["other"]
    # And enabling "a" again brings its instances back at the next run
    client_utc.enable_periodic_schedule("a")
    redis_client.delete(pool.keys.last_periodic_enqueue())
    assert pool._periodic.run_once()
    assert instants_of(redis_client, pool, "job_a") == list(range(T0 + 30, T0 + 241, 30))


def test_replacing_a_schedule_with_another_spec_removes_the_old_instances(
    redis_client: redis.Redis, client: Client, clock: ManualClock, make_pool: MakePool
) -> None:
    client_utc = Client(client.namespace, redis_client, clock=clock, zone=UTC)
    client_utc.add_periodic_schedule(PeriodicSchedule("r", "job_r", "*/30 * * * * *"))
    pool = make_pool(zone=UTC).job("noop", lambda job: None)
    pool.start()
    assert len(instants_of(redis_client, pool, "job_r")) == 7
    # Same job, spec and args (only created_at given): the instances stay
    client_utc.add_periodic_schedule(PeriodicSchedule("r", "job_r", "*/30 * * * * *", created_at=T0))
    assert len(instants_of(redis_client, pool, "job_r")) == 7
    # Another spec: the old instances go; the next run schedules the new spec's
    client_utc.add_periodic_schedule(PeriodicSchedule("r", "job_r", "0 * * * * *"))
    assert instants_of(redis_client, pool, "job_r") == []
    redis_client.delete(pool.keys.last_periodic_enqueue())
    pool._periodic.run_once()
    assert instants_of(redis_client, pool, "job_r") == [T0 + 60, T0 + 120, T0 + 180]


def test_a_code_defined_job_sharing_a_schedules_members_writes_them_again_at_its_next_run(
    make_pool: MakePool, redis_client: redis.Redis, client: Client, clock: ManualClock
) -> None:
    # Given a schedule and a code-defined job with the same job name, spec and args (one member each)
    client_utc = Client(client.namespace, redis_client, clock=clock, zone=UTC)
    client_utc.add_periodic_schedule(PeriodicSchedule("s", "shared", "*/30 * * * * *"))
    pool = make_pool(zone=UTC).job("noop", lambda job: None).periodically_enqueue("*/30 * * * * *", "shared")
    pool.start()
    assert len(instants_of(redis_client, pool, "shared")) == 7
    # When the schedule is deleted, the shared members go too ...
    client_utc.delete_periodic_schedule("s")
    assert instants_of(redis_client, pool, "shared") == []
    # ... and the code-defined job puts them back at its next run
    clock.advance(3)
    assert pool._periodic.run_once()
    assert instants_of(redis_client, pool, "shared") == list(range(T0 + 30, T0 + 243, 30))


def test_add_periodic_schedule_refuses_what_no_pool_could_enqueue(client: Client, redis_client: redis.Redis) -> None:
    cases: list[tuple[PeriodicSchedule, type[Exception], str]] = [
        (PeriodicSchedule("s1", "job", "61 * * * * *"), CronSpecError, "second"),
        (PeriodicSchedule("s2", "job", "0 0 0 30 2 *"), CronSpecError, "day-of-month"),
        (PeriodicSchedule("s3", "job", "* * *"), CronSpecError, "spec"),
        (PeriodicSchedule("s4", "job", "@every 5m"), CronSpecError, "descriptor"),
        (PeriodicSchedule("s5", "job", "CRON_TZ=Mars/Base 0 * * * * *"), CronSpecError, "zone"),
        (PeriodicSchedule("s6", "a:b", "@daily"), InvalidJobNameError, "s6"),
        (PeriodicSchedule("s7", "job", "@daily", args={"n": 10**400}), ValueError, "float64"),
    ]
    for schedule, error, text in cases:
        with pytest.raises(error) as info:
            client.add_periodic_schedule(schedule)
        assert text in str(info.value)
        if isinstance(info.value, CronSpecError):
            assert info.value.field == text
            assert repr(schedule.name) in str(info.value)
    with pytest.raises(EncodeError):
        client.add_periodic_schedule(PeriodicSchedule("s8", "job", "@daily", args={"n": float("nan")}))
    assert redis_client.hlen(client.keys.periodic_schedules()) == 0


# -- every(), daily(), hourly() and registration -----------------------------------------------------


def test_every_is_aligned_to_the_epoch_with_gos_duration_in_the_id(
    make_pool: MakePool, redis_client: redis.Redis, clock: ManualClock
) -> None:
    clock.set(T0 + 7)
    pool = make_pool().job("noop", lambda job: None)
    pool.every("ninety", 90).every("halfhour", timedelta(minutes=30)).every("fast", 45.9)
    pool.start()
    members = scheduled(redis_client, pool)
    ids = sorted(decode_job(m).id for m in members)
    # Multiples of the interval since the epoch in (now, now + 240); sub-second parts dropped
    assert ids == sorted(
        [f"periodic:ninety:@every 1m30s:{T0 + 90 * i}" for i in (1, 2)]
        + [f"periodic:fast:@every 45s:{T0 + 45 * i}" for i in range(1, 6)]
    )
    # Another pool started later, mid-interval, writes the same members (so they de-duplicate)
    clock.set(T0 + 50)
    other = make_pool().job("noop", lambda job: None).every("ninety", 90)
    redis_client.delete(pool.keys.last_periodic_enqueue())
    other.start()
    assert instants_of(redis_client, pool, "ninety") == [T0 + 90, T0 + 180, T0 + 270]


def test_every_longer_than_the_horizon_fires_once_its_instant_is_within_it(
    make_pool: MakePool, redis_client: redis.Redis, clock: ManualClock
) -> None:
    # Given an hourly every() at 10 minutes past the hour (T0 is on the hour)
    clock.set(T0 + 600)
    settings = replace(FAST, periodic_period=0.05, periodic_jitter=0)
    pool = make_pool(settings=settings).job("noop", lambda job: None).every("hourly", timedelta(hours=1))
    pool.start()
    assert instants_of(redis_client, pool, "hourly") == []
    # When the clock reaches 3 minutes before the next hour, the next run adds it
    clock.set(T0 + 3600 - 180)
    wait_until(lambda: instants_of(redis_client, pool, "hourly") == [T0 + 3600], what="the hour's instance")
    assert decode_job(next(iter(scheduled(redis_client, pool)))).id == f"periodic:hourly:@every 1h0m0s:{T0 + 3600}"


def test_daily_and_hourly_write_the_forks_specs(make_pool: MakePool) -> None:
    pool = make_pool(zone=UTC).job("noop", lambda job: None)
    pool.daily("nightly", 3, 30).hourly("often", 5)
    assert [(pj.job_name, pj.spec) for pj in pool.periodic_jobs] == [("nightly", "30 3 * * *"), ("often", "5 * * * *")]
    nightly, often = pool.periodic_jobs
    copy = pool.reconfigured(concurrency=3)  # what the worker command does with a pool from a module
    assert (copy.periodic_jobs, copy.zone) == (pool.periodic_jobs, UTC)
    copy.close()
    # T0 is 2027-01-15 08:00:00 UTC
    assert nightly.schedule.next(T0) == T0 + 19 * 3600 + 30 * 60
    assert often.schedule.next(T0) == T0 + 5 * 60
    with pytest.raises(CronSpecError) as info:
        pool.daily("x", 24, 0)
    assert info.value.field == "hour"
    with pytest.raises(CronSpecError) as info:
        pool.hourly("x", 60)
    assert info.value.field == "minute"
    with pytest.raises(ConfigurationError):
        pool.daily("x", "3", 0)  # type: ignore[arg-type]


def test_registration_refuses_invalid_specs_names_and_intervals(make_pool: MakePool) -> None:
    pool = make_pool().job("noop", lambda job: None)
    for spec, field in [
        ("* * *", "spec"),
        ("0 0 0 30 2 *", "day-of-month"),
        ("0 0 0 * 13 *", "month"),
        ("@every 4m", "descriptor"),
        ("@sometimes", "descriptor"),
    ]:
        with pytest.raises(CronSpecError) as info:
            pool.periodically_enqueue(spec, "job")
        assert info.value.field == field, spec
    with pytest.raises(InvalidJobNameError):
        pool.periodically_enqueue("@daily", "a:b")
    with pytest.raises(InvalidJobNameError):
        pool.every("a,b", 60)
    with pytest.raises(ConfigurationError):
        pool.every("job", 0.5)
    with pytest.raises(EncodeError):
        pool.periodically_enqueue_with_args("@daily", "job", {"x": object()})
    assert pool.periodic_jobs == []
    pool.periodically_enqueue("@daily", "job").start()
    with pytest.raises(ConfigurationError):
        pool.periodically_enqueue("@daily", "late")


# -- requeuers, missed instants and restarts ------------------------------------------------------------


def test_a_periodic_job_runs_once_when_its_instant_falls_due(
    make_pool: MakePool, redis_client: redis.Redis, clock: ManualClock
) -> None:
    runs: list[Job] = []
    pool = make_pool(zone=UTC).job("tick", runs.append).periodically_enqueue("*/20 * * * * *", "tick")
    pool.start()
    assert runs == [] and redis_client.llen(pool.keys.jobs("tick")) == 0
    # When the clock reaches the first instant, the requeuer moves it and a worker runs it
    clock.set(T0 + 20)
    wait_until(lambda: runs, what="the first instance to run")
    assert pool.drain(10)
    assert [(j.id, j.enqueued_at, j.args) for j in runs] == [(f"periodic:tick:*/20 * * * * *:{T0 + 20}", T0 + 20, None)]
    assert instants_of(redis_client, pool, "tick")[0] == T0 + 40


def test_a_pool_moves_its_periodic_jobs_even_without_a_handler_for_them(
    make_pool: MakePool, redis_client: redis.Redis, clock: ManualClock
) -> None:
    # The requeuer knows periodic names: the instance waits in the queue for a pool that runs it
    pool = make_pool(zone=UTC).job("noop", lambda job: None).periodically_enqueue("*/20 * * * * *", "report")
    assert "report" in pool.known_names()
    pool.start()
    clock.set(T0 + 20)
    wait_until(lambda: redis_client.llen(pool.keys.jobs("report")) == 1, what="the instance in its queue")
    # While a pool that knows nothing of it leaves a due instance where it is
    pool.stop()
    clock.set(T0 + 40)
    other = make_pool().job("noop", lambda job: None)
    other.start()
    other._requeuer.run_once()
    assert redis_client.llen(pool.keys.jobs("report")) == 1
    assert T0 + 40 in instants_of(redis_client, pool, "report")


def test_instants_missed_while_no_pool_ran_are_not_enqueued_and_a_restart_runs_nothing_twice(
    make_pool: MakePool, redis_client: redis.Redis, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def handler(job: Job) -> None:
        with lock:
            runs[job.id] += 1

    def make() -> WorkerPool:
        return make_pool(zone=UTC).job("tick", handler).periodically_enqueue("*/20 * * * * *", "tick")

    # Given a pool that scheduled T0+20 .. T0+220 and ran the first two instances
    first = make()
    first.start()
    clock.set(T0 + 40)
    wait_until(lambda: len(runs) == 2, what="two runs")
    first.stop()
    # When it restarts 10 s later: the same members are written again, and nothing runs twice
    clock.set(T0 + 50)
    second = make()
    second.start()
    assert instants_of(redis_client, second, "tick") == list(range(T0 + 60, T0 + 281, 20))
    clock.set(T0 + 80)
    wait_until(lambda: len(runs) == 4, what="four runs")
    second.stop()
    # When no pool runs from T0+80 to T0+1000: the instances already scheduled (up to T0+280) run
    # late, once each, and those after T0+280 that fell during the outage are never enqueued
    clock.set(T0 + 1000)
    third = make()
    third.start()
    assert instants_of(redis_client, third, "tick")[-11:] == list(range(T0 + 1020, T0 + 1221, 20))
    wait_until(lambda: len(runs) == 14, what="the overdue instances")
    assert third.drain(10)
    assert set(runs.values()) == {1}
    assert sorted(int(i.rsplit(":", 1)[1]) - T0 for i in runs) == list(range(20, 281, 20))
    assert instants_of(redis_client, third, "tick") == list(range(T0 + 1020, T0 + 1221, 20))


def test_wrong_type_schedule_keys_skip_only_the_runtime_schedules(
    make_pool: MakePool, redis_client: redis.Redis, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a string where the runtime schedules' hash belongs, and a hash where the gate's string does
    pool = make_pool().job("noop", lambda job: None).periodically_enqueue("*/20 * * * * *", "tick")
    redis_client.set(pool.keys.periodic_schedules(), "not a hash")
    redis_client.hset(pool.keys.last_periodic_enqueue(), "not", "a string")
    pe = enqueuer(redis_client, pool, clock)
    # When the periodic enqueuer runs twice
    assert pe.run_once() is True
    clock.advance(120)
    assert pe.run_once() is True
    # Then the code's periodic job is scheduled all the same, the gate key is a number again, and
    # the bad schedules key is logged once
    assert instants_of(redis_client, pool, "tick")
    assert redis_client.get(pool.keys.last_periodic_enqueue()) == str(T0 + 120).encode()
    assert caplog.text.count(repr(pool.keys.periodic_schedules())) == 1
