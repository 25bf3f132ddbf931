"""Poison jobs in a real worker process: the issue's job nested 3,000 levels deep (6 KB), and its
kin (a number past float64, a name that is a number, 100,000 open brackets), pushed between good jobs.

Given a ``python -m work_compat worker`` process (threads, then processes) working a queue,
when the poison entries land in that queue, then each ends in ``dead`` with an error that says
what was wrong and its original text, every good job runs once, the pool keeps beating and working,
and a graceful stop leaves nothing in progress and the lock counters at 0.
"""

from __future__ import annotations

import pytest
import redis

from tests.faults.conftest import Workers, leftovers, wait_for
from work_compat import Client, Enqueuer

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

ID = b"0123456789abcdef01234567"


def _job(args: bytes, name: bytes = b'"work"') -> bytes:
    return b'{"name":' + name + b',"id":"' + ID + b'","t":1700000000,"args":' + args + b"}"


# entry -> words its dead entry's err must hold
POISON = {
    _job(b'{"a":' + b"[" * 3000 + b"]" * 3000 + b"}"): "nested more than 512 levels",
    _job(b'{"a":' + b'{"b":' * 3000 + b"1" + b"}" * 3000 + b"}"): "nested more than 512 levels",
    _job(b'{"a":1e400}'): "out of the float64 range",
    _job(b"{}", name=b"5"): "'name'",
    b"[" * 100_000: "nested more than 512 levels",
}


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_poison_jobs_go_to_dead_and_the_pool_keeps_working(workers: Workers, rc: redis.Redis, processes: bool) -> None:
    keys = workers.keys
    rec = f"{workers.ns}:rec"
    enq = Enqueuer(workers.ns, workers.url)
    client = Client(workers.ns, workers.url)
    try:
        proc = workers.start(2, processes=processes)
        pool_id = workers.wait_ready(proc)
        enq.enqueue_many(("work", {"rec": rec, "i": i, "ms": 5}) for i in range(10))
        for entry in POISON:
            rc.lpush(keys.jobs("work"), entry)
        enq.enqueue_many(("work", {"rec": rec, "i": i, "ms": 5}) for i in range(10, 20))

        def done() -> bool:
            ran = rc.hgetall(rec + ":done")
            return len(ran) == 20 and rc.zcard(keys.dead()) == len(POISON)

        wait_for(
            "the good jobs to run and the poison ones to be dead",
            done,
            30,
            state=lambda: (rc.hgetall(rec + ":done"), leftovers(rc, keys, ["work"]), workers.logs()),
        )
        assert all(int(v) == 1 for v in rc.hgetall(rec + ":done").values())

        dead, total = client.dead_jobs(1)
        assert total == len(POISON)
        by_raw = {(d.job.args or {}).get("raw"): d.job for d in dead}
        for entry, words in POISON.items():
            job = by_raw[entry.decode()]
            assert job.name == "work"
            assert words in job.last_err, job.last_err

        # Still alive and working: a job pushed now runs too.
        enq.enqueue("work", {"rec": rec, "i": 100, "ms": 0})
        wait_for("a job pushed after the poison ones to run", lambda: rc.hexists(rec + ":done", "100"), 10)
        assert proc.alive()
        assert workers.terminate(proc) == 0
        assert rc.sismember(keys.worker_pools(), pool_id) == 0, workers.logs()
        assert leftovers(rc, keys, ["work"]) == {keys.dead(): len(POISON)}
    finally:
        enq.close()
        client.close()
