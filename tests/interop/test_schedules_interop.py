"""The fork's runtime schedules across languages: added by either side's client, fired by both pools.

A schedule stored with the fork's ``AddPeriodicSchedule`` (or work_compat's
``add_periodic_schedule``) is listed alike by both clients; a Go pool and a Python pool on the
namespace, neither with code-defined periodic jobs, both enqueue its instants (the same member
per instant) and run each instant once between them, with the schedule's args. Enabling,
disabling and deleting from one side is what the other side's client then reads. The fork's
``PeriodicallyEnqueueWithArgs`` and work_compat's ``periodically_enqueue_with_args`` write the
same members too.

Fork only: gocraft/work has neither runtime schedules nor periodic args. Real time (about 9 s).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from datetime import timezone
from typing import Any

import pytest
import redis

from tests.interop.driver import GoDriver
from tests.interop.test_periodic_interop import finish, periodic_members
from tests.redis_server import RedisServer
from work_compat import Client, Job, Keys, ManualClock, PeriodicSchedule, PoolSettings, WorkerPool, decode_job

pytestmark = pytest.mark.interop

UTC = timezone.utc
FAST = (0, 10, 50)
SPEC = "*/2 * * * * *"
ARGS = {"k": "<v>", "n": 3, "nested": {"x": [1, "y"]}}
GO_ARGS = {"k": "<v>", "n": 3.0, "nested": {"x": [1.0, "y"]}}  # as Go decodes the stored JSON


def listed(client: Client, driver: GoDriver, namespace: str) -> tuple[list[Any], list[Any]]:
    ours = [json.loads(s.to_json()) for s in client.periodic_schedules()]
    theirs = sorted(driver.schedule(namespace, "list"), key=lambda s: s["name"])
    return ours, theirs


@pytest.mark.parametrize("added_by", ["go", "python"])
def test_a_runtime_schedule_added_on_either_side_fires_once_per_instant_in_both_pools(
    fork_driver: GoDriver,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    namespace: str,
    procs: list[subprocess.Popen[str]],
    added_by: str,
) -> None:
    keys = Keys(namespace)
    client = Client(namespace, redis_server.url, zone=UTC)
    # Given a runtime schedule stored by one side's client
    if added_by == "go":
        fork_driver.schedule(namespace, "add", name="rs", job_name="rs_job", spec=SPEC, args=json.dumps(ARGS))
    else:
        client.add_periodic_schedule(PeriodicSchedule("rs", "rs_job", SPEC, dict(ARGS)))
    ours, theirs = listed(client, fork_driver, namespace)
    assert ours == theirs and [s["args"] for s in ours] == [GO_ARGS]

    # When a Python pool and a Go pool (neither with periodic jobs of its own) run for ~9 s
    ran: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def handler(job: Job) -> None:
        with lock:
            ran.append((job.id, job.args))

    settings = PoolSettings(requeue_period=0.2)
    pool = WorkerPool(2, namespace, redis_server.url, sleep_backoffs=FAST, zone=UTC, settings=settings)
    pool.job("rs_job", handler)
    pool.start()
    try:
        py_start = int(redis_client.get(keys.last_periodic_enqueue()) or 0)
        redis_client.delete(keys.last_periodic_enqueue())  # so that Go's first run writes too
        flags = {"concurrency": "2", "expect": "0", "hold_seconds": "9"}
        procs.append(fork_driver.start_work(namespace, ["rs_job"], env={"TZ": "UTC"}, **flags))
        out = json.loads(finish(procs[0]))
        go_start = int(redis_client.get(keys.last_periodic_enqueue()) or 0)
        deadline = time.monotonic() + 10
        while redis_client.zcount(keys.scheduled(), "-inf", int(time.time())):
            assert time.monotonic() < deadline, "the due instances were never moved to their queue"
            time.sleep(0.05)
        assert pool.drain(10)
    finally:
        pool.stop()
        pool.close()

    # Then both enqueuers ran and wrote the same member for every instant ...
    assert go_start >= py_start > 0
    per_instant = Counter(periodic_members(redis_client, keys, 0).values())
    assert per_instant and max(per_instant.values()) == 1
    # ... and every instant between the first and the last ran once, with the schedule's args
    runs = [(r["id"], r["args"]) for r in out["records"]] + ran
    count = Counter(i for i, _ in runs)
    assert max(count.values()) == 1, [i for i, n in count.items() if n > 1]
    assert all(args == GO_ARGS for _, args in runs)
    assert all(i.startswith(f"periodic:rs_job:{SPEC}:") for i in count)
    seen = sorted(int(i.rsplit(":", 1)[1]) for i in count)
    assert len(seen) >= 3 and seen == list(range(seen[0], seen[-1] + 1, 2)), seen

    # When the other side disables it, then enables it, both clients read the same schedule
    other_go = added_by == "python"
    if other_go:
        fork_driver.schedule(namespace, "disable", name="rs")
    else:
        client.disable_periodic_schedule("rs")
    ours, theirs = listed(client, fork_driver, namespace)
    assert ours == theirs and ours[0]["enabled"] is False
    if other_go:
        client.enable_periodic_schedule("rs")
    else:
        fork_driver.schedule(namespace, "enable", name="rs")
    ours, theirs = listed(client, fork_driver, namespace)
    assert ours == theirs and ours[0]["enabled"] is True
    # ... and a delete from either side leaves none for both
    if other_go:
        fork_driver.schedule(namespace, "delete", name="rs")
    else:
        client.delete_periodic_schedule("rs")
    assert listed(client, fork_driver, namespace) == ([], [])
    client.close()


def test_periodic_jobs_with_args_and_runtime_schedules_are_byte_identical_to_the_forks(
    fork_driver: GoDriver,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    namespace: str,
    procs: list[subprocess.Popen[str]],
) -> None:
    # Given a Go pool with a periodic job with args, one without, and a runtime schedule that
    # work_compat's client stored, which ran its periodic enqueuer once, in UTC
    go_keys, py_ns = Keys(namespace), namespace + "py"
    with Client(namespace, redis_server.url, zone=UTC) as client:
        client.add_periodic_schedule(PeriodicSchedule("rt", "pa_rt", "*/30 * * * * *", dict(ARGS)))
    flags = {
        "expect": "0",
        "hold_seconds": "0.2",
        "periodic": f"{SPEC}=pa_args,*/20 * * * * *=pa_none",
        "periodic_args": json.dumps({"pa_args": ARGS}),
    }
    procs.append(fork_driver.start_work(namespace, ["pa_args", "pa_none"], env={"TZ": "UTC"}, **flags))
    finish(procs[0])
    now = int(redis_client.get(go_keys.last_periodic_enqueue()) or 0)
    go_members = periodic_members(redis_client, go_keys, now + 5)
    assert {decode_job(m).name for m in go_members} == {"pa_args", "pa_none", "pa_rt"}
    assert all(decode_job(m).args == (None if decode_job(m).name == "pa_none" else GO_ARGS) for m in go_members)

    # When a Python pool with the same periodic jobs, and the same schedule stored by Go's client,
    # runs its enqueuer at the same second in another namespace
    fork_driver.schedule(py_ns, "add", name="rt", job_name="pa_rt", spec="*/30 * * * * *", args=json.dumps(ARGS))
    pool = WorkerPool(1, py_ns, redis_server.url, clock=ManualClock(now), zone=UTC).job("noop", lambda job: None)
    pool.periodically_enqueue_with_args(SPEC, "pa_args", ARGS)
    pool.periodically_enqueue("*/20 * * * * *", "pa_none")
    pool.start()
    pool.stop()
    pool.close()

    # Then it wrote the same bytes with the same scores
    assert periodic_members(redis_client, Keys(py_ns), now + 5) == go_members
