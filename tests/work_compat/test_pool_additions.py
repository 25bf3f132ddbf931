"""Two small additions for the Celery worker: extra heartbeat fields (its node name) that Go's
readers skip, and ProcessRunner.recycle, which replaces an idle child (max_tasks_per_child)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from tests.redis_server import RedisServer
from tests.work_compat import procjobs
from work_compat import Client, ConfigurationError, Job, JobOptions, WorkerPool
from work_compat.job_options import JobType
from work_compat.runner import ProcessRunner

MakePool = Callable[..., WorkerPool]


def test_extra_heartbeat_field_is_written_beside_gos(
    make_pool: MakePool, redis_client: redis.Redis, client: Client
) -> None:
    pool = make_pool().job("noop", lambda job: None).set_heartbeat_field("celery_hostname", "celery@box")
    copy = pool.reconfigured(concurrency=2)
    pool.start()
    fields = redis_client.hgetall(pool.keys.heartbeat(pool.pool_id))
    assert fields[b"celery_hostname"] == b"celery@box"
    assert {b"heartbeat_at", b"started_at", b"job_names", b"concurrency", b"worker_ids", b"host", b"pid"} <= set(fields)
    (beat,) = client.worker_pool_heartbeats()
    assert beat.job_names == ["noop"] and beat.concurrency == 1
    assert copy._heartbeat_extra == {"celery_hostname": "celery@box"}


@pytest.mark.parametrize("name", ["host", "pid", "job_names", ""])
def test_gos_heartbeat_fields_cannot_be_replaced(make_pool: MakePool, name: str) -> None:
    with pytest.raises(ConfigurationError):
        make_pool().set_heartbeat_field(name, "x")


def test_heartbeat_fields_are_set_before_start(make_pool: MakePool) -> None:
    pool = make_pool().job("noop", lambda job: None)
    pool.start()
    with pytest.raises(ConfigurationError):
        pool.set_heartbeat_field("celery_hostname", "late")


def test_recycle_replaces_an_idle_child(redis_server: RedisServer, redis_client: redis.Redis) -> None:
    job_type = JobType.make("record_pid", procjobs.record_pid, JobOptions())
    runner = ProcessRunner({"record_pid": job_type}, [], None, 1, lambda slot, job_id, text: None)
    runner.start()
    try:
        job = Job("record_pid", "j1", 0, {"url": redis_server.url, "key": "pids"})
        assert runner.run(job_type, job, job.to_bytes(), 0).kind == "ok"
        old = runner.children[0]
        assert old is not None
        runner.recycle(0)
        assert not old.process.is_alive() and old.process.exitcode == 0  # it left on its own
        assert runner.run(job_type, job, job.to_bytes(), 0).kind == "ok"
        first, second = redis_client.lrange("pids", 0, -1)
        assert first != second
    finally:
        runner.close()
