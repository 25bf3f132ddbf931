"""Python worker pools beside the real Go library's, on one namespace, both directions.

Go enqueues and a Python pool runs; Go and Python pools share one queue; pause and max concurrency
bind both; each side's reaper recovers the other's crashed jobs; retry and dead jobs are managed
across languages; Go's client reads a Python pool's heartbeat and check-ins; a due job of a name
no pool handles is killed by gocraft/work's requeuer, left (blocking) by the fork's, passed by ours.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.interop.driver import GoDriver
from tests.interop.pyjobs import SLOW_JOB
from tests.interop.test_enqueue_interop import RICH_ARGS
from tests.redis_server import RedisServer
from work_compat import Client, Enqueuer, Job, JobOptions, Keys, PoolSettings, WorkerPool, decode_job

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
FAST = (0, 10, 50)  # Python pools poll an empty queue at least every 50 ms (Go's default reaches 5 s)


def wait_until(what: str, check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting until {what}"
        time.sleep(0.02)


def enqueue_ids(url: str, namespace: str, name: str, count: int) -> list[str]:
    """Enqueue ``count`` jobs of ``name`` with work_compat; their ids."""
    return [j.id for j in Enqueuer(namespace, url).enqueue_many((name, {"i": i}) for i in range(count))]


def holds_for(seconds: float, check: Callable[[], bool]) -> bool:
    """True if ``check`` stays true for ``seconds`` (polled)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not check():
            return False
        time.sleep(0.02)
    return True


@dataclass
class Run:
    name: str
    id: str
    args: Any
    fails: int
    start: float
    end: float


class Runs:
    """A Python handler that records every run; it sleeps ``sleep`` s and raises if ``fail``."""

    def __init__(self, sleep: float = 0.0, fail: bool = False) -> None:
        self.sleep, self.fail = sleep, fail
        self.runs: list[Run] = []

    def __call__(self, job: Job) -> None:
        start = time.time()
        time.sleep(self.sleep)
        self.runs.append(Run(job.name, job.id, job.args, job.fails, start, time.time()))
        if self.fail:
            raise RuntimeError("boom")

    def ids(self) -> list[str]:
        return [r.id for r in self.runs]


def finish(proc: subprocess.Popen[str], timeout: float = 90) -> dict[str, Any]:
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, stderr
    out: dict[str, Any] = json.loads(stdout)
    return out


def locks_released(r: redis.Redis, keys: Keys, name: str, dead_pool: str | None = None) -> None:
    assert r.get(keys.jobs_lock(name)) == b"0"
    info = r.hgetall(keys.jobs_lock_info(name))
    assert set(info.values()) <= {b"0"}, info
    if dead_pool is not None:
        assert dead_pool.encode() not in info, "the reaper removed the dead pool's lock_info field"
        assert not r.exists(keys.heartbeat(dead_pool))
        assert not r.sismember(keys.worker_pools(), dead_pool)


def test_go_enqueued_jobs_run_once_in_a_python_pool(
    go_driver: GoDriver, redis_server: RedisServer, namespace: str, redis_client: redis.Redis
) -> None:
    # Given every kind of job Go enqueues, two of them scheduled a second ahead
    ints = ["int", "int_big", "neg", "zero"]
    calls = [
        {"call": "Enqueue", "job_name": "gp_plain", "args": RICH_ARGS, "int_args": ints},
        {"call": "Enqueue", "job_name": "gp_plain", "args": None},
        {"call": "EnqueueIn", "job_name": "gp_in", "args": RICH_ARGS, "int_args": ints, "seconds_from_now": 1},
        {"call": "EnqueueUnique", "job_name": "gp_unique", "args": {"k": "<v>", "n": 7}, "int_args": ["n"]},
        {"call": "EnqueueUniqueIn", "job_name": "gp_unique_in", "args": {"f": 0.5}, "seconds_from_now": 1},
    ]
    sent = {r["returned"]["id"]: r["returned"] for r in go_driver.enqueue(namespace, calls)}
    assert Client(namespace, redis_server.url).scheduled_jobs()[1] == 2

    # When a Python pool registered for those names runs until it has seen five jobs
    runs = Runs()
    pool = WorkerPool(4, namespace, redis_server.url)
    for name in {c["job_name"] for c in calls}:
        pool.job(name, runs)
    pool.start()
    try:
        wait_until("five jobs ran", lambda: len(runs.runs) >= 5)
    finally:
        pool.stop()

    # Then each ran once with Go's args (int64 beyond 2**53 exact); the scheduled ones when due
    assert sorted(runs.ids()) == sorted(sent)
    for run in runs.runs:
        job = sent[run.id]
        assert (run.name, run.args) == (job["name"], job["args"])
        assert run.start >= job.get("run_at", 0)
    assert [r.args for r in runs.runs].count(RICH_ARGS) == 2
    # ... and the pool released the unique locks, whose keys Go computed from the args
    assert redis_client.keys(f"{namespace}:unique:*") == []


