"""Process pools whose children fetch and complete their own jobs: a child SIGKILLed mid-job has
that job, and only that one, run again, with the pool's in-progress list and lock counters exact."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import redis

from tests.redis_server import RedisServer
from tests.work_compat import procjobs
from tests.work_compat.conftest import wait_until
from work_compat import Enqueuer, HistoryJob, JobOptions, WorkerPool, decode_job

MakePool = Callable[..., WorkerPool]
N, SLOW = 30, 12


def test_a_child_sigkilled_mid_job_has_only_that_job_run_again(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    # Given a pool of two children working 30 jobs, one of which runs long
    key = "runs"
    enq.enqueue_many(("c", {"url": redis_server.url, "key": key, "i": i, "slow": i == SLOW}) for i in range(N))
    opts = JobOptions(max_fails=3, backoff=procjobs.no_backoff)
    pool = make_pool(2, processes=True).job_with_options("c", opts, procjobs.count_runs)
    pool.start()
    k = pool.keys
    pid = int(wait_until(lambda: redis_client.get(key + ":pid"), 30, "the slow job to start"))
    assert pid != os.getpid()

    # When its child is SIGKILLed, once the completions of the jobs it finished are written (about
    # one round trip after each handler returned)
    in_progress = k.jobs_in_progress("c", pool.pool_id)

    def finished_by_the_child_are_completed() -> bool:
        by_child = {int(i) for i, p in redis_client.hgetall(key + ":by").items() if int(p) == pid} - {SLOW}
        done = {h.job.arg_int64("i") for h in pool_history(redis_client, pool) if h.status == "success"}
        return by_child <= done

    wait_until(finished_by_the_child_are_completed, 1.0, "the child's finished jobs to be completed in Redis")
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()

    # Then within a second the slow job has left the pool's in-progress list (failed with
    # WorkerLost, so retried), and the other child goes on
    def slow_recovered() -> bool:
        return not any(decode_job(v).arg_bool("slow") for v in redis_client.lrange(in_progress, 0, -1))

    wait_until(slow_recovered, 1.0, "the dead child's job to leave the in-progress list")
    recovered = time.monotonic() - killed_at
    assert pool.drain(30)

    # And it ran again once; every other job ran exactly once; nothing is left held
    runs = {int(i): int(n) for i, n in redis_client.hgetall(key).items()}
    assert runs == {i: 2 if i == SLOW else 1 for i in range(N)}
    assert redis_client.llen(in_progress) == 0
    assert redis_client.get(k.jobs_lock("c")) == b"0"
    assert redis_client.hget(k.jobs_lock_info("c"), pool.pool_id) == b"0"
    assert redis_client.zcard(k.retry()) == redis_client.zcard(k.dead()) == 0
    (done,) = [h for h in pool_history(redis_client, pool) if h.job.arg_int64("i") == SLOW and h.status == "retry"]
    assert done.job.last_err.startswith("WorkerLost: the worker process died (exit code -9)")
    print(f"dead child's job recovered {recovered * 1000:.0f} ms after the SIGKILL")


def test_a_graceful_stop_leaves_no_fetched_job_of_a_child_in_progress(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    # Given one child that fetched quick jobs in batches and now runs a slow one (the ninth)
    key = "runs"
    jobs = [{"url": redis_server.url, "key": key, "i": i} for i in range(13)]
    jobs[8]["ms"] = 1500
    enq.enqueue_many(("c", args) for args in jobs)
    pool = make_pool(1, processes=True).job("c", procjobs.count_runs)
    pool.start()
    wait_until(lambda: redis_client.hexists(key, "8"), 30, "the slow job to start")

    # When the pool stops gracefully
    pool.stop()

    # Then the slow job finished, the jobs after it wait in the queue, nothing is in progress
    k = pool.keys
    assert {int(i) for i in redis_client.hgetall(key)} == set(range(9))
    assert redis_client.llen(k.jobs("c")) == 4
    assert redis_client.llen(k.jobs_in_progress("c", pool.pool_id)) == 0
    assert redis_client.get(k.jobs_lock("c")) == b"0"
    assert redis_client.hget(k.jobs_lock_info("c"), pool.pool_id) == b"0"


def pool_history(r: redis.Redis, pool: WorkerPool) -> list[HistoryJob]:
    return [HistoryJob.from_json(m) for m in r.zrange(pool.keys.history(), 0, -1)]


def test_a_pool_given_a_client_object_still_runs_handlers_in_children(
    make_pool: MakePool, enq: Enqueuer, redis_client: redis.Redis, redis_server: RedisServer, namespace: str
) -> None:
    # A client object cannot be rebuilt in a child: the parent fetches for its children, as before
    enq.enqueue("record_pid", {"url": redis_server.url, "key": "pids"})
    client = redis.Redis.from_url(redis_server.url)
    pool = WorkerPool(1, namespace, client, processes=True).job("record_pid", procjobs.record_pid)
    pool.start()
    try:
        assert pool.drain(30)
    finally:
        pool.stop()
        client.close()
    (pid,) = [int(p) for p in redis_client.lrange("pids", 0, -1)]
    assert pid != os.getpid()
