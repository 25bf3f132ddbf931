"""The prefork pool: tasks run in spawned children, where soft limits raise through SIGALRM, hard
limits kill the child (TimeLimitExceeded), a lost child is a WorkerLostError or a put-back (D12),
and children are replaced after ``max_tasks_per_child``."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from celery_shim import signals, states
from celery_shim.gocraft.keys import ShimKeys
from celery_shim.worker.worker import WorkController
from tests.celery_shim import worker_tasks
from tests.celery_shim.worker_helpers import gclient, started_workers  # noqa: F401  gclient: a fixture
from tests.redis_server import RedisServer
from tests.work_compat.conftest import wait_until
from work_compat import Client

Start = Callable[..., WorkController]


@pytest.fixture
def tapp(redis_server: RedisServer, namespace: str, redis_client: Any) -> Iterator[Any]:
    """The module-level app of worker_tasks, pointed at the test's Redis and namespace."""
    app = worker_tasks.app
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    app.conf.update(broker_url=url, result_backend=url, gocraft_namespace=namespace)
    try:
        yield app
    finally:
        app.close()
        for key in ("broker_url", "result_backend", "gocraft_namespace"):
            del app.conf[key]


@pytest.fixture
def start(tapp: Any) -> Iterator[Start]:
    with started_workers(tapp, pool="prefork") as start:
        yield start


def test_tasks_run_in_children_that_fired_worker_process_init(tapp: Any, start: Start, redis_client: Any) -> None:
    worker = start(concurrency=2)
    child_pid = worker_tasks.pid.delay().get(timeout=20)
    assert child_pid != os.getpid()
    wait_until(
        lambda: len(redis_client.lrange(worker_tasks.process_init_key(), 0, -1)) == 2,
        timeout=20,
        what="a worker_process_init in each child",
    )
    inits = [v.decode() for v in redis_client.lrange(worker_tasks.process_init_key(), 0, -1)]
    assert all(v.startswith(f"{worker.hostname}|") for v in inits)
    assert str(child_pid) in {v.split("|")[1] for v in inits}


def test_soft_time_limit_in_a_child(tapp: Any, start: Start) -> None:
    start(concurrency=1)
    result = worker_tasks.soft_catch.apply_async(soft_time_limit=0.3)
    assert result.get(timeout=20) == "stopped by the soft limit"


def test_hard_time_limit_kills_the_child(tapp: Any, start: Start, gclient: Client) -> None:
    start(concurrency=1)
    result = worker_tasks.hang.apply_async(time_limit=1)
    dead = wait_until(lambda: gclient.dead_jobs()[0], timeout=20, what="the dead entry")[0]
    assert dead.job.id == result.id
    assert dead.job.last_err == "TimeLimitExceeded: hard time limit (1.0s) exceeded"
    assert result.state == states.FAILURE
    assert type(result.result).__name__ == "TimeLimitExceeded"
    assert worker_tasks.pid.delay().get(timeout=20) != os.getpid()  # a new child took the slot


def test_hard_time_limit_from_the_worker_option(tapp: Any, start: Start, gclient: Client) -> None:
    start(concurrency=1, time_limit=1)
    result = worker_tasks.hang.delay()
    wait_until(lambda: result.state == states.FAILURE, timeout=20, what="the failure")
    assert gclient.dead_count() == 1


def test_lost_child_is_a_worker_lost_failure(tapp: Any, start: Start, gclient: Client) -> None:
    start(concurrency=1)
    result = worker_tasks.crash.delay()
    dead = wait_until(lambda: gclient.dead_jobs()[0], timeout=20, what="the dead entry")[0]
    assert dead.job.last_err.startswith("WorkerLostError: Worker exited prematurely")
    assert result.state == states.FAILURE
    assert type(result.result).__name__ == "WorkerLostError"


def test_lost_child_with_acks_late_and_reject_on_worker_lost_puts_the_job_back(
    tapp: Any, start: Start, gclient: Client, namespace: str
) -> None:
    start(concurrency=1)
    result = worker_tasks.crash_once.delay(f"{namespace}:test:crash_once")
    assert result.get(timeout=30) == "survived"
    assert gclient.dead_count() == 0


def test_max_tasks_per_child_replaces_the_child(tapp: Any, start: Start) -> None:
    start(concurrency=1, max_tasks_per_child=1)
    first = worker_tasks.pid.delay().get(timeout=20)
    second = worker_tasks.pid.delay().get(timeout=20)
    assert first != second


def test_terminate_over_the_control_channel_revokes_the_running_task(
    tapp: Any, start: Start, gclient: Client, namespace: str, redis_client: Any
) -> None:
    revoked: list[dict[str, Any]] = []
    signals.task_revoked.connect(lambda **kw: revoked.append(kw), weak=False, dispatch_uid="test-terminate")
    try:
        start(concurrency=1)
        result = worker_tasks.hang.delay()
        message = json.dumps(
            {"command": "revoke", "arguments": {"task_id": [result.id], "terminate": True, "signal": "SIGTERM"},
             "destination": None}
        )  # fmt: skip
        # A revoke that reaches the worker before the task starts discards it on arrival (as Celery's
        # does), so wait until it runs; then repeat the message until the child is killed.
        wait_until(
            lambda: any(o.job_id == result.id for o in gclient.worker_observations()),
            timeout=20,
            what="the task to start",
        )
        # app.control.revoke(id, terminate=True) publishes this.
        wait_until(
            lambda: redis_client.publish(ShimKeys(namespace).control(), message) and result.state == states.REVOKED,
            timeout=20,
            what="the task to be terminated",
        )
        entry = wait_until(lambda: gclient.history_job_by_id(result.id), timeout=10, what="the history entry")
        assert entry.job.last_err == "terminated"
        assert gclient.dead_count() == 0
        assert [(r["terminated"], r["signum"], r["expired"]) for r in revoked] == [(True, signal.SIGTERM, False)]
        assert worker_tasks.pid.delay().get(timeout=20) != os.getpid()
    finally:
        signals.task_revoked.disconnect(dispatch_uid="test-terminate")
