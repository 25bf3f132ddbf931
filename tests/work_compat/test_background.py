"""The background loops of a worker pool on a real Redis: heartbeat, worker observations, the
scheduled and retry requeuers, the dead-pool reaper and the fork's history cleanup."""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
from collections.abc import Callable

import redis

from tests.work_compat.conftest import FAST, REAPER, T0, wait_until
from work_compat import (
    Client,
    Enqueuer,
    HistoryJob,
    Job,
    ManualClock,
    WorkerPool,
    decode_job,
    make_identifier,
)

MakePool = Callable[..., WorkerPool]

DAY = 86400


def text_hash(r: redis.Redis, key: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in r.hgetall(key).items()}


# -- heartbeat --------------------------------------------------------------------------------------


def test_a_running_pool_beats_its_heartbeat_and_leaves_on_stop(
    make_pool: MakePool, redis_client: redis.Redis, clock: ManualClock
) -> None:
    # Given a running pool of three workers for two job names
    pool = make_pool(3).job("zeta", lambda job: None).job("alpha", lambda job: None)
    pool.start()
    k = pool.keys
    # Then it is a member of worker_pools, with Go's seven heartbeat fields
    assert redis_client.smembers(k.worker_pools()) == {pool.pool_id.encode()}
    assert text_hash(redis_client, k.heartbeat(pool.pool_id)) == {
        "heartbeat_at": str(T0),
        "started_at": str(T0),
        "job_names": "alpha,zeta",
        "concurrency": "3",
        "worker_ids": ",".join(sorted(pool.worker_ids)),
        "host": socket.gethostname(),
        "pid": str(os.getpid()),
    }
    # And each beat renews heartbeat_at while started_at stays
    clock.advance(7)
    wait_until(
        lambda: redis_client.hget(k.heartbeat(pool.pool_id), "heartbeat_at") == str(T0 + 7).encode(),
        what="the next beat",
    )
    assert redis_client.hget(k.heartbeat(pool.pool_id), "started_at") == str(T0).encode()
    # When it stops, both entries are gone
    pool.stop()
    assert redis_client.smembers(k.worker_pools()) == set()
    assert redis_client.exists(k.heartbeat(pool.pool_id)) == 0


def test_abort_leaves_the_pool_for_a_reaper_which_recovers_its_job(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis
) -> None:
    started, release = threading.Event(), threading.Event()
    runs: list[str] = []

    def stuck(job: Job) -> None:
        runs.append("aborted pool")
        started.set()
        release.wait(10)

    job = enq.enqueue("work", {})
    aborted = make_pool(1).job("work", stuck)
    aborted.start()
    k = aborted.keys
    try:
        # Given a pool aborted while its job runs
        assert started.wait(5)
        aborted.abort()
        # Then its heartbeat and in-progress job stay, as a crashed pool's would
        assert redis_client.sismember(k.worker_pools(), aborted.pool_id)
        assert redis_client.hget(k.heartbeat(aborted.pool_id), "job_names") == b"work"
        assert redis_client.lrange(k.jobs_in_progress("work", aborted.pool_id), 0, -1) == [job.to_bytes()]
        # When its heartbeat is old and another pool's reaper runs
        redis_client.hset(k.heartbeat(aborted.pool_id), "heartbeat_at", T0 - 60)
        other = make_pool(1, settings=REAPER).job("work", lambda job: runs.append("other pool"))
        other.start()
        wait_until(lambda: "other pool" in runs, what="the other pool to run the recovered job")
        assert other.drain(10)
        # Then the job ran again there, and the aborted pool is gone from the books
        assert not redis_client.sismember(k.worker_pools(), aborted.pool_id)
        assert redis_client.exists(k.heartbeat(aborted.pool_id)) == 0
        assert redis_client.hget(k.jobs_lock_info("work"), aborted.pool_id) is None
    finally:
        release.set()
        # abort() is for a process about to exit; stop() afterwards ends what it left running,
        # after the held job's late completion, without registering the pool again
        aborted.stop(timeout=10)
    # And the aborted pool's late completion of that job changed nothing
    assert redis_client.get(k.jobs_lock("work")) == b"0"
    assert redis_client.hget(k.jobs_lock_info("work"), other.pool_id) == b"0"
    assert redis_client.zcard(k.retry()) == 0 and redis_client.zcard(k.dead()) == 0
    assert runs == ["aborted pool", "other pool"]


