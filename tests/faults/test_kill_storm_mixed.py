"""Scenario: a kill storm on one namespace shared by gocraft/work pools and Python pools.

Two Go pools (the interop driver, gocraft/work) and two ``work_compat worker`` processes work the
same queue. The test SIGKILLs four of them at random moments, alternating Go and Python, and starts
a pool of the same kind after each kill. Every pool runs on the default cadences (Go's 5 s beat and 10 s
staleness), so recovery comes from the pools' own reapers: a Python pool's at its start and
dead_after + 1 s later, a Go pool's after 10 s.

What each run leaves in Redis tells who ran it: a Python pool records the run (``<rec>:done``);
a Go pool's handler fails on purpose with ``MaxFails`` 1, so its run ends in ``dead`` (a Go
completion and its dead entry are one transaction). Right after each kill the killed pool's
in-progress list is read: those jobs were in flight at the kill.

Then: no job is lost (every job ran at least once), every job that ran twice was in flight at a
kill, the lock counters are back to 0 once the pools stop, and all of it within a minute of the
last kill.
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import redis

from tests.faults.conftest import Workers, _s, leftovers, pool_ids_by_pid, wait_for
from tests.interop.driver import GoDriver
from work_compat import Enqueuer, decode_job

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

N = 800
JOB_MS = 150
RECOVERY_BOUND = 60.0


@dataclass
class GoProc:
    """A Go pool process whose output pipes a thread drains (a full pipe would stall its workers)."""

    popen: subprocess.Popen[str]
    pool_id: str = ""
    output: list[tuple[str, str]] = field(default_factory=list)
    reader: threading.Thread | None = None

    def drain(self) -> None:
        self.reader = threading.Thread(target=lambda: self.output.append(self.popen.communicate()), daemon=True)
        self.reader.start()

    def wait(self, timeout: float) -> None:
        assert self.reader is not None
        self.reader.join(timeout)
        assert self.popen.poll() is not None, f"Go pool {self.pool_id} still running after {timeout}s"


@pytest.fixture
def go_procs() -> Iterator[list[GoProc]]:
    started: list[GoProc] = []
    yield started
    for p in started:
        if p.popen.poll() is None:
            p.popen.kill()
        if p.reader is not None:
            p.reader.join(10)


def _ids(rc: redis.Redis, key: str) -> list[str]:
    return [decode_job(raw).id for raw in rc.lrange(key, 0, -1)]


def test_kill_storm_of_go_and_python_pools_loses_nothing(
    workers: Workers,
    rc: redis.Redis,
    go_driver: GoDriver,
    go_procs: list[GoProc],
    fault_report: Callable[[str], None],
) -> None:
    k = workers.keys
    rec = f"{workers.ns}:rec"
    seed = int(os.environ.get("FAULTS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    with Enqueuer(workers.ns, workers.url) as enq:
        id_of = {
            j.id: j.args["i"] for j in enq.enqueue_many(("work", {"rec": rec, "i": i, "ms": JOB_MS}) for i in range(N))
        }

    def start_go() -> GoProc:
        flags = {"concurrency": "2", "sleep_ms": f"work={JOB_MS}", "fail": "work", "maxfails": "work=1"}
        proc = GoProc(
            go_driver.start_work(workers.ns, ["work"], expect="0", until_empty="true", timeout="120", **flags)
        )
        proc.drain()
        go_procs.append(proc)
        proc.pool_id = wait_for("a Go pool to beat", lambda: pool_ids_by_pid(rc, k).get(proc.popen.pid, ""), 20)
        return proc

    go = [start_go() for _ in range(2)]
    python = [workers.start(2, pool="default_reaper_pool") for _ in range(2)]
    for proc in python:
        workers.wait_ready(proc)

    in_flight: set[str] = set()
    killed_ids: set[str] = set()
    kinds = []
    for n in range(4):
        time.sleep(rng.uniform(0.3, 0.8))
        if n % 2 == 0:
            victim_go = rng.choice([p for p in go if p.popen.poll() is None])
            victim_go.popen.kill()
            victim_go.wait(10)
            pool_id = victim_go.pool_id
            kinds.append("go")
            go.append(start_go())  # its reaper first runs 10 s after it starts, as Go's does
        else:
            victim = rng.choice([p for p in workers.live() if p.pool_id])
            workers.sigkill(victim)
            pool_id = victim.pool_id
            kinds.append("python")
            workers.wait_ready(workers.start(2, pool="default_reaper_pool"))  # reaps at start, +11 s
        killed_ids.add(pool_id)
        in_flight |= set(_ids(rc, k.jobs_in_progress("work", pool_id)))  # frozen until a reaper comes
    last_kill = time.monotonic()
    assert rc.llen(k.jobs("work")) > 0, f"the run ended before the last kill (seed {seed}); make the jobs slower"

    def completions() -> Counter[int]:
        runs: Counter[int] = Counter({int(i): int(n) for i, n in rc.hgetall(rec + ":done").items()})
        for raw in rc.zrange(k.dead(), 0, -1):  # Go's runs
            job = decode_job(raw)
            runs[int(job.args["i"])] += 1  # type: ignore[index]
        return runs

    def settled() -> bool:
        pools = {_s(p) for p in rc.smembers(k.worker_pools())}
        return (
            len(completions()) == N
            and rc.llen(k.jobs("work")) == 0
            and not pools & killed_ids
            and not any(rc.llen(k.jobs_in_progress("work", p)) for p in pools | killed_ids)
        )

    wait_for(
        "every job to run and every killed pool to be reaped",
        settled,
        RECOVERY_BOUND,
        interval=0.2,
        state=lambda: (N - len(completions()), leftovers(rc, k, ["work"]), workers.logs()),
    )
    recovered_in = time.monotonic() - last_kill
    for proc in workers.live():
        assert workers.terminate(proc) == 0, proc.log_tail()
    for go_proc in go:
        go_proc.wait(60)  # -until-empty: the surviving Go pools stop themselves once the queue is empty

    runs = completions()
    assert sorted(runs) == list(range(N)), f"lost: {sorted(set(range(N)) - set(runs))[:20]} (seed {seed})"
    doubles = {i for i, n in runs.items() if n > 1}
    in_flight_i = {id_of[j] for j in in_flight}
    assert doubles <= in_flight_i, f"ran twice without being in flight at a kill: {sorted(doubles - in_flight_i)}"
    assert int(rc.get(k.jobs_lock("work")) or 0) == 0
    assert all(int(v) == 0 for v in rc.hgetall(k.jobs_lock_info("work")).values()), rc.hgetall(k.jobs_lock_info("work"))
    assert not {_s(p) for p in rc.smembers(k.worker_pools())}
    assert recovered_in <= RECOVERY_BOUND
    go_runs = rc.zcard(k.dead())
    fault_report(
        f"seed {seed}: SIGKILLs of {', '.join(kinds)} pools among 2 Go + 2 Python (2 workers each) on one "
        f"namespace; {N} jobs, 0 lost, {go_runs} run by Go; {len(doubles)} ran twice, all among the "
        f"{len(in_flight)} in flight at a kill; settled {recovered_in:.1f}s after the last kill, lock counters 0"
    )