def test_go_and_python_pools_share_ten_thousand_jobs(
    go_driver: GoDriver,
    redis_server: RedisServer,
    namespace: str,
    redis_client: redis.Redis,
    procs: list[subprocess.Popen[str]],
) -> None:
    # Given 10,000 jobs of one name that a Go pool and a Python pool both register
    ids = enqueue_ids(redis_server.url, namespace, "shared", 10_000)
    runs = Runs()
    pool = WorkerPool(10, namespace, redis_server.url).job("shared", runs)

    # When both work the queue at once until it is empty
    procs.append(go_driver.start_work(namespace, ["shared"], concurrency="10", until_empty="true", timeout="60"))
    pool.start()
    try:
        out = finish(procs[0])
        assert pool.drain(30)
    finally:
        pool.stop()

    # Then every job ran exactly once across both pools, each did a share, and the locks are 0
    go_ids = [r["id"] for r in out["records"]]
    assert sorted(go_ids + runs.ids()) == sorted(ids)
    assert go_ids and runs.runs, f"Go ran {len(go_ids)}, Python {len(runs.runs)}"
    locks_released(redis_client, Keys(namespace), "shared")


def test_a_paused_job_is_fetched_by_neither_pool_until_unpaused(
    go_driver: GoDriver, redis_server: RedisServer, namespace: str, procs: list[subprocess.Popen[str]]
) -> None:
    # Given a paused job name with 6 jobs of 300 ms queued, and a Go and a Python pool that poll it
    ids = enqueue_ids(redis_server.url, namespace, "pz", 6)
    client = Client(namespace, redis_server.url)
    client.pause("pz")
    runs = Runs(sleep=0.3)
    pool = WorkerPool(1, namespace, redis_server.url, sleep_backoffs=FAST).job("pz", runs)
    procs.append(go_driver.start_work(namespace, ["pz"], concurrency="2", sleep_ms="pz=300", until_empty="true"))
    pool.start()
    try:
        wait_until("both pools beat", lambda: len(client.worker_pool_heartbeats()) == 2)

        # Then for a second neither takes a job
        assert holds_for(1.0, lambda: client.queues()[0].count == 6)
        assert not runs.runs

        # When it is unpaused, both drain it: every job runs once, and each pool runs some
        client.unpause("pz")
        out = finish(procs[0])
        assert pool.drain(10)
    finally:
        pool.stop()
    go_ids = [r["id"] for r in out["records"]]
    assert sorted(go_ids + runs.ids()) == sorted(ids)
    assert go_ids and runs.runs, f"Go ran {len(go_ids)}, Python {len(runs.runs)}"


def test_max_concurrency_one_holds_across_both_pools(
    go_driver: GoDriver,
    redis_server: RedisServer,
    namespace: str,
    redis_client: redis.Redis,
    procs: list[subprocess.Popen[str]],
) -> None:
    # Given 8 jobs of 100 ms capped at 1 in flight by both pools (each SETs the cap when it starts)
    ids = enqueue_ids(redis_server.url, namespace, "mc", 8)
    keys = Keys(namespace)
    runs = Runs(sleep=0.1)

    def python_pool() -> WorkerPool:
        return WorkerPool(4, namespace, redis_server.url, sleep_backoffs=FAST).job_with_options(
            "mc", JobOptions(max_concurrency=1), runs
        )

    # When a Python pool runs the first job, a Go pool of 4 workers joins, and once 3 jobs are taken
    first = python_pool()
    first.start()
    try:
        wait_until("Python runs a job", lambda: redis_client.get(keys.jobs_lock("mc")) == b"1")
        flags = {"concurrency": "4", "maxconc": "mc=1", "sleep_ms": "mc=100", "until_empty": "true"}
        procs.append(go_driver.start_work(namespace, ["mc"], **flags))
        wait_until("3 jobs are taken", lambda: redis_client.llen(keys.jobs("mc")) <= 5)
    finally:
        first.stop()
    # ... the Python pool leaves, and a second one polls while Go runs the rest
    wait_until("Go holds the slot", lambda: redis_client.get(keys.jobs_lock("mc")) == b"1")
    second = python_pool()
    second.start()
    try:
        out = finish(procs[0])
        assert second.drain(10)
    finally:
        second.stop()

    # Then every job ran once, and no two runs overlapped (ms; Go's run lasts at least 100 ms)
    go_ids = [r["id"] for r in out["records"]]
    assert sorted(go_ids + runs.ids()) == sorted(ids)
    assert go_ids and runs.runs, f"Go ran {len(go_ids)}, Python {len(runs.runs)}"
    spans = sorted(
        [(r["started_at_ms"], r["started_at_ms"] + 100, "go") for r in out["records"]]
        + [(r.start * 1000, r.end * 1000, "py") for r in runs.runs]
    )
    for before, after in itertools.pairwise(spans):
        assert after[0] >= before[1] - 1, f"{after} started while {before} ran"
    assert redis_client.get(keys.jobs_max_concurrency("mc")) == b"1"
    locks_released(redis_client, keys, "mc")