# -- observer -------------------------------------------------------------------------------------------


def test_a_busy_worker_is_observed_with_its_job_and_check_in(
    make_pool: MakePool, enq: Enqueuer, client: Client, clock: ManualClock, redis_client: redis.Redis
) -> None:
    started, check_in, finish = threading.Event(), threading.Event(), threading.Event()

    def handler(job: Job) -> None:
        started.set()
        check_in.wait(5)
        job.checkin("half way")
        finish.wait(5)

    job = enq.enqueue("observed", {"b": "<x>", "a": 1})
    pool = make_pool(1).job("observed", handler)
    pool.start()
    key = pool.keys.worker_observation(pool.worker_ids[0])
    try:
        # When the worker is running the job
        assert started.wait(5)
        fields = wait_until(lambda: text_hash(redis_client, key), what="the observation")
        # Then its hash names the job, with args as Go-JSON, and lives a day
        assert fields == {
            "job_name": "observed",
            "job_id": job.id,
            "started_at": str(T0),
            "args": '{"a":1,"b":"\\u003cx\\u003e"}',
        }
        assert DAY - 5 <= redis_client.ttl(key) <= DAY
        # And a check-in from the handler shows up with its time
        clock.advance(30)
        check_in.set()
        wait_until(lambda: redis_client.hget(key, "checkin") == b"half way", what="the check-in")
        assert redis_client.hget(key, "checkin_at") == str(T0 + 30).encode()
        [obs] = client.worker_observations()
        assert obs.is_busy and obs.job_id == job.id and obs.checkin == "half way"
    finally:
        check_in.set()
        finish.set()
    # When the worker is idle again, its hash is deleted
    assert pool.drain(10)
    wait_until(lambda: redis_client.exists(key) == 0, what="the idle worker's hash to go")
    assert not client.worker_observations()[0].is_busy


# -- requeuers ------------------------------------------------------------------------------------------


def test_due_scheduled_and_retry_jobs_move_to_their_queue_with_t_set_and_other_bytes_kept(
    make_pool: MakePool, client: Client, redis_client: redis.Redis
) -> None:
    # Given a due scheduled job and a due retry job, stored with bytes cjson would change, and one
    # from a producer that orders its fields otherwise
    scheduled = b'{"name":"work","id":"s1","t":1,"args":{"big":1e300,"list":[]}, "extra":1}'
    retry = b'{"name":"work","id":"r1","t":1,"args":{},"fails":1,"err":"x","failed_at":2}'
    foreign = b'{"id":"f1","name":"work","t":1,"args":{}}'
    unique = (
        b'{"name":"work","id":"u1","t":1,"args":{"k":1},"unique":true,"unique_key":"ns:unique:work:{\\"k\\":1}\\n"}'
    )
    k = client.keys
    redis_client.zadd(k.scheduled(), {scheduled: T0 - 10, foreign: T0 - 5, unique: T0 - 3})
    redis_client.zadd(k.retry(), {retry: T0})
    client.pause("work")  # keep them in the queue to look at them
    pool = make_pool(1).job("work", lambda job: None)
    # When the requeuers run
    pool.start()
    wait_until(lambda: redis_client.llen(k.jobs("work")) == 4, what="the four jobs in the queue")
    # Then they are in the queue and gone from their sets; "t" is the move time, as Go sets it (so
    # queue latency counts from then), and every other byte is as stored; a unique job keeps its
    # bytes whole (Go's workers release a by-key unique job by its bytes as enqueued)
    moved = sorted(redis_client.lrange(k.jobs("work"), 0, -1))
    t = str(T0).encode()
    assert moved == sorted(
        [
            scheduled.replace(b'"t":1,', b'"t":' + t + b","),
            retry.replace(b'"t":1,', b'"t":' + t + b","),
            foreign,
            unique,
        ]
    )
    assert redis_client.zcard(k.scheduled()) == 0 and redis_client.zcard(k.retry()) == 0
    assert [q.latency for q in client.queues() if q.job_name == "work"] == [0]


