"""One namespace filled by the fork's Go library and by work_compat, for the differential tests.

Go's part is written by the fork's own code through the interop driver (tests/interop/fork):
queued, scheduled, unique and unique-by-key jobs, jobs enqueued with retry options, and a pool
that retries, kills and completes jobs (so history). work_compat adds the same kinds, enough of
them for a second page, odd ids and numbers Go re-encodes, paused queues, a concurrency cap and
runtime schedules. Then a Go pool and a Python pool each start a long job and are stopped with
SIGSTOP mid-job: their heartbeats and observations stay as they were while the tests read them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.interop.driver import GoDriver
from tests.webui.differential import Servers, ask
from work_compat import Client, Enqueuer, Job, JobOptions, PeriodicSchedule, WorkerPool
from work_compat.cron import local_zone
from work_compat.periodic import schedule_job

DAY = 86_400
ODD_ID = "periodic:report:0 */5 * * * *:1795821860"
ODD_DEAD_ID = "odd/id with space+plus%"
MINUTELY = "py-minutely"  # a runtime schedule whose instances of the next minutes are in scheduled
ODD_NUMBERS = {"big": 2**53 + 1, "huge": 12345678901234567890, "e": 1e21, "tiny": 1e-7, "neg0": -0.0, "f": 2.50}
TEXT = {"html": "<b>&amp;</b>", "u": "é\u2028\u2029 \x01", "quote": 'say "hi" \\ there'}

# A Python pool that runs one job name whose handler never returns (the test stops the process).
_PY_SLOW_POOL = """
import sys, threading
from work_compat import WorkerPool
url, ns = sys.argv[1:3]
WorkerPool(2, ns, url).job("slow_py", lambda job: threading.Event().wait(3600)).start()
threading.Event().wait(3600)
"""


def wait_for(what: str, check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def _busy_with(client: Client, job_name: str) -> bool:
    return any(o.is_busy and o.job_name == job_name for o in client.worker_observations())


def write_go_data(driver: GoDriver, ns: str) -> None:
    """What the fork's Enqueuer and a fork pool leave: every enqueue call, then retry, dead, history."""
    calls = [
        {"call": "Enqueue", "job_name": "mail", "args": {"to": "go@example.com", **TEXT}},
        {"call": "Enqueue", "job_name": "mail", "args": {"n": 2.5, "list": [1, "x", None, True]}},
        {"call": "EnqueueIn", "job_name": "report", "seconds_from_now": DAY, "args": {"k": "v"}},
        {"call": "EnqueueUniqueIn", "job_name": "report", "seconds_from_now": 2 * DAY, "args": {"u": 1}},
        {
            "call": "EnqueueUniqueInByKey",
            "job_name": "report",
            "seconds_from_now": 3 * DAY,
            "args": {"a": 1},
            "key_map": {"k": "x"},
        },
        {
            "call": "EnqueueWithOptions",
            "job_name": "mail",
            "args": {"o": 1},
            "options": {"retry": {"max_retries": 3, "strategy": "linear", "base_delay": 5}},
        },
        {"call": "Enqueue", "job_name": "flaky", "args": {"by": "go"}},
        {"call": "Enqueue", "job_name": "doomed", "args": {"by": "go"}},
        {"call": "Enqueue", "job_name": "ok", "args": {"by": "go", "i": 1}},
        {"call": "Enqueue", "job_name": "ok", "args": {"by": "go", "i": 2}},
    ]
    for out in driver.enqueue(ns, calls):
        assert out["error"] == "", out
    done = driver.work(
        ns,
        ["flaky", "doomed", "ok"],
        expect=4,
        fail="flaky,doomed",
        maxfails="flaky=5,doomed=1",
        backoff_fixed=f"flaky={DAY}",
    )
    assert done["count"] == 4 and not done["timed_out"], done


