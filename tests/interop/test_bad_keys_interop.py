"""A queue key of the wrong Redis type beside a Go pool: what the real Go library does, and that a
Python pool on the same namespace still runs every other name's jobs.

Go's fetch script reads the keys of each name in its sampled order and stops at the first job it
takes, so a fetch fails (``WRONGTYPE``, logged to stderr, retried after 10 ms) whenever the bad
name comes before a name with a job; and it raises a name's lock counters before it moves the
job, so a lock_info key of the wrong type leaves the lock raised by every failed fetch.
"""

from __future__ import annotations

import json
import subprocess
import threading
from dataclasses import replace

import pytest
import redis

from tests.interop.driver import GoDriver
from tests.interop.test_worker_interop import FAST, enqueue_ids, finish, wait_until
from tests.redis_server import RedisServer
from work_compat import Job, Keys, PoolSettings, WorkerPool

pytestmark = pytest.mark.interop

SETTINGS = replace(PoolSettings(), bad_key_recheck=0.5)


class Ids:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: list[str] = []

    def __call__(self, job: Job) -> None:
        with self.lock:
            self.ids.append(job.id)


def test_a_string_at_one_queue_key_beside_a_go_pool(
    go_driver: GoDriver,
    redis_server: RedisServer,
    namespace: str,
    redis_client: redis.Redis,
    procs: list[subprocess.Popen[str]],
) -> None:
    k = Keys(namespace)
    # Given a string where the queue of "bad" belongs, 200 jobs of "good", and a Go pool and a
    # Python pool that both register both names
    redis_client.set(k.jobs("bad"), "not a list")
    ids = enqueue_ids(redis_server.url, namespace, "good", 200)
    ran = Ids()
    pool = WorkerPool(2, namespace, redis_server.url, sleep_backoffs=FAST, settings=SETTINGS)
    pool.job("good", ran).job("bad", ran)
    procs.append(go_driver.start_work(namespace, ["good", "bad"], concurrency="2", hold_seconds="4"))
    pool.start()
    try:
        # Then every good job runs once between them, and the Python pool lists the bad key
        wait_until("the good queue is empty", lambda: redis_client.llen(k.jobs("good")) == 0, 30)
        wait_until("the warning", lambda: any(repr(k.jobs("bad")) in w for w in pool.warnings()), 10)
        proc = procs[0]
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
    finally:
        pool.stop()
        pool.close()
    go_ids = [r["id"] for r in json.loads(stdout)["records"]]
    assert sorted(go_ids + ran.ids) == sorted(ids)
    # And Go's fetch failed with WRONGTYPE again and again (its pool does not leave the name out)
    failures = stderr.count("WRONGTYPE")
    assert failures > 10, stderr[-2000:]
    print(
        f"{go_driver.lib}: Go ran {len(go_ids)} of 200, Python {len(ran.ids)};"
        f" Go logged {failures} WRONGTYPE fetch errors in 4 s"
    )


def test_a_wrong_type_lock_info_raises_go_s_lock_but_not_ours(
    go_driver: GoDriver,
    redis_server: RedisServer,
    namespace: str,
    redis_client: redis.Redis,
    procs: list[subprocess.Popen[str]],
) -> None:
    k = Keys(namespace)
    # Given one job of "bad" whose lock_info key is a string
    enqueue_ids(redis_server.url, namespace, "bad", 1)
    redis_client.set(k.jobs_lock_info("bad"), "not a hash")
    # When a Python pool works the namespace alone for a while
    pool = WorkerPool(1, namespace, redis_server.url, sleep_backoffs=FAST, settings=SETTINGS)
    pool.job("bad", Ids())
    pool.start()
    try:
        wait_until("the warning", lambda: any(repr(k.jobs_lock_info("bad")) in w for w in pool.warnings()), 10)
    finally:
        pool.stop()
        pool.close()
    # Then the job is still queued and the lock untouched
    assert redis_client.llen(k.jobs("bad")) == 1
    assert int(redis_client.get(k.jobs_lock("bad")) or 0) == 0
    # When a Go pool does the same for 2 s
    procs.append(go_driver.start_work(namespace, ["bad"], concurrency="1", hold_seconds="2"))
    out = finish(procs[-1])
    # Then the job is still queued too, but each failed fetch left the lock one higher
    assert out["records"] == []
    assert redis_client.llen(k.jobs("bad")) == 1
    lock = int(redis_client.get(k.jobs_lock("bad")) or 0)
    assert lock > 10
    print(f"{go_driver.lib}: Go's failed fetches raised the lock of 'bad' to {lock} in 2 s")
