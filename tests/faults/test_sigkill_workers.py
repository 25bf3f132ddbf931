"""Scenario 1: worker processes SIGKILLed at random moments; nothing is lost (at-least-once).

Thread pools: 3 ``work-compat worker`` processes work 2,000 jobs while the test SIGKILLs one at a
random moment, four times, and starts a replacement each time. The replacements' reapers find the
killed pools dead (no beat for 3 s) and put their in-progress jobs back. At the end every job has
run at least once, and once the live pools stop there is nothing left anywhere.

Process pools (``--processes``): a child process of the pool is SIGKILLed (from outside at random
moments, or by its own job); its job fails with a ``WorkerLost`` err, is retried, and the pool
goes on working.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable

import pytest
import redis

from tests.faults.conftest import Workers, leftovers, wait_for
from work_compat import Client, Enqueuer, HistoryJob, Keys

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

N = 2000


def _runs(rc: redis.Redis, key: str) -> dict[int, int]:
    return {int(k): int(v) for k, v in rc.hgetall(key).items()}


def test_sigkill_thread_pools_while_2000_jobs_run(
    workers: Workers, rc: redis.Redis, ns: str, fault_report: Callable[[str], None]
) -> None:
    keys = workers.keys
    rec = f"{ns}:rec"
    seed = int(os.environ.get("FAULTS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    with Enqueuer(ns, workers.url) as enq:
        enq.enqueue_many(("work", {"i": i, "rec": rec, "ms": 12}) for i in range(N))

    for _ in range(3):
        workers.start(2)
    for proc in workers.started:
        workers.wait_ready(proc)

    killed_mid_run = 0
    for _ in range(4):
        time.sleep(rng.uniform(0.2, 0.9))
        ready = [p for p in workers.live() if p.pool_id]
        victim = rng.choice(ready)
        left = rc.llen(keys.jobs("work"))
        workers.sigkill(victim)
        killed_mid_run += left > 0
        workers.wait_ready(workers.start(2))
    assert killed_mid_run >= 3, f"the run ended before the kills (seed {seed}); make the jobs slower"

    killed = {p.pool_id for p in workers.started if p.killed}
    live = {p.pool_id for p in workers.live()}

    def state() -> object:
        pools = {v.decode() for v in rc.smembers(keys.worker_pools())}
        return {
            "done": rc.hlen(rec + ":done"),
            "leftovers": leftovers(rc, keys, ["work"]),
            "unreaped": sorted(pools & killed),
            "logs": workers.logs(),
        }

    # Every job ran; the killed pools were reaped (their in-progress jobs requeued and run).
    wait_for(
        "every job to run and every killed pool to be reaped",
        lambda: (
            rc.hlen(rec + ":done") == N
            and not rc.llen(keys.jobs("work"))
            and {v.decode() for v in rc.smembers(keys.worker_pools())} == live
        ),
        45,
        interval=0.2,
        state=state,
    )
    for proc in workers.live():
        assert workers.terminate(proc) == 0, proc.log_tail()

    done = _runs(rc, rec + ":done")
    started = _runs(rc, rec + ":started")
    assert sorted(done) == list(range(N)), f"jobs never completed: {sorted(set(range(N)) - set(done))[:20]}"
    assert leftovers(rc, keys, ["work"]) == {}, workers.logs()
    assert rc.scard(keys.worker_pools()) == 0
    assert rc.hgetall(keys.jobs_lock_info("work")).keys() <= {p.encode() for p in live}, "killed pools' lock_info"

    twice = sum(1 for v in done.values() if v > 1)
    fault_report(
        f"seed {seed}: 4 SIGKILLs ({killed_mid_run} with jobs still queued) of 3 thread pools x 2 workers; "
        f"{N} jobs all completed; {twice} completed twice (max {max(done.values())} runs), "
        f"{sum(1 for v in started.values() if v > 1)} started more than once, "
        f"{sum(started.values()) - N} extra starts in all"
    )


def _stat(pid: int) -> list[str] | None:
    """State and parent pid first: the fields of /proc/<pid>/stat after the command name."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _child_pids(parent: int, rc: redis.Redis, key: str) -> list[int]:
    """Recorded handler pids that are live, non-zombie descendants of ``parent`` (a pool's children
    are forked by its fork server, a child of the pool), so the test only signals its own."""
    out = []
    for raw in rc.smembers(key):
        pid = int(raw)
        fields = _stat(pid)
        if fields is None or fields[0] == "Z":
            continue
        up = int(fields[1])
        for _ in range(3):
            if up == parent:
                out.append(pid)
                break
            above = _stat(up)
            if above is None:
                break
            up = int(above[1])
    return out


def _history(rc: redis.Redis, ns: str, name: str) -> list[HistoryJob]:
    return [HistoryJob.from_json(raw) for raw in rc.zrange(Keys(ns).history_for(name), 0, -1)]