def write_python_data(url: str, ns: str) -> None:
    """The same kinds from work_compat, more of them (second pages), and odd ids and numbers."""
    enq = Enqueuer(ns, url)
    client = Client(ns, url)
    try:
        enq.enqueue("mail", {"to": "py@example.com", **ODD_NUMBERS})
        enq.enqueue_unique("mail", {"unique": True})
        for i in range(21):
            enq.enqueue_in("report", DAY + 60 * i, {"i": i, **(ODD_NUMBERS if i == 0 else {})})
        # a job with fields beside Go's (celery_shim keeps some there): Go's listing leaves them out
        beside = Job(name="report", id="with-extra", enqueued_at=int(time.time()), args={}, extra={"meta": {"x": 1}})
        enq.enqueue_job(beside, run_at=int(time.time()) + DAY)
        for i in range(22):
            enq.enqueue("doomed", {"by": "py", "i": i})
        enq.enqueue("flaky", {"by": "py", **TEXT})
        enq.enqueue("ok", {"by": "py", **ODD_NUMBERS})
        enq.enqueue_job(Job(name="ok", id=ODD_ID, enqueued_at=int(time.time()), args={"odd": "id"}))
        enq.enqueue_job(Job(name="doomed", id=ODD_DEAD_ID, enqueued_at=int(time.time()), args=dict(ODD_NUMBERS)))

        def fail(job: Job) -> None:
            raise RuntimeError(f"failed on purpose: {json.dumps(job.args)[:40]}")

        pool = (
            WorkerPool(4, ns, url, sleep_backoffs=(0, 5, 10, 20, 50))
            .job_with_options("flaky", JobOptions(max_fails=5, backoff=lambda job: DAY), fail)
            .job_with_options("doomed", JobOptions(max_fails=1), fail)
            .job("ok", lambda job: None)
        )
        pool.start()
        try:
            assert pool.drain(timeout=60), "the Python pool did not drain its queues"
        finally:
            pool.stop()
        client.pause("mail")
        client.set_max_concurrency("report", 2)
        # runtime schedules firing far from now, and one every minute with its next instances scheduled
        newyear = PeriodicSchedule(name="py-newyear", job_name="report", spec="0 0 3 1 1 *", args=dict(ODD_NUMBERS))
        minutely = PeriodicSchedule(name=MINUTELY, job_name="report", spec="0 * * * * *", args={"every": "minute"})
        off = PeriodicSchedule(name="py off/slash", job_name="mail", spec="0 30 * * * *", args={"x": 1}, enabled=False)
        for schedule in (newyear, minutely, off):
            client.add_periodic_schedule(schedule)
        now = int(time.time())
        # a dead job of a name no pool registered: retrying it puts it back in dead, 5 s on
        ghost = Job(name="ghost", id="ghost-1", enqueued_at=now, args={"by": "ghost"}, fails=1, failed_at=now)
        with redis.Redis.from_url(url) as r:
            r.zadd(client.keys.dead(), {ghost.to_bytes(): now})
            r.zadd(client.keys.scheduled(), schedule_job(minutely, zone=local_zone()).members(now, now + 300))
    finally:
        enq.close()
        client.close()


@contextmanager
def frozen_pools(driver: GoDriver, url: str, ns: str, root: Path) -> Iterator[list[int]]:
    """A Go pool and a Python pool, each stopped (SIGSTOP) while running a job; killed at the end."""
    enq = Enqueuer(ns, url)
    client = Client(ns, url)
    procs: list[subprocess.Popen[str]] = []
    try:
        enq.enqueue("slow_go", {"by": "go"})
        enq.enqueue("slow_py", {"by": "py"})
        procs.append(driver.start_work(ns, ["slow_go"], expect="0", hold_seconds="3600", sleep_ms="slow_go=3600000"))
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _PY_SLOW_POOL, url, ns],
                cwd=root,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(root)},
            )
        )
        for name in ("slow_go", "slow_py"):
            wait_for(f"a pool running {name}", lambda name=name: _busy_with(client, name))  # type: ignore[misc]
        for p in procs:
            os.kill(p.pid, signal.SIGSTOP)
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
        enq.close()
        client.close()


def add_go_schedule(servers: Servers) -> None:
    """A runtime schedule added through the fork's own API."""
    body = {"name": "go-nightly", "job_name": "report", "spec": "0 0 3 * * *", "args": {"z": 1}, "enabled": True}
    answer = ask(servers.go, "POST", "/api/periodic_schedules", json.dumps(body).encode())
    assert answer.status == 200, answer
