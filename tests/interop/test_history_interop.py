"""The fork's job history across languages: written by either side's pool, read by the other's client.

The same jobs (one succeeds, one fails into retry, one into dead, one out of attempts with
SkipDead) are pushed, byte for byte, into two namespaces; a Go pool works one and a Python pool
the other. Each side's history entries have the same fields in the same order, and each client
lists the other's entries (pages, the per-name filter, the count and the lookup by id) exactly as
the writer's own client does. Each side's reaper drops the other's entries older than 15 days.

Fork only: gocraft/work keeps no history.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
import redis

from tests.interop.driver import GoDriver
from tests.redis_server import RedisServer
from work_compat import Client, Enqueuer, Job, JobOptions, Keys, ManualClock, PoolSettings, WorkerPool, decode_job

pytestmark = pytest.mark.interop

JOBS = [
    Job("hi_ok", "0000000000000000000000a1", 1_700_000_000, {"n": 1, "s": "<ok>"}),
    Job("hi_retry", "0000000000000000000000b2", 1_700_000_001, {"f": 2.5}),
    Job("hi_dead", "0000000000000000000000c3", 1_700_000_002, None),
    Job("hi_skip", "0000000000000000000000d4", 1_700_000_003, {"skip": True}),  # SkipDead: dropped
]
STATUS = {"hi_ok": "success", "hi_retry": "retry", "hi_dead": "dead", "hi_skip": "dead"}
VARYING = ("completed_at", "failed_at", "err")  # the time of the run, and each side's error text


def push(r: redis.Redis, namespace: str) -> None:
    keys = Keys(namespace)
    for job in JOBS:
        r.lpush(keys.jobs(job.name), job.to_bytes())


def entry_shape(raw: bytes) -> list[tuple[str, Any]]:
    """A history entry's fields in order, with the run-dependent values blanked."""
    pairs: list[tuple[str, Any]] = json.loads(raw, object_pairs_hook=list)
    return [(k, None if k in VARYING else v) for k, v in pairs]


def python_view(client: Client, job_name: str = "") -> dict[str, Any]:
    jobs, count = client.history_jobs(1, job_name)
    return {"jobs": [json.loads(h.to_json()) for h in jobs], "count": count, "total": client.history_count()}


RETENTION = 15 * 24 * 3600  # the fork's reaper drops history older than 15 days


def history_ids(r: redis.Redis, keys: Keys, job_name: str) -> tuple[set[str], set[str], set[str]]:
    """The job ids in the overall history, the per-name history and the id index."""
    overall = {decode_job(m).id for m in r.zrange(keys.history(), 0, -1)}
    by_name = {decode_job(m).id for m in r.zrange(keys.history_for(job_name), 0, -1)}
    index = {k.decode() for k in r.hkeys(keys.history_index())}
    return overall, by_name, index


def test_each_sides_reaper_drops_the_others_expired_history(
    fork_driver: GoDriver,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    namespace: str,
    procs: list[subprocess.Popen[str]],
) -> None:
    keys = Keys(namespace)
    enq = Enqueuer(namespace, redis_server.url)
    # Given a history entry a Python pool wrote 16 days ago (its clock says so)
    old = enq.enqueue("hr_job", {"n": 1})
    past = WorkerPool(1, namespace, redis_server.url, clock=ManualClock(int(time.time()) - RETENTION - 86400))
    past.job("hr_job", lambda job: None).start()
    try:
        assert past.drain(10)
    finally:
        past.stop()
        past.close()
    assert old.id in history_ids(redis_client, keys, "hr_job")[2]

    # When a Go pool runs a job (a fresh entry), and its reaper's first run comes 10 s after it starts
    fresh = enq.enqueue("hr_job", {"n": 2})
    procs.append(fork_driver.start_work(namespace, ["hr_job"], expect="0", hold_seconds="30"))

    # Then Go's reaper drops the Python entry everywhere, and keeps its own
    deadline = time.monotonic() + 25
    while history_ids(redis_client, keys, "hr_job") != ({fresh.id}, {fresh.id}, {fresh.id}):
        assert time.monotonic() < deadline, f"Go's reaper left {history_ids(redis_client, keys, 'hr_job')}"
        assert procs[0].poll() is None, procs[0].communicate()[1]
        time.sleep(0.05)
    procs[0].kill()  # the pool's job is done; its heartbeat is left in this test's namespace only

    # When a Python pool's reaper runs 15 days and a minute later (its clock says so)
    future = ManualClock(int(time.time()) + RETENTION + 60)
    settings = PoolSettings(reaper_first_delay=0.1)
    later = WorkerPool(1, namespace, redis_server.url, clock=future, settings=settings).job("hr_job", lambda j: None)
    later.start()
    try:
        deadline = time.monotonic() + 10
        while history_ids(redis_client, keys, "hr_job") != (set(), set(), set()):
            assert time.monotonic() < deadline, "Python's reaper never dropped Go's expired entry"
            time.sleep(0.05)
    finally:
        later.stop()
        later.close()


