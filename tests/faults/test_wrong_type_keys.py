"""Keys of the wrong Redis type do not stop recovery (the reaper's half; the Client's and the
dashboard's is tests/webui/test_wrong_type_keys.py).

Given a namespace where a registered pool's heartbeat is a string, a dead pool's lock counter for one
of its two job names is a hash, and the history is a string, when a worker process is SIGKILLed with
jobs in progress and another starts, then its reaper recovers the killed pool's jobs and the dead
pool's jobs of its sound name, keeps that dead pool registered and its other job in progress, logs
each bad key once however many passes it makes, and recovers the rest once the key is fixed.
"""

from __future__ import annotations

import time

import pytest
import redis

from tests.faults.conftest import Workers, wait_for
from work_compat import Enqueuer, Job

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]


def test_a_wrong_type_key_does_not_stop_the_reaper(workers: Workers, rc: redis.Redis) -> None:
    k = workers.keys
    rec = f"{workers.ns}:rec"
    now = int(time.time())
    # A pool whose heartbeat is a string: it may be alive, so it is left alone.
    rc.sadd(k.worker_pools(), "strpool")
    rc.set(k.heartbeat("strpool"), "not a hash")
    # A pool dead for a minute holding one job of each of its names; "other"'s lock is a hash.
    half_jobs = {n: Job(n, f"half-{n}", now, {"rec": rec, "i": 50, "ms": 0}).to_bytes() for n in ("work", "other")}
    rc.sadd(k.worker_pools(), "halfpool")
    rc.hset(k.heartbeat("halfpool"), mapping={"heartbeat_at": now - 60, "job_names": "other,work", "pid": 1})
    for name, raw in half_jobs.items():
        rc.rpush(k.jobs_in_progress(name, "halfpool"), raw)
        rc.hset(k.jobs_lock_info(name), "halfpool", 1)
    rc.set(k.jobs_lock("work"), 1)
    rc.hset(k.jobs_lock("other"), "not", "a counter")
    rc.set(k.history(), "not a sorted set")

    with Enqueuer(workers.ns, workers.url) as enq:
        crashed = workers.start(2)
        crashed_id = workers.wait_ready(crashed)
        enq.enqueue_many(("work", {"rec": rec, "i": i, "ms": 60_000}) for i in range(2))
        wait_for("both jobs to start", lambda: len(rc.hgetall(rec + ":started")) == 2, 15, state=workers.logs)
        workers.sigkill(crashed)
        survivor = workers.start(3)  # two run the killed pool's minute-long jobs again, one is free
        workers.wait_ready(survivor)

        def recovered() -> bool:
            started = {int(i): int(n) for i, n in rc.hgetall(rec + ":started").items()}
            return started.get(0, 0) >= 2 or started.get(1, 0) >= 2

        wait_for("the killed pool's jobs to run again", recovered, 20, state=workers.logs)
        wait_for("the dead pool's 'work' job to run", lambda: rc.hget(rec + ":done", "50") == b"1", 10)
        assert not rc.sismember(k.worker_pools(), crashed_id)
        assert rc.sismember(k.worker_pools(), "halfpool")  # kept: its "other" job is still held
        assert rc.lrange(k.jobs_in_progress("other", "halfpool"), 0, -1) == [half_jobs["other"]]
        assert rc.sismember(k.worker_pools(), "strpool")
        assert rc.hget(k.jobs_lock_info("work"), "halfpool") is None

        # More passes (the suite's reaper runs every 2 s): each bad key is still logged once.
        time.sleep(5)  # several reaper periods, to count log lines (nothing to wait for)
        log = survivor.log.read_text(errors="replace")
        for key in (k.heartbeat("strpool"), k.jobs_lock("other"), k.history()):
            assert log.count(f"key {key!r} is not a") == 1, (key, log[-3000:])

        # When the key is fixed, the next pass takes the rest back.
        rc.delete(k.jobs_lock("other"))
        wait_for("the dead pool to be reaped", lambda: not rc.sismember(k.worker_pools(), "halfpool"), 10)
        assert rc.lrange(k.jobs("other"), 0, -1) == [half_jobs["other"]]
        assert rc.llen(k.jobs_in_progress("other", "halfpool")) == 0