def test_the_requeuer_wakes_idle_workers_for_the_jobs_it_moved(
    make_pool: MakePool, enq: Enqueuer, clock: ManualClock, redis_client: redis.Redis
) -> None:
    # Given a pool whose worker, idle, sleeps a minute between fetches after three empty ones
    ran = threading.Event()
    pool = make_pool(1, sleep_backoffs=(0, 1, 1, 60_000)).job("soon", lambda job: ran.set())
    pool.start()
    wait_until(lambda: redis_client.exists(pool.keys.heartbeat(pool.pool_id)), what="the pool to beat")
    for _ in range(3):  # at least three empty fetches: the worker is in its long sleep
        pool.drain(5)
    # When a scheduled job falls due
    enq.enqueue_in("soon", 5, {})
    clock.advance(5)
    # Then the requeuer moves it and the worker starts it now, not after its sleep
    assert ran.wait(5), "the job waited for the worker's idle sleep"


def test_a_job_nobody_here_knows_stays_put_and_does_not_block_later_due_jobs(
    make_pool: MakePool, enq: Enqueuer, client: Client, redis_client: redis.Redis
) -> None:
    k = client.keys
    ghost = Job("ghost", "000000000000000000000001", T0, {}).to_bytes()
    redis_client.zadd(k.scheduled(), {ghost: T0 - 100})  # first due
    later = enq.enqueue_in("mine", -5, {"n": 1})
    ran: list[str] = []
    pool = make_pool(1).job("mine", lambda job: ran.append(job.id))
    pool.start()
    wait_until(lambda: ran == [later.job.id], what="the later due job to run")
    assert redis_client.zrange(k.scheduled(), 0, -1, withscores=True) == [(ghost, T0 - 100)]
    assert redis_client.zcard(k.dead()) == 0


def test_an_undecodable_due_member_goes_to_dead_as_a_valid_job(
    make_pool: MakePool, enq: Enqueuer, client: Client, redis_client: redis.Redis
) -> None:
    k = client.keys
    redis_client.zadd(k.retry(), {b"{broken": T0 - 1})
    after = enq.enqueue_in("mine", 0, {})
    ran: list[str] = []
    pool = make_pool(1).job("mine", lambda job: ran.append(job.id))
    pool.start()
    wait_until(lambda: redis_client.zcard(k.dead()) == 1, what="the member to be buried")
    [(member, score)] = redis_client.zrange(k.dead(), 0, -1, withscores=True)
    buried = decode_job(member)
    assert buried.args == {"raw": "{broken"} and buried.fails == 1 and buried.failed_at == T0 and score == T0
    assert "not valid JSON" in buried.last_err and len(buried.id) == 24
    assert redis_client.zcard(k.retry()) == 0
    wait_until(lambda: ran == [after.job.id], what="the next due job to run")


def test_a_job_due_in_the_future_waits_for_the_clock(
    make_pool: MakePool, enq: Enqueuer, clock: ManualClock, client: Client, redis_client: redis.Redis
) -> None:
    k = client.keys
    future = enq.enqueue_in("timed", 60, {"when": "later"})
    now = enq.enqueue_in("timed", 0, {"when": "now"})
    ran: list[str] = []
    pool = make_pool(1).job("timed", lambda job: ran.append(job.id))
    pool.start()
    # the due job moved and ran, which means the requeuer looked, and left the future one
    wait_until(lambda: ran == [now.job.id], what="the due job to run")
    assert redis_client.zrange(k.scheduled(), 0, -1) == [future.job.to_bytes()]
    clock.advance(60)
    wait_until(lambda: ran == [now.job.id, future.job.id], what="the future job once due")
    assert redis_client.zcard(k.scheduled()) == 0


# -- reaper ---------------------------------------------------------------------------------------------


