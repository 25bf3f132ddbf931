"""The prefork pool on the broker URL: its children fetch, run and complete their own tasks (the
parent, stopped with SIGSTOP, is not needed for a task to run), and a child SIGKILLed mid-task fails
that task with WorkerLostError, as Celery reports it, while the other tasks run untouched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from celery_shim import Celery, states
from celery_shim.gocraft.keys import ShimKeys
from celery_shim.worker.worker import WorkController
from tests.celery_shim import worker_tasks
from tests.celery_shim.worker_helpers import gclient, started_workers  # noqa: F401  gclient: a fixture
from tests.redis_server import RedisServer
from tests.work_compat.conftest import wait_until
from work_compat import Client, Keys

Start = Callable[..., WorkController]

SCRIPT = """
import os
import sys

from celery_shim import Celery

app = Celery("proj_children", broker=sys.argv[1], backend=sys.argv[1], gocraft_namespace=sys.argv[2])


@app.task(name="pid")
def pid():
    return os.getpid()


if __name__ == "__main__":
    sys.exit(app.worker_main(["worker", "-P", "prefork", "-c", "2", "-n", "children@test"]))
"""


def test_children_run_tasks_while_the_parent_is_stopped(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis, namespace: str
) -> None:
    # Given a prefork worker run as a script, whose children have run a task
    script = tmp_path / "proj.py"
    script.write_text(textwrap.dedent(SCRIPT))
    root = Path(__file__).resolve().parents[2]
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    env = {**os.environ, "PYTHONPATH": str(root), "CELERY_BROKER_URL": ""}
    client = Celery("client", broker=url, backend=url, gocraft_namespace=namespace, set_as_current=False)
    proc = subprocess.Popen(
        [sys.executable, str(script), url, namespace], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = client.send_task("pid").get(timeout=60)
        assert first != proc.pid

        # When the parent is stopped (SIGSTOP) while tasks are published
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            results = [client.send_task("pid") for _ in range(10)]

            # Then the children fetch, run and complete them: the parent handles no task
            pids = [r.get(timeout=30) for r in results]
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        assert proc.pid not in pids
        assert all(r.state == states.SUCCESS for r in results)
        keys = Keys(namespace)
        assert redis_client.llen(keys.jobs("pid")) == 0

        # And the worker still shuts down warmly
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert redis_client.smembers(keys.worker_pools()) == set(), err


@pytest.fixture
def tapp(redis_server: RedisServer, namespace: str) -> Iterator[Any]:
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


def test_a_child_sigkilled_mid_task_fails_it_with_worker_lost_error(
    tapp: Any,
    redis_client: redis.Redis,
    namespace: str,
    gclient: Client,  # noqa: F811
) -> None:
    with started_workers(tapp, pool="prefork") as start:
        # Given a prefork worker of two children (on the broker URL: they fetch their own tasks),
        # one running a long task
        worker = start(concurrency=2)
        assert worker.pool is not None and worker.pool.children_fetch
        key = f"{namespace}:test:hang_pid"
        long = worker_tasks.pid_then_hang.delay(key)
        child = int(wait_until(lambda: redis_client.get(key), timeout=30, what="the long task to start"))
        assert child != os.getpid()

        # When that child is SIGKILLed
        os.kill(child, signal.SIGKILL)

        # Then its task fails with WorkerLostError, stored as Celery stores it, and goes dead
        wait_until(lambda: long.state == states.FAILURE, timeout=20, what="the lost task's failure")
        assert type(long.result).__name__ == "WorkerLostError"
        dead = wait_until(lambda: gclient.dead_jobs()[0], timeout=20, what="the dead entry")
        assert [d.job.id for d in dead] == [long.id]
        assert dead[0].job.last_err.startswith("WorkerLostError: Worker exited prematurely")

        # And the other tasks run untouched, on a new child too
        others = [worker_tasks.pid.delay() for _ in range(20)]
        pids = {r.get(timeout=30) for r in others}
        assert child not in pids and os.getpid() not in pids
        assert all(r.state == states.SUCCESS for r in others)
        assert gclient.dead_count() == 1


def test_a_revoke_heard_by_the_parent_reaches_the_children_that_fetch(
    tapp: Any,
    redis_client: redis.Redis,
    namespace: str,
    gclient: Client,  # noqa: F811
) -> None:
    with started_workers(tapp, pool="prefork") as start:
        # Given a prefork worker that reads the revoked set only at start, its children running
        worker = start(concurrency=2, revoked_refresh=3600)
        assert worker_tasks.pid.delay().get(timeout=30) != os.getpid()
        assert worker.revoked is not None

        # When a revoke arrives on the control channel only (the set is not written)
        message = json.dumps({"command": "revoke", "arguments": {"task_id": ["late-rev"]}, "destination": None})
        redis_client.publish(ShimKeys(namespace).control(), message)
        wait_until(lambda: "late-rev" in worker.revoked, timeout=10, what="the worker to hear the revoke")

        # Then the child that fetches the task discards it as revoked; the others run
        worker_tasks.pid.apply_async(task_id="late-rev")
        kept = worker_tasks.pid.delay()
        assert kept.get(timeout=30) != os.getpid()
        entry = wait_until(lambda: gclient.history_job_by_id("late-rev"), timeout=10, what="the discarded job's entry")
        assert entry.job.last_err == "revoked"
        assert tapp.AsyncResult("late-rev").state == states.REVOKED


def test_each_child_holds_a_share_of_a_rate_limit_and_hears_runtime_changes(
    tapp: Any,
    redis_client: redis.Redis,
    namespace: str,
    gclient: Client,  # noqa: F811
) -> None:
    with started_workers(tapp, pool="prefork") as start:
        # Given a prefork worker of two children and a task limited to 1/h: each child holds half
        worker = start(concurrency=2)
        assert worker.pool is not None
        results = [worker_tasks.limited.delay() for _ in range(3)]

        # Then each child runs one (its bucket's one token, as Celery's bucket holds one), no more
        wait_until(lambda: sum(r.state == states.SUCCESS for r in results) == 2, timeout=30, what="one run per child")
        assert worker_tasks.pid.delay().get(timeout=30) != os.getpid()
        assert worker.pool.drain(timeout=30)  # nothing more is fetched
        assert sum(r.state == states.SUCCESS for r in results) == 2
        assert {q.job_name: q.count for q in gclient.queues()}.get("limited") == 1

        # When app.control.rate_limit raises it (the runtime hash), the parent tells the children
        redis_client.hset(ShimKeys(namespace).rate_limits(), "limited", "100/s")
        wait_until(lambda: all(r.state == states.SUCCESS for r in results), timeout=20, what="the third run")
