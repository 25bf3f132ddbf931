"""celery_shim's inspect and result paths over entries that are not jobs, or that Go decoded and
Python cannot: the issue's job nested 3,000 levels deep in a queue, the scheduled set, the dead set
and a pool's in-progress list, and in a Go worker's observation (Go's decoder takes 10,000 levels,
so a Go pool running that job writes its args there). Nothing raises; the valid job's state shows.
"""

from __future__ import annotations

import redis

from celery_shim import Celery
from work_compat import Enqueuer, Keys

ID = "0123456789abcdef01234567"
DEEP_ARGS = b'{"a":' + b"[" * 3000 + b"]" * 3000 + b"}"
POISON = b'{"name":"hostile","id":"' + ID.encode() + b'","t":1700000000,"args":' + DEEP_ARGS + b"}"


def test_inspect_and_results_survive_entries_python_cannot_decode(
    app: Celery, redis_client: redis.Redis, namespace: str, enqueuer: Enqueuer
) -> None:
    k = Keys(namespace)
    now = int(app.now())  # the fixture app's clock
    good = enqueuer.enqueue_in("hostile", 600, {"n": 1})
    redis_client.lpush(k.jobs("hostile"), POISON)
    redis_client.zadd(k.scheduled(), {POISON: now + 600})
    redis_client.zadd(k.dead(), {POISON: now})
    # a Go-like pool, running the poison job
    redis_client.sadd(k.worker_pools(), "gopool")
    beat = {"heartbeat_at": now, "started_at": now, "job_names": "hostile", "concurrency": 1, "host": "h"}
    redis_client.hset(k.heartbeat("gopool"), mapping={**beat, "pid": 1, "worker_ids": "w1"})
    redis_client.rpush(k.jobs_in_progress("hostile", "gopool"), POISON)
    obs = {"job_name": "hostile", "job_id": ID, "started_at": now, "args": DEEP_ARGS}
    redis_client.hset(k.worker_observation("w1"), mapping=obs)

    inspect = app.control.inspect()
    active = inspect.active()
    assert active is not None
    (running,) = next(iter(active.values()))
    assert running["id"] == ID  # shown, without its args
    assert inspect.reserved() is not None
    assert inspect.scheduled() is not None
    assert inspect.query_task(ID) is not None
    assert app.AsyncResult(ID).state in ("PENDING", "STARTED", "RECEIVED", "FAILURE")
    assert app.AsyncResult(good.job.id).state == "PENDING"
