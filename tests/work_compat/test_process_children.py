"""Process pools whose children fetch and complete their own jobs: a child SIGKILLed mid-job has
that job, and only that one, run again, with the pool's in-progress list and lock counters exact."""

from __future__ import annotations

import logging
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing import popen_spawn_posix

import pytest
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
    # (its retry is due at once, but a drain does not wait for the requeuer to move it: Go's neither)
    wait_until(lambda: redis_client.hget(key, str(SLOW)) == b"2", 10, "the slow job's retry to run")
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


def test_a_stop_does_not_take_a_child_another_thread_reaped_for_stuck(
    make_pool: MakePool, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a process pool whose children, once they exit, are always reaped by "another thread"
    # first: the worst interleaving of two threads calling waitpid on one child, where the loser
    # gets ECHILD and multiprocessing reads that as "still running"
    pool = make_pool(2, processes=True).job("c", procjobs.count_runs)
    pool.start()
    assert pool._children is not None
    pids = {c.process.pid for c in pool._children.children if c is not None}
    assert len(pids) == 2
    real_poll = popen_spawn_posix.Popen.poll

    def poll(self: popen_spawn_posix.Popen, flag: int = os.WNOHANG) -> int | None:
        if self.pid in pids and self.returncode is None and multiprocessing.connection.wait([self.sentinel], 0):
            pids.discard(self.pid)
            os.waitpid(self.pid, 0)  # the other thread's reap, whose exit code is never recorded
        return real_poll(self, flag)

    monkeypatch.setattr(popen_spawn_posix.Popen, "poll", poll)
    wait_until(lambda: redis_client.sismember(pool.keys.worker_pools(), pool.pool_id), 5, "the pool to register")

    # When it stops gracefully
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="work_compat.worker_pool"):
        pool.stop()

    # Then no child is reported stuck and the pool leaves the registry at once
    assert "still running" not in caplog.text
    assert time.monotonic() - started < 10
    assert redis_client.sismember(pool.keys.worker_pools(), pool.pool_id) == 0


def test_a_child_started_while_a_stop_begins_is_stopped_gracefully(
    make_pool: MakePool, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a process pool whose watching thread is starting a replacement child, held at the
    # moment the new process exists until a stop has begun
    pool = make_pool(2, processes=True).job("c", procjobs.count_runs)
    pool.start()
    children = pool._children
    assert children is not None
    spawning, stop_called = threading.Event(), threading.Event()
    started: list[multiprocessing.process.BaseProcess] = []
    real_spawn, real_stop = children._spawn, children.stop

    def spawn(slot: int) -> object:
        child = real_spawn(slot)
        started.append(child.process)
        spawning.set()
        assert stop_called.wait(10)
        return child

    def stop(timeout: float) -> list[str]:
        stop_called.set()
        return real_stop(timeout)

    monkeypatch.setattr(children, "_spawn", spawn)
    monkeypatch.setattr(children, "stop", stop)
    wait_until(lambda: redis_client.sismember(pool.keys.worker_pools(), pool.pool_id), 5, "the pool to register")
    first = children.children[1]
    assert first is not None
    os.kill(first.process.pid, signal.SIGKILL)
    assert spawning.wait(30), "the replacement child to be started"

    # When the pool stops gracefully meanwhile
    with caplog.at_level(logging.WARNING, logger="work_compat.worker_pool"):
        pool.stop()

    # Then the new child was told to stop and exited by itself, and the pool left the registry
    assert "still running" not in caplog.text
    (new,) = started
    assert new.exitcode == 0
    assert redis_client.sismember(pool.keys.worker_pools(), pool.pool_id) == 0


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