def fake_pool(r: redis.Redis, client: Client, heartbeat_at: int, jobs: list[bytes], name: str = "work") -> str:
    """Write what a pool that has fetched ``jobs`` of ``name`` leaves in Redis; returns its id."""
    k = client.keys
    pool_id = make_identifier()
    r.sadd(k.worker_pools(), pool_id)
    r.hset(
        k.heartbeat(pool_id),
        mapping={
            "heartbeat_at": heartbeat_at,
            "started_at": heartbeat_at - 3600,
            "job_names": name,
            "concurrency": 2,
            "worker_ids": "aaa,bbb",
            "host": "elsewhere",
            "pid": 1,
        },
    )
    if jobs:
        r.rpush(k.jobs_in_progress(name, pool_id), *jobs)
        r.incrby(k.jobs_lock(name), len(jobs))
        r.hincrby(k.jobs_lock_info(name), pool_id, len(jobs))
    return pool_id


def test_the_reaper_requeues_a_dead_pools_jobs_and_clears_its_entries(
    make_pool: MakePool, client: Client, redis_client: redis.Redis
) -> None:
    k = client.keys
    jobs = [b'{"name":"work","id":"j1","t":1,"args":{}}', b'{"name":"work","id":"j2","t":1,"args":{"x":1.0}}']
    # Given a pool that stopped beating a minute ago with two jobs in progress
    dead = fake_pool(redis_client, client, T0 - 60, jobs)
    client.pause("work")  # keep the requeued jobs in the queue to look at them
    pool = make_pool(1, settings=REAPER).job("work", lambda job: None)
    # When our pool's reaper runs
    pool.start()
    wait_until(lambda: not redis_client.sismember(k.worker_pools(), dead), what="the dead pool to be reaped")
    # Then its jobs are back in the queue unchanged, and its share of the counters is gone
    assert sorted(redis_client.lrange(k.jobs("work"), 0, -1)) == sorted(jobs)
    assert redis_client.llen(k.jobs_in_progress("work", dead)) == 0
    assert redis_client.get(k.jobs_lock("work")) == b"0"
    assert redis_client.hget(k.jobs_lock_info("work"), dead) is None
    assert redis_client.exists(k.heartbeat(dead)) == 0
    # and our own pool is still there
    assert redis_client.sismember(k.worker_pools(), pool.pool_id)


def test_the_reaper_leaves_a_live_pool_alone(make_pool: MakePool, client: Client, redis_client: redis.Redis) -> None:
    k = client.keys
    live_job = b'{"name":"work","id":"live","t":1,"args":{}}'
    dead_job = b'{"name":"work","id":"dead","t":1,"args":{}}'
    # Given a live pool (fresh heartbeat) and a dead one, each with a job in progress
    live = fake_pool(redis_client, client, T0 - 2, [live_job])
    dead = fake_pool(redis_client, client, T0 - 11, [dead_job])
    client.pause("work")
    pool = make_pool(1, settings=REAPER).job("work", lambda job: None)
    pool.start()
    wait_until(lambda: not redis_client.sismember(k.worker_pools(), dead), what="the dead pool to be reaped")
    # Then only the dead pool's job came back; the live pool's job, counters and heartbeat stay
    assert redis_client.lrange(k.jobs("work"), 0, -1) == [dead_job]
    assert redis_client.lrange(k.jobs_in_progress("work", live), 0, -1) == [live_job]
    assert redis_client.get(k.jobs_lock("work")) == b"1"
    assert redis_client.hgetall(k.jobs_lock_info("work")) == {live.encode(): b"1"}
    assert redis_client.sismember(k.worker_pools(), live)
    assert redis_client.hget(k.heartbeat(live), "heartbeat_at") == str(T0 - 2).encode()


def test_a_pool_whose_heartbeat_hash_is_gone_is_reaped_for_our_job_names(
    make_pool: MakePool, client: Client, redis_client: redis.Redis
) -> None:
    k = client.keys
    job = b'{"name":"work","id":"orphan","t":1,"args":{}}'
    gone = fake_pool(redis_client, client, T0 - 60, [job])
    redis_client.delete(k.heartbeat(gone))
    client.pause("work")
    pool = make_pool(1, settings=REAPER).job("work", lambda job: None)
    pool.start()
    wait_until(lambda: not redis_client.sismember(k.worker_pools(), gone), what="the pool to be reaped")
    assert redis_client.lrange(k.jobs("work"), 0, -1) == [job]
    assert redis_client.get(k.jobs_lock("work")) == b"0"
    assert redis_client.hget(k.jobs_lock_info("work"), gone) is None