def test_history_written_by_either_side_is_read_by_the_other(
    fork_driver: GoDriver, redis_server: RedisServer, redis_client: redis.Redis, namespace: str
) -> None:
    go_ns, py_ns = namespace + "-go", namespace + "-py"
    for ns in (go_ns, py_ns):
        push(redis_client, ns)
    names = [j.name for j in JOBS]

    # When a Go pool works one namespace and a Python pool the other, with the same outcomes
    flags = {"fail": "hi_retry,hi_dead,hi_skip", "maxfails": "hi_retry=3,hi_dead=1,hi_skip=1", "skip_dead": "hi_skip"}
    out = fork_driver.work(go_ns, names, expect=len(JOBS), **flags)
    assert not out["timed_out"]

    def handler(job: Job) -> None:
        if job.name != "hi_ok":
            raise RuntimeError("boom")

    pool = WorkerPool(2, py_ns, redis_server.url)
    pool.job("hi_ok", handler)
    pool.job_with_options("hi_retry", JobOptions(max_fails=3), handler)
    pool.job_with_options("hi_dead", JobOptions(max_fails=1), handler)
    pool.job_with_options("hi_skip", JobOptions(max_fails=1, skip_dead=True), handler)
    pool.start()
    try:
        assert pool.drain(10)
    finally:
        pool.stop()
        pool.close()

    # Then both wrote one entry per job, with the same fields in the same order (a SkipDead job's
    # says dead, though only hi_dead is in dead)
    for ns in (go_ns, py_ns):
        assert redis_client.zcard(Keys(ns).history()) == len(JOBS)
        assert [decode_job(m).name for m in redis_client.zrange(Keys(ns).dead(), 0, -1)] == ["hi_dead"]
    go_raw = {j.id: redis_client.hget(Keys(go_ns).history_index(), j.id) for j in JOBS}
    py_raw = {j.id: redis_client.hget(Keys(py_ns).history_index(), j.id) for j in JOBS}
    for job in JOBS:
        go_entry, py_entry = go_raw[job.id], py_raw[job.id]
        assert go_entry is not None and py_entry is not None, job.name
        assert entry_shape(go_entry) == entry_shape(py_entry), job.name
        assert json.loads(go_entry)["status"] == STATUS[job.name]
        for ns in (go_ns, py_ns):  # each index also has the entry in its per-name history
            assert redis_client.zcard(Keys(ns).history_for(job.name)) == 1

    # And each client reads the other's history as the writer's own client does
    for ns in (go_ns, py_ns):
        client = Client(ns, redis_server.url)
        for job_name in ("", *names):
            theirs = fork_driver.history(ns, job_name)
            assert python_view(client, job_name) == {k: theirs[k] for k in ("jobs", "count", "total")}, (ns, job_name)
        for job in JOBS:
            found = client.history_job_by_id(job.id)
            assert found is not None
            assert json.loads(found.to_json()) == fork_driver.history(ns, job_id=job.id)["by_id"]
        assert client.history_job_by_id("nope") is None and fork_driver.history(ns, job_id="nope")["by_id"] is None
        client.close()