def test_go_reaper_requeues_the_jobs_of_a_killed_python_worker(
    go_driver: GoDriver,
    redis_server: RedisServer,
    namespace: str,
    redis_client: redis.Redis,
    procs: list[subprocess.Popen[str]],
) -> None:
    # Given a `work-compat worker` process with three jobs in progress
    ids = enqueue_ids(redis_server.url, namespace, SLOW_JOB, 3)
    argv = ["worker", "tests.interop.pyjobs:pool", "-c", "3", "--redis", redis_server.url, "--ns", namespace]
    worker = subprocess.Popen(
        [sys.executable, "-m", "work_compat", *argv],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    procs.append(worker)
    keys = Keys(namespace)

    def all_in_progress() -> bool:
        assert worker.poll() is None, worker.communicate()[1]
        return redis_client.get(keys.jobs_lock(SLOW_JOB)) == b"3"

    wait_until("the worker runs all three", all_in_progress)
    (beat,) = Client(namespace, redis_server.url).worker_pool_heartbeats()
    assert beat.pid == worker.pid

    # When it is killed, and a Go pool starts after (its reaper runs 10 s later)
    worker.kill()
    worker.communicate(timeout=10)
    out = go_driver.work(namespace, [SLOW_JOB], expect=3, timeout=40)

    # Then Go's reaper requeued the three jobs, the Go pool ran them, and the locks are consistent
    assert sorted(r["id"] for r in out["records"]) == sorted(ids)
    locks_released(redis_client, keys, SLOW_JOB, dead_pool=beat.worker_pool_id)


def test_python_reaper_requeues_the_jobs_of_a_crashed_go_pool(
    go_driver: GoDriver, redis_server: RedisServer, namespace: str, redis_client: redis.Redis
) -> None:
    # Given a Go pool that exits abruptly with three jobs in progress
    ids = enqueue_ids(redis_server.url, namespace, "go_crash", 3)
    crashed = go_driver.work(
        namespace, ["go_crash"], expect=3, concurrency="3", sleep_ms="go_crash=60000", no_stop="true"
    )
    keys = Keys(namespace)
    dead_pool = crashed["pool_id"]
    assert redis_client.get(keys.jobs_lock("go_crash")) == b"3"
    beat_at = int(redis_client.hget(keys.heartbeat(dead_pool), "heartbeat_at") or 0)
    wait_until("Go's heartbeat is over 10 s old", lambda: time.time() - beat_at > 10, timeout=20)

    # When a Python pool starts, its reaper half a second later
    runs = Runs()
    settings = PoolSettings(reaper_first_delay=0.5, dead_after=10)
    pool = WorkerPool(2, namespace, redis_server.url, settings=settings).job("go_crash", runs)
    pool.start()
    try:
        wait_until("the three jobs ran", lambda: len(runs.runs) >= 3, timeout=10)
    finally:
        pool.stop()

    # Then those jobs ran once each in Python, and the dead pool's locks and heartbeat are gone
    assert sorted(runs.ids()) == sorted(ids) == sorted(r["id"] for r in crashed["records"])
    locks_released(redis_client, keys, "go_crash", dead_pool=dead_pool)


def test_python_failures_are_listed_by_go_and_retried_into_a_go_pool(
    go_driver: GoDriver, redis_server: RedisServer, namespace: str
) -> None:
    # Given one job that a Python pool sends to retry and one it kills
    enq = Enqueuer(namespace, redis_server.url)
    to_retry, to_kill = enq.enqueue("py_retry", {"n": 1}), enq.enqueue("py_dead", {"n": 2})
    failing = Runs(fail=True)
    pool = WorkerPool(2, namespace, redis_server.url)
    pool.job_with_options("py_retry", JobOptions(max_fails=3), failing)
    pool.job_with_options("py_dead", JobOptions(max_fails=1), failing)
    pool.start()
    try:
        assert pool.drain(10)
    finally:
        pool.stop()

    # When Go's client lists them, it sees what Python's client sees, field for field
    client = Client(namespace, redis_server.url)
    theirs = go_driver.list(namespace)
    for view, (jobs, total) in (("retry", client.retry_jobs()), ("dead", client.dead_jobs())):
        assert theirs[view] == {"count": total, "jobs": [json.loads(j.to_json()) for j in jobs]}
    (retry,), (dead,) = theirs["retry"]["jobs"], theirs["dead"]["jobs"]
    assert (retry["id"], retry["fails"], retry["err"]) == (to_retry.id, 1, "RuntimeError: boom")
    assert (dead["id"], dead["fails"], dead["err"]) == (to_kill.id, 1, "RuntimeError: boom")

    # When Go's client retries the dead one, a Go pool runs it with a fresh count of fails
    assert go_driver.client(namespace, "retry_dead_job", dead["died_at"], dead["id"]) == ""
    out = go_driver.work(namespace, ["py_dead"], expect=1)
    assert [(r["id"], r["fails"], r["args"]) for r in out["records"]] == [(to_kill.id, 0, {"n": 2})]


def test_go_killed_jobs_are_retried_by_python_into_a_python_pool(
    go_driver: GoDriver, redis_server: RedisServer, namespace: str
) -> None:
    # Given a job a Go pool killed
    go_driver.enqueue(namespace, [{"call": "Enqueue", "job_name": "go_dead", "args": {"n": 3}, "int_args": ["n"]}])
    go_driver.work(namespace, ["go_dead"], expect=1, fail="go_dead", maxfails="go_dead=1")

    # When Python's client lists it and retries it
    client = Client(namespace, redis_server.url)
    (dead,), total = client.dead_jobs()
    assert total == 1 and (dead.job.fails, dead.job.last_err) == (1, "go_dead: deliberate failure #1")
    client.retry_dead_job(dead.died_at, dead.job.id)

    # Then a Python pool runs it once, with Go's args and no fails
    runs = Runs()
    pool = WorkerPool(2, namespace, redis_server.url).job("go_dead", runs)
    pool.start()
    try:
        assert pool.drain(10)
    finally:
        pool.stop()
    assert [(r.id, r.fails, r.args) for r in runs.runs] == [(dead.job.id, 0, {"n": 3})]
    assert client.dead_jobs()[1] == 0


def test_go_client_reads_a_python_pool_heartbeat_and_check_in(
    go_driver: GoDriver, redis_server: RedisServer, namespace: str
) -> None:
    # Given a Python pool whose one busy worker checked in
    release = threading.Event()

    def slow(job: Job) -> None:
        job.checkin("half way")
        release.wait(30)

    job = Enqueuer(namespace, redis_server.url).enqueue("hb_py", {"x": "<1>"})
    pool = WorkerPool(3, namespace, redis_server.url).job("hb_py", slow)
    pool.start()
    try:
        # When Go's client lists the namespace until the check-in shows
        lists: dict[str, Any] = {}

        def checked_in() -> bool:
            lists.update(go_driver.list(namespace))
            return any(o["checkin"] for o in lists["worker_observations"] or [])

        wait_until("Go sees the check-in", checked_in, timeout=10)
    finally:
        release.set()
        pool.stop()

    # Then Go reads the pool's heartbeat and its workers as the pool wrote them
    (beat,) = lists["worker_pool_heartbeats"]
    assert beat | {"started_at": 0, "heartbeat_at": 0} == {
        "worker_pool_id": pool.pool_id,
        "started_at": 0,
        "heartbeat_at": 0,
        "job_names": ["hb_py"],
        "concurrency": 3,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "worker_ids": sorted(pool.worker_ids),
    }
    assert 0 < beat["started_at"] <= beat["heartbeat_at"] <= time.time()
    observations = lists["worker_observations"]
    assert sorted(o["worker_id"] for o in observations) == sorted(pool.worker_ids)
    (busy,) = [o for o in observations if o["is_busy"]]
    assert {k: busy[k] for k in ("job_name", "job_id", "args_json", "checkin")} == {
        "job_name": "hb_py",
        "job_id": job.id,
        "args_json": '{"x":"\\u003c1\\u003e"}',
        "checkin": "half way",
    }
    assert busy["started_at"] <= busy["checkin_at"] <= time.time()


def test_go_and_python_requeuers_move_a_due_job_alike(
    go_driver: GoDriver, redis_server: RedisServer, namespace: str, procs: list[subprocess.Popen[str]]
) -> None:
    """A due scheduled job reaches its queue with the same fields from either side's requeuer,
    "t" set to the time of the move (Go re-encodes the whole member with cjson; Python rewrites
    only the digits of "t", keeping every other byte)."""
    r = redis.Redis.from_url(redis_server.url)
    go_ns, py_ns = namespace + "-go", namespace + "-py"
    before = int(time.time())
    job = Job("rq", "0123456789abcdef01234567", before - 600, {"n": 7, "s": "x <y>", "f": 1.5})
    for ns in (go_ns, py_ns):
        keys = Keys(ns)
        r.zadd(keys.scheduled(), {job.to_bytes(): before - 300})
        with Client(ns, redis_server.url) as client:
            client.pause("rq")  # the job stays in the queue to be looked at

    # When a Go pool runs on one namespace and a Python pool on the other
    procs.append(go_driver.start_work(go_ns, ["rq"], expect="0", hold_seconds="20"))
    pool = WorkerPool(1, py_ns, redis_server.url, sleep_backoffs=FAST).job("rq", lambda job: None)
    pool.start()
    try:
        wait_until(
            "both requeuers move the job", lambda: all(r.llen(Keys(ns).jobs("rq")) == 1 for ns in (go_ns, py_ns))
        )
    finally:
        pool.stop()
        pool.close()
    after = int(time.time())
    go_raw, py_raw = (r.lindex(Keys(ns).jobs("rq"), 0) for ns in (go_ns, py_ns))
    assert go_raw is not None and py_raw is not None

    # Then both carry the job's fields with "t" moved to the time of the move
    go_job, py_job = json.loads(go_raw), json.loads(py_raw)
    assert before <= go_job["t"] <= after and before <= py_job["t"] <= after, (go_job, py_job)
    assert {**go_job, "t": 0} == {**py_job, "t": 0} == {**json.loads(job.to_bytes()), "t": 0}
    assert py_raw == job.to_bytes().replace(f'"t":{before - 600},'.encode(), f'"t":{py_job["t"]},'.encode())
    assert r.zcard(Keys(go_ns).scheduled()) == r.zcard(Keys(py_ns).scheduled()) == 0
    r.close()


def test_due_jobs_of_a_name_no_pool_handles(
    go_driver: GoDriver, redis_server: RedisServer, namespace: str, redis_client: redis.Redis
) -> None:
    """gocraft/work's requeuer kills a due job whose name its pool lacks; the fork's leaves it and
    stops there (head of line); a Python requeuer leaves it and moves the jobs behind it."""
    enq = Enqueuer(namespace, redis_server.url)
    unknown = enq.enqueue_in("rq_unknown", -10, {"n": 1})  # due first
    known = enq.enqueue_in("rq_known", -5, {"n": 2})
    assert unknown is not None and known is not None
    keys = Keys(namespace)

    # When a Go pool that handles only rq_known runs (gocraft/work's until it ran it; the fork's
    # for 3 s, in which its requeuers tick thrice)
    if go_driver.lib == "orig":
        out = go_driver.work(namespace, ["rq_known"], expect=1, timeout=20)
    else:
        out = go_driver.work(namespace, ["rq_known"], expect=0, hold_seconds="3")
    scheduled = [decode_job(m).id for m in redis_client.zrange(keys.scheduled(), 0, -1)]
    if go_driver.lib == "orig":
        # Then gocraft/work moved the unknown one to dead, and ran the known one
        (dead,) = [decode_job(m) for m in redis_client.zrange(keys.dead(), 0, -1)]
        assert (dead.id, dead.last_err, dead.fails) == (unknown.job.id, "unknown job when requeueing", 0)
        assert [r["id"] for r in out["records"]] == [known.job.id] and scheduled == []
        return
    # Then the fork left both: the unknown one, due first, blocks the other
    assert out["records"] == [] and scheduled == [unknown.job.id, known.job.id]
    assert redis_client.zcard(keys.dead()) == 0

    # When a Python pool that handles only rq_known starts, it moves and runs the known one
    runs = Runs()
    pool = WorkerPool(1, namespace, redis_server.url, settings=PoolSettings(requeue_period=0.2)).job("rq_known", runs)
    pool.start()
    try:
        wait_until("the known job ran", lambda: len(runs.runs) == 1)
    finally:
        pool.stop()
        pool.close()
    assert runs.ids() == [known.job.id]
    assert [decode_job(m).id for m in redis_client.zrange(keys.scheduled(), 0, -1)] == [unknown.job.id]