def test_history_older_than_the_retention_is_cleaned_from_all_three_keys(
    make_pool: MakePool, client: Client, redis_client: redis.Redis
) -> None:
    k = client.keys
    retention = 15 * DAY
    old = HistoryJob(T0 - retention - 1, "success", Job("work", "0" * 23 + "1", T0 - retention - 5, {}))
    new = HistoryJob(T0 - retention + 60, "dead", Job("work", "0" * 23 + "2", T0 - retention, {}, fails=1))
    # Given an old and a newer history entry of a known job name
    for h in (old, new):
        doc = h.to_json()
        redis_client.zadd(k.history(), {doc: h.completed_at})
        redis_client.zadd(k.history_for("work"), {doc: h.completed_at})
        redis_client.hset(k.history_index(), h.job.id, doc)
    pool = make_pool(1, settings=REAPER).job("work", lambda job: None)
    # When the reaper has run
    pool.start()
    wait_until(lambda: redis_client.hlen(k.history_index()) == 1, what="the old index entry to go")
    # Then only the newer entry is left, in each of the three keys
    doc = new.to_json().encode()
    wait_until(lambda: redis_client.zrange(k.history(), 0, -1) == [doc], what="history cleaned")
    assert redis_client.zrange(k.history_for("work"), 0, -1) == [doc]
    assert redis_client.hgetall(k.history_index()) == {new.job.id.encode(): doc}


def test_the_reaper_holds_off_right_after_a_redis_outage(client: Client, redis_client: redis.Redis) -> None:
    # Given a pool whose heartbeat is stale only because Redis was down, and a reaper whose own
    # pool has just seen Redis come back
    from work_compat.outage import RedisOutage
    from work_compat.reaper import Reaper
    from work_compat.scripts import Scripts

    k = client.keys
    stale = fake_pool(redis_client, client, T0 - 60, [b'{"name":"work","id":"j1","t":1,"args":{}}'])
    seconds = [1000.0]
    outage = RedisOutage("redis://test", clock=lambda: seconds[0])
    outage.failed("worker 0", ConnectionError("refused"))
    seconds[0] += 60
    outage.recovered()
    reaper = Reaper(
        redis_client,
        Scripts(redis_client),
        k,
        lambda: ["work"],
        clock=ManualClock(T0),
        dead_after=10,
        first_delay=0,
        period=600,
        jitter=0,
        history_retention=None,
    )
    reaper.outage = outage
    # When it runs within dead_after of the recovery, it reaps nothing
    seconds[0] += 5
    assert reaper.tick() is False
    assert redis_client.sismember(k.worker_pools(), stale)
    # And once the live pools have had time to beat again, it judges as usual
    seconds[0] += 6
    reaper.tick()
    assert not redis_client.sismember(k.worker_pools(), stale)
    assert redis_client.llen(k.jobs("work")) == 1


def test_redis_coming_back_refreshes_a_live_pools_heartbeat_but_not_a_stopped_ones(
    make_pool: MakePool, clock: ManualClock, redis_client: redis.Redis
) -> None:
    # (a pool that beats only at start, so that any later beat is the recovery's)
    pool = make_pool(1, settings=dataclasses.replace(FAST, heartbeat_period=3600)).job("work", lambda job: None)
    pool.start()
    key = pool.keys.heartbeat(pool.pool_id)
    assert redis_client.hget(key, "heartbeat_at") == str(clock.now()).encode()
    clock.advance(120)  # the beats stopped while Redis was unreachable
    pool.outage.failed("worker 0", ConnectionError("refused"))
    pool.outage.recovered()
    assert redis_client.hget(key, "heartbeat_at") == str(clock.now()).encode()
    pool.abort()  # an aborted pool stays stale, for a reaper to recover its jobs
    clock.advance(120)
    pool.outage.failed("worker 0", ConnectionError("refused"))
    pool.outage.recovered()
    assert redis_client.hget(key, "heartbeat_at") != str(clock.now()).encode()