def test_sigkill_child_processes_of_a_process_pool(
    workers: Workers, rc: redis.Redis, ns: str, fault_report: Callable[[str], None]
) -> None:
    keys = workers.keys
    rec = f"{ns}:rec"
    seed = int(os.environ.get("FAULTS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    n = 200
    with Enqueuer(ns, workers.url) as enq:
        enq.enqueue_many(("proc", {"i": i, "rec": rec, "ms": 40}) for i in range(n))
    parent = workers.start(2, processes=True)
    workers.wait_ready(parent)

    kills = 0
    for _ in range(3):
        time.sleep(rng.uniform(0.3, 0.8))
        pids = wait_for("a child to run a job", lambda: _child_pids(parent.pid, rc, rec + ":pids"), 15)
        assert rc.llen(keys.jobs("proc")) > 0, f"the run ended before the kills (seed {seed})"
        os.kill(rng.choice(pids), signal.SIGKILL)
        kills += 1

    def lost_runs() -> list[HistoryJob]:
        return [h for h in _history(rc, ns, "proc") if h.status == "retry" and "WorkerLost" in h.job.last_err]

    wait_for(
        f"all {n} jobs to complete",
        lambda: rc.hlen(rec + ":done") == n and not leftovers(rc, keys, ["proc"]),
        45,
        interval=0.2,
        state=lambda: (rc.hlen(rec + ":done"), leftovers(rc, keys, ["proc"]), parent.log_tail()),
    )
    lost = lost_runs()
    assert len(lost) == kills, [h.to_json() for h in lost]
    for h in lost:
        assert h.job.last_err.startswith("WorkerLost: the worker process died"), h.job.last_err
    errs = [e.decode() for e in rc.lrange(rec + ":errs", 0, -1)]
    assert sum("WorkerLost" in e for e in errs) >= kills, errs  # the retried runs saw the err

    # The pool keeps working: same parent, same pool, more jobs.
    assert parent.alive()
    with Enqueuer(ns, workers.url) as enq:
        enq.enqueue_many(("proc", {"i": n + i, "rec": rec, "ms": 1}) for i in range(20))
    wait_for("20 more jobs", lambda: rc.hlen(rec + ":done") == n + 20, 20, state=parent.log_tail)
    assert rc.sismember(keys.worker_pools(), parent.pool_id)
    assert workers.terminate(parent) == 0, parent.log_tail()
    assert leftovers(rc, keys, ["proc"]) == {}
    fault_report(
        f"seed {seed}: {kills} child SIGKILLs -> {len(lost)} WorkerLost retries "
        f"({lost[0].job.last_err!r}); all {n + 20} jobs completed"
    )


def test_job_that_kills_its_own_child_process_is_retried(
    workers: Workers, rc: redis.Redis, ns: str, fault_report: Callable[[str], None]
) -> None:
    keys = workers.keys
    rec = f"{ns}:rec"
    parent = workers.start(2, processes=True)
    workers.wait_ready(parent)
    with Enqueuer(ns, workers.url) as enq:
        job = enq.enqueue("suicide", {"i": 0, "rec": rec, "flag": f"{ns}:flag"})
        enq.enqueue_many(("proc", {"i": i, "rec": rec, "ms": 1}) for i in range(1, 11))

    wait_for("the retried run", lambda: rc.hget(rec + ":done", "0"), 20, state=parent.log_tail)
    wait_for(
        "every job to complete",
        lambda: rc.hlen(rec + ":done") == 11 and not leftovers(rc, keys, ["suicide", "proc"]),
        20,
        state=lambda: (leftovers(rc, keys, ["suicide", "proc"]), parent.log_tail()),
    )
    assert rc.hget(rec + ":done", "0") == b"1"
    errs = [e.decode() for e in rc.lrange(rec + ":errs", 0, -1) if e.startswith(b"0|")]
    assert len(errs) == 1 and errs[0].startswith("0|WorkerLost: the worker process died"), errs
    history = sorted(_history(rc, ns, "suicide"), key=lambda h: (h.completed_at, h.job.fails))
    assert [(h.status, h.job.id) for h in history] == [("retry", job.id), ("success", job.id)]
    with Client(ns, workers.url) as client:
        assert client.dead_jobs()[1] == 0
    assert parent.alive() and rc.sismember(keys.worker_pools(), parent.pool_id)
    assert workers.terminate(parent) == 0, parent.log_tail()
    assert leftovers(rc, keys, ["suicide", "proc"]) == {}
    fault_report(f"self-SIGKILLed child: the job was retried once with {errs[0][2:]!r}")


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_children_of_a_sigkilled_process_pool_stop_with_it(
    workers: Workers, rc: redis.Redis, ns: str, fault_report: Callable[[str], None]
) -> None:
    """A parent killed with SIGKILL cannot stop its children; they notice and exit on their own,
    mid-handler, instead of finishing jobs that a reaper will requeue anyway."""
    rec = f"{ns}:rec"
    parent = workers.start(2, processes=True)
    workers.wait_ready(parent)
    with Enqueuer(ns, workers.url) as enq:
        enq.enqueue_many(("proc", {"i": i, "rec": rec, "ms": 60_000}) for i in range(2))
    pids = wait_for(
        "both children to start a long job",
        lambda: (lambda p: p if len(p) == 2 else [])(_child_pids(parent.pid, rc, rec + ":pids")),
        20,
        state=parent.log_tail,
    )
    workers.sigkill(parent)
    killed_at = time.monotonic()
    wait_for("the orphaned children to exit", lambda: not any(_alive(p) for p in pids), 10)
    assert rc.hlen(rec + ":done") == 0
    fault_report(f"both children of a SIGKILLed process pool exited {time.monotonic() - killed_at:.1f}s after it")
