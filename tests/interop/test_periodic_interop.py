"""Periodic jobs beside the real Go library: Go's and Python's enqueuers write the same members, and
a Go and a Python pool defining the same periodic jobs on one namespace run each instant once.

Both Go libraries parse specs with robfig/cron v3's parser with an optional seconds field: six
fields (seconds first), five (minutes first) or a descriptor. Periodic timing is Go's own wall
clock, so the shared-run test uses real time (about 9 s); the Go process runs with TZ=UTC and the
Python pools with ``zone=UTC``. (The fork's runtime schedules: test_schedules_interop.py.)
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from datetime import timezone

import pytest
import redis

from tests.interop.driver import GoDriver
from tests.redis_server import RedisServer
from work_compat import Job, Keys, ManualClock, PoolSettings, WorkerPool, decode_job

pytestmark = pytest.mark.interop

UTC = timezone.utc
FAST = (0, 10, 50)


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, stderr
    return stdout


def periodic_members(r: redis.Redis, keys: Keys, after: int) -> dict[bytes, int]:
    """The periodic members of ``scheduled`` scored after ``after``, with their scores."""
    out = {}
    for member, score in r.zrange(keys.scheduled(), 0, -1, withscores=True):
        if int(score) > after and decode_job(member).id.startswith("periodic:"):
            out[member] = int(score)
    return out


# name -> spec; one spec with a comma (the driver's -periodic splits at the comma after a name)
SPECS = {
    "pb_twenty": "*/20 * * * * *",
    "pb_hourly": "@hourly",
    "pb_five": "0 */5 * * * *",
    "pb_list": "15,45 * * * * *",
    "pb_every": "@every 1m",
    "pb_minutes": "*/2 * * * *",  # five fields: minutes first
    "pb_zone": "CRON_TZ=Asia/Kolkata 30 * * * * *",  # a zone 5:30 from UTC
}


def periodic_flag(specs: dict[str, str]) -> str:
    return ",".join(f"{spec}={name}" for name, spec in specs.items())


def test_python_periodic_members_are_byte_identical_to_gos(
    go_driver: GoDriver,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    namespace: str,
    procs: list[subprocess.Popen[str]],
) -> None:
    # Given a Go pool that ran its periodic enqueuer once, in UTC
    go_keys = Keys(namespace)
    flags = {"expect": "0", "hold_seconds": "0.2", "periodic": periodic_flag(SPECS)}
    procs.append(go_driver.start_work(namespace, list(SPECS), env={"TZ": "UTC"}, **flags))
    finish(procs[0])
    now = int(redis_client.get(go_keys.last_periodic_enqueue()) or 0)
    # (instants due within a few seconds may already have been moved by Go's requeuer: leave them out)
    go_members = periodic_members(redis_client, go_keys, now + 5)
    # (*/5 minutes and @hourly have an instant within the 240 s horizon only at some times)
    assert {"pb_twenty", "pb_list", "pb_every", "pb_minutes", "pb_zone"} <= {decode_job(m).name for m in go_members}

    # When a Python pool runs its enqueuer at the same second, in another namespace and in Go's
    py_ns = namespace + "py"
    clock = ManualClock(now)
    for ns in (py_ns, namespace):
        redis_client.delete(Keys(ns).last_periodic_enqueue())  # past the gate
        pool = WorkerPool(1, ns, redis_server.url, clock=clock, zone=UTC).job("noop", lambda job: None)
        for name, spec in SPECS.items():
            pool.periodically_enqueue(spec, name)
        pool.start()
        pool.stop()
        pool.close()

    # Then it wrote the same bytes with the same scores ...
    assert periodic_members(redis_client, Keys(py_ns), now + 5) == go_members
    # ... so in Go's namespace, nothing was added
    assert periodic_members(redis_client, go_keys, now + 5) == go_members
    # (the ids carry the spec verbatim; @every counts from the run's second, in both)
    every = sorted(s for m, s in go_members.items() if decode_job(m).name == "pb_every")
    assert every == [now + 60, now + 120, now + 180]


def test_a_go_and_a_python_pool_run_each_periodic_instant_once(
    go_driver: GoDriver,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    namespace: str,
    procs: list[subprocess.Popen[str]],
) -> None:
    # Given the same two periodic jobs in a Python pool and a Go pool on one namespace, for ~9 s;
    # both enqueue and requeue both, Go runs both and Python runs pi_two (Python's 50 ms polls would
    # otherwise take nearly every job from Go's workers, which sleep up to 5 s when idle)
    specs = {"pi_two": "*/2 * * * * *", "pi_sec": "@every 1s"}
    keys = Keys(namespace)
    py_ids: list[str] = []
    lock = threading.Lock()

    def handler(job: Job) -> None:
        with lock:
            py_ids.append(job.id)

    settings = PoolSettings(requeue_period=0.2)
    pool = WorkerPool(2, namespace, redis_server.url, sleep_backoffs=FAST, zone=UTC, settings=settings)
    pool.job("pi_two", handler)
    for name, spec in specs.items():
        pool.periodically_enqueue(spec, name)
    pool.start()
    try:
        py_start = int(redis_client.get(keys.last_periodic_enqueue()) or 0)
        redis_client.delete(keys.last_periodic_enqueue())  # so that Go's first run writes too
        flags = {"concurrency": "2", "expect": "0", "hold_seconds": "9", "periodic": periodic_flag(specs)}
        procs.append(go_driver.start_work(namespace, list(specs), env={"TZ": "UTC"}, **flags))
        out = finish(procs[0])
        go_start = int(redis_client.get(keys.last_periodic_enqueue()) or 0)
        # Let the Python pool run what fell due while Go stopped (its requeuer moves it), then stop it
        deadline = time.monotonic() + 10
        while redis_client.zcount(keys.scheduled(), "-inf", int(time.time())):
            assert time.monotonic() < deadline, "the due periodic jobs were never moved to their queues"
            time.sleep(0.05)
        assert pool.drain(10)
    finally:
        pool.stop()
        pool.close()

    go_ids = [r["id"] for r in json.loads(out)["records"]]
    ran = Counter(go_ids + py_ids)
    # Then no instance ran twice ...
    assert max(ran.values()) == 1, [i for i, n in ran.items() if n > 1]
    # ... each pool's run wrote the same members for every instant (one member per instant) ...
    assert go_start >= py_start > 0
    for name in specs:
        ts = Counter(s for m, s in periodic_members(redis_client, keys, 0).items() if decode_job(m).name == name)
        assert ts and max(ts.values()) == 1, name
    # ... and every instant between the first and the last that ran, ran
    for name, step in (("pi_two", 2), ("pi_sec", 1)):
        seen = sorted(int(i.rsplit(":", 1)[1]) for i in ran if i.startswith(f"periodic:{name}:"))
        assert len(seen) >= 8 // step - 1, (name, seen)
        assert seen == list(range(seen[0], seen[-1] + 1, step)), (name, seen)
    assert all(i.startswith(("periodic:pi_two:*/2 * * * * *:", "periodic:pi_sec:@every 1s:")) for i in ran)
    assert sum(i.startswith("periodic:pi_sec:") for i in go_ids) >= 5
    assert len(py_ids) >= 3
    print(f"periodic interop: Go ran {len(go_ids)}, Python ran {len(py_ids)} of {len(ran)} instances")
