"""A queue key of the wrong Redis type stops only its own job name: the pool leaves that name out
of fetching (logged once, listed in ``warnings()``), checks it again every ``bad_key_recheck``
seconds and fetches it again once the key is fixed. A failed fetch moves no job and no counter;
a completion Redis refuses stays in progress and is sent again, and never stops the other
completions of the same call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import pytest
import redis

from tests.redis_server import RedisServer
from tests.work_compat import procjobs
from tests.work_compat.conftest import FAST, wait_until
from work_compat import Enqueuer, Job, Keys, WorkerPool
from work_compat.processor import Completion, Fetched
from work_compat.scripts import Scripts
from work_compat.worker import step_arguments

SETTINGS = replace(FAST, bad_key_recheck=0.5)


class Runs:
    """What the handlers ran, by job name (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.names: list[str] = []

    def handler(self, job: Job) -> None:
        with self.lock:
            self.names.append(job.name)

    def count(self, name: str) -> int:
        with self.lock:
            return self.names.count(name)


def _pool(make_pool: Callable[..., WorkerPool], runs: Runs) -> WorkerPool:
    return make_pool(2, settings=SETTINGS).job("good", runs.handler).job("bad", runs.handler)


def test_a_string_at_one_queue_key_leaves_the_other_names_running(
    make_pool: Callable[..., WorkerPool],
    enq: Enqueuer,
    redis_client: redis.Redis,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    k = Keys(namespace)
    runs = Runs()
    # Given a string where the queue of "bad" belongs, and jobs of "good"
    redis_client.set(k.jobs("bad"), "not a list")
    pool = _pool(make_pool, runs)
    pool.start()
    for i in range(20):
        enq.enqueue("good", {"i": i})
    # Then every "good" job runs, and the bad key is logged once with its type and listed
    wait_until(lambda: runs.count("good") == 20, 10, "the 20 good jobs")
    line = f"key {k.jobs('bad')!r} is a string, not a list"
    wait_until(lambda: any(line in w for w in pool.warnings()), 5, "the warning")
    assert caplog.text.count(line) == 1
    # When the key is fixed, "bad"'s jobs run too, and "good" still does
    redis_client.delete(k.jobs("bad"))
    for i in range(3):
        enq.enqueue("bad", {"i": i})
        enq.enqueue("good", {"i": 100 + i})
    wait_until(lambda: runs.count("bad") == 3 and runs.count("good") == 23, 10, "the jobs after the fix")
    assert caplog.text.count(line) == 1
    assert "fetching it resumes" in caplog.text


@pytest.mark.parametrize(
    ("which", "spoil"),
    [
        ("lock", lambda r, key: r.hset(key, "not", "a counter")),
        ("lock_info", lambda r, key: r.set(key, "not a hash")),
        ("inprogress", lambda r, key: r.hset(key, "not", "a list")),
        ("paused", lambda r, key: r.rpush(key, "not a flag")),
        ("max_concurrency", lambda r, key: r.sadd(key, "not a number")),
    ],
)
def test_a_wrong_type_fetch_key_strands_nothing(
    make_pool: Callable[..., WorkerPool],
    enq: Enqueuer,
    redis_client: redis.Redis,
    namespace: str,
    which: str,
    spoil: Callable[[redis.Redis, str], object],
) -> None:
    k = Keys(namespace)
    runs = Runs()
    pool = _pool(make_pool, runs)
    key = {
        "lock": k.jobs_lock("bad"),
        "lock_info": k.jobs_lock_info("bad"),
        "inprogress": k.jobs_in_progress("bad", pool.pool_id),
        "paused": k.jobs_paused("bad"),
        "max_concurrency": k.jobs_max_concurrency("bad"),
    }[which]
    # Given a key of the wrong type among "bad"'s fetch keys (start() SETs max_concurrency, so
    # that one is spoiled after it), then jobs of both names
    if which != "max_concurrency":
        spoil(redis_client, key)
    pool.start()
    if which == "max_concurrency":
        redis_client.delete(key)
        spoil(redis_client, key)
    assert all(enq.enqueue("bad", {"i": i}) for i in range(3))
    for i in range(10):
        enq.enqueue("good", {"i": i})
    # Then the good jobs all run, and the bad name's jobs are all still queued, no counter moved
    wait_until(lambda: runs.count("good") == 10, 10, "the good jobs")
    wait_until(lambda: any(repr(key) in w for w in pool.warnings()), 5, "the warning")
    pool.stop()
    if which != "inprogress":
        assert redis_client.llen(k.jobs_in_progress("bad", pool.pool_id)) == 0
    if which != "lock":
        assert int(redis_client.get(k.jobs_lock("bad")) or 0) == 0
    if which != "lock_info":
        assert int(redis_client.hget(k.jobs_lock_info("bad"), pool.pool_id) or 0) == 0
    assert redis_client.llen(k.jobs("bad")) == 3
    assert runs.count("bad") == 0


def _completion(keys: Keys, pool_id: str, name: str, kind: str, r: redis.Redis, i: int) -> Completion:
    job = Job(name, f"{name}{i:023d}", 1_800_000_000, {"i": i})
    raw = job.to_bytes()
    inprogress = keys.jobs_in_progress(name, pool_id)
    r.lpush(inprogress, raw)
    r.incr(keys.jobs_lock(name))
    r.hincrby(keys.jobs_lock_info(name), pool_id, 1)
    fetched = Fetched(raw, keys.jobs(name), inprogress, name)
    return Completion(fetched, kind, job, completed_at=1_800_000_001, history_status="success")


def test_a_refused_completion_write_does_not_stop_the_others(redis_client: redis.Redis, namespace: str) -> None:
    k = Keys(namespace)
    scripts = Scripts(redis_client)
    # Given three completions in one call: a job handed back to a queue that is a string, a
    # success, and a success whose lock counter is a hash
    back = _completion(k, "p1", "bad", "put_back", redis_client, 1)
    ok = _completion(k, "p1", "good", "success", redis_client, 2)
    odd = _completion(k, "p1", "odd", "success", redis_client, 3)
    redis_client.set(k.jobs("bad"), "not a list")
    redis_client.delete(k.jobs_lock("odd"))
    redis_client.hset(k.jobs_lock("odd"), "not", "a counter")
    keys, args = step_arguments(k, "p1", [back, ok, odd], [], [], 0)
    # When work_step writes them
    done, failures, fetch_error = scripts.work_step(keys=keys, args=args)
    # Then the two successes are written, the hand-back is refused and its job kept in progress
    assert done == 2
    assert fetch_error == b""
    assert failures[0:2] == [0, k.jobs("bad").encode()] and failures[3] == 1
    assert failures[2].startswith(b"WRONGTYPE")
    assert failures[4:6] == [2, k.jobs_lock("odd").encode()] and failures[7] == 0
    assert len(failures) == 8
    assert redis_client.lrange(k.jobs_in_progress("bad", "p1"), 0, -1) == [back.fetched.raw]
    assert redis_client.get(k.jobs_lock("bad")) == b"1"  # its counters untouched
    assert redis_client.llen(k.jobs_in_progress("good", "p1")) == 0
    assert redis_client.get(k.jobs_lock("good")) == b"0"
    assert redis_client.llen(k.jobs_in_progress("odd", "p1")) == 0
    assert redis_client.zcard(k.history_for("good")) == 1 and redis_client.zcard(k.history_for("odd")) == 1


def _fetch_group(k: Keys, name: str, pool_id: str) -> list[str]:
    """The six fetch keys of one job name, in work_step.lua's order."""
    return [
        k.jobs(name),
        k.jobs_in_progress(name, pool_id),
        k.jobs_paused(name),
        k.jobs_lock(name),
        k.jobs_lock_info(name),
        k.jobs_max_concurrency(name),
    ]


@pytest.mark.parametrize("spoiled", ["lock", "lock_info"])
def test_a_batch_fetch_whose_counter_is_refused_puts_every_job_back_in_order(
    redis_client: redis.Redis, namespace: str, spoiled: str
) -> None:
    k = Keys(namespace)
    scripts = Scripts(redis_client)
    # Given four queued jobs of one name, whose lock (or lock_info) key holds a value of another type
    queued = [b'{"name":"bad","id":"%d","t":1,"args":{}}' % i for i in range(4)]
    redis_client.rpush(k.jobs("bad"), *queued)
    spoiled_key = k.jobs_lock("bad") if spoiled == "lock" else k.jobs_lock_info("bad")
    redis_client.sadd(spoiled_key, "not a counter")
    fetch_keys = _fetch_group(k, "bad", "p1")
    keys, args = step_arguments(k, "p1", [], fetch_keys, [3], 3)
    # When one work step asks for three of them
    reply = scripts.work_step(keys=keys, args=args)
    # Then it says why, returns no job, and the queue is as it was, order included, with no counter moved
    assert reply[2].startswith(b"WRONGTYPE")
    assert len(reply) == 3
    assert redis_client.lrange(k.jobs("bad"), 0, -1) == queued
    assert redis_client.llen(k.jobs_in_progress("bad", "p1")) == 0
    if spoiled == "lock_info":
        assert int(redis_client.get(k.jobs_lock("bad")) or 0) == 0
    else:
        assert redis_client.hget(k.jobs_lock_info("bad"), "p1") is None


def test_a_batch_counts_each_job_as_go_does(redis_client: redis.Redis, namespace: str) -> None:
    k = Keys(namespace)
    scripts = Scripts(redis_client)
    redis_client.rpush(k.jobs("n"), *[b'{"name":"n","id":"%d","t":1,"args":{}}' % i for i in range(5)])
    fetch_keys = _fetch_group(k, "n", "p1")
    keys, args = step_arguments(k, "p1", [], fetch_keys, [3], 3)
    reply = scripts.work_step(keys=keys, args=args)
    assert len(reply) == 3 + 3 * 3
    assert redis_client.get(k.jobs_lock("n")) == b"3"
    assert redis_client.hget(k.jobs_lock_info("n"), "p1") == b"3"
    # completing them takes both counters back to 0 and writes one history entry each
    done = [
        Completion(
            Fetched(reply[i], k.jobs("n"), k.jobs_in_progress("n", "p1"), "n"),
            "success",
            Job("n", str(i), 1),
            completed_at=1_800_000_001,
            history_status="success",
        )
        for i in range(3, len(reply), 3)
    ]
    keys, args = step_arguments(k, "p1", done, [], [], 0)
    assert scripts.work_step(keys=keys, args=args)[0] == 3
    assert redis_client.get(k.jobs_lock("n")) == b"0"
    assert redis_client.hget(k.jobs_lock_info("n"), "p1") == b"0"
    assert redis_client.zcard(k.history()) == 3 and redis_client.zcard(k.history_for("n")) == 3
    assert redis_client.hlen(k.history_index()) == 3
    assert redis_client.llen(k.jobs_in_progress("n", "p1")) == 0


def test_a_refused_completion_is_sent_again_once_the_key_is_fixed(
    make_pool: Callable[..., WorkerPool],
    enq: Enqueuer,
    redis_client: redis.Redis,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    k = Keys(namespace)

    def fail(job: Job) -> None:
        raise RuntimeError("boom")

    # Given a pool whose job fails (so it goes to retry), and a string where the retry set belongs
    redis_client.set(k.retry(), "not a sorted set")
    pool = make_pool(1, settings=SETTINGS).job("f", fail)
    pool.start()
    job = enq.enqueue("f", {})
    assert job is not None
    inprogress = k.jobs_in_progress("f", pool.pool_id)
    # Then the job stays in progress (nothing lost), the key is reported once
    line = f"key {k.retry()!r} is a string, not a sorted set: a job completion skipped it"
    wait_until(lambda: line in caplog.text, 10, "the report")
    assert redis_client.llen(inprogress) == 1
    assert any(line in w for w in pool.warnings())
    # When the key is fixed, the completion is sent again: the job is in retry, no longer in progress
    redis_client.delete(k.retry())
    wait_until(lambda: redis_client.zcard(k.retry()) == 1, 10, "the job in retry")
    assert redis_client.llen(inprogress) == 0
    assert caplog.text.count(line) == 1


def test_a_process_pool_child_leaves_the_bad_name_out(
    make_pool: Callable[..., WorkerPool],
    enq: Enqueuer,
    redis_client: redis.Redis,
    namespace: str,
    redis_server: RedisServer,
) -> None:
    k = Keys(namespace)
    redis_url = redis_server.url
    # Given a string at one queue key, and a process pool whose children fetch their own jobs
    redis_client.set(k.jobs("bad"), "not a list")
    pool = (
        make_pool(2, processes=True, settings=SETTINGS).job("good", procjobs.record_pid).job("bad", procjobs.record_pid)
    )
    pool.start()
    out = f"{namespace}:out"
    for _ in range(10):
        enq.enqueue("good", {"url": redis_url, "key": out})
    # Then the children run every good job, and the parent lists the key the children found
    wait_until(lambda: redis_client.llen(out) == 10, 30, "the good jobs in the children")
    line = f"key {k.jobs('bad')!r} is a string, not a list"
    wait_until(lambda: any(line in w for w in pool.warnings()), 10, "the children's warning")
    # When the key is fixed, the bad name's jobs run too
    redis_client.delete(k.jobs("bad"))
    for _ in range(3):
        enq.enqueue("bad", {"url": redis_url, "key": out})
    wait_until(lambda: redis_client.llen(out) == 13, 30, "the bad name's jobs after the fix")


def test_the_in_progress_repair_skips_a_list_of_the_wrong_type(
    make_pool: Callable[..., WorkerPool], redis_client: redis.Redis, namespace: str
) -> None:
    k = Keys(namespace)
    runs = Runs()
    pool = _pool(make_pool, runs)
    # Given a hash at "bad"'s in-progress key, and a "good" job fetched with a lost reply (in
    # progress, held by no worker)
    redis_client.hset(k.jobs_in_progress("bad", pool.pool_id), "not", "a list")
    pool.start()
    raw = Job("good", "g" * 24, 1_800_000_000, {}).to_bytes()
    redis_client.lpush(k.jobs_in_progress("good", pool.pool_id), raw)
    redis_client.incr(k.jobs_lock("good"))
    redis_client.hincrby(k.jobs_lock_info("good"), pool.pool_id, 1)
    # When the pool repairs its in-progress lists
    pool.needs_repair.set()
    pool.repair_in_progress()
    # Then the good job went back and runs; the repair is done (not retried before every fetch)
    assert not pool.needs_repair.is_set()
    wait_until(lambda: runs.count("good") == 1, 10, "the good job")
    assert any(repr(k.jobs_in_progress("bad", pool.pool_id)) in w for w in pool.warnings())
