"""AsyncResult states, inspect and revoke against a real Go worker pool (gocraft/work).

A Go pool's heartbeat, worker observations and retry/dead members are what celery_shim reads, so
a job a Go pool runs, retries or kills has a Celery state, and the Go pool is an inspect node.
gocraft/work keeps no history: once its pool finished a job successfully, nothing is left of it,
and its state is PENDING with ``exists()`` False. The fork's pool writes the job to its history
log, so the state is SUCCESS.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from celery_shim import Celery, states
from celery_shim.result import GocraftJobError
from tests.interop.driver import GoDriver
from tests.redis_server import RedisServer
from work_compat import Enqueuer

pytestmark = pytest.mark.interop


def wait_until(what: str, check: Callable[[], object], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting until {what}"
        time.sleep(0.05)


@pytest.fixture
def app(redis_server: RedisServer, redis_client: redis.Redis, namespace: str) -> Iterator[Celery]:
    app = Celery("proj", broker=redis_server.url, gocraft_namespace=namespace, set_as_current=False)
    try:
        yield app
    finally:
        app.close()


def test_jobs_a_go_pool_runs_retries_and_kills_have_celery_states(
    go_driver: GoDriver,
    app: Celery,
    redis_server: RedisServer,
    namespace: str,
    procs: list[subprocess.Popen[str]],
) -> None:
    enq = Enqueuer(namespace, redis_server.url)
    slow = enq.enqueue("slow", {"path": "/a.png"})
    flaky = enq.enqueue("flaky", {})
    doomed = enq.enqueue("doomed", {})
    flags = {"concurrency": "3", "fail": "flaky,doomed", "maxfails": "doomed=1", "sleep_ms": "slow=4000"}
    procs.append(go_driver.start_work(namespace, ["slow", "flaky", "doomed"], hold_seconds="8", **flags))

    # A running Go job is STARTED, and the Go pool is an inspect node named by its host
    wait_until("the Go pool runs slow", lambda: app.AsyncResult(slow.id).state == states.STARTED)
    inspect = app.control.inspect()
    active = inspect.active()
    assert active is not None and list(active) == [socket.gethostname()]
    (running,) = [r for r in active[socket.gethostname()] if r["id"] == slow.id]
    assert (running["name"], running["kwargs"]) == ("slow", {"path": "/a.png"})
    assert inspect.registered() == {socket.gethostname(): ["doomed", "flaky", "slow"]}

    # A failed attempt waits in retry with Go's error; a job out of attempts is dead
    wait_until("flaky in retry", lambda: app.AsyncResult(flaky.id).state == states.RETRY)
    wait_until("doomed is dead", lambda: app.AsyncResult(doomed.id).state == states.FAILURE)
    app.conf.result_backend = redis_server.url  # values need a backend; none is stored for Go jobs
    failure = app.AsyncResult(doomed.id)
    assert isinstance(failure.info, GocraftJobError) and "deliberate failure" in str(failure.info)
    with pytest.raises(GocraftJobError):
        failure.get(timeout=5)

    if go_driver.lib == "fork":
        # The fork's history log keeps the finished job: SUCCESS, and it exists
        wait_until("slow finished", lambda: app.AsyncResult(slow.id).state == states.SUCCESS)
        assert app.AsyncResult(slow.id).exists() is True
    else:
        # gocraft/work keeps no history: a finished job leaves nothing behind
        wait_until("slow finished", lambda: app.AsyncResult(slow.id).state == states.PENDING)
        assert app.AsyncResult(slow.id).exists() is False


def test_revoke_removes_a_job_go_scheduled(
    go_driver: GoDriver, app: Celery, redis_client: redis.Redis, namespace: str
) -> None:
    (made,) = go_driver.enqueue(
        namespace, [{"call": "EnqueueIn", "job_name": "report", "seconds_from_now": 3600, "args": {"d": 1}}]
    )
    assert made["error"] == ""
    job_id = made["returned"]["id"]  # a ScheduledJob embeds the Job, so its id is at the top
    assert app.AsyncResult(job_id).state == states.PENDING and app.AsyncResult(job_id).exists()

    app.control.revoke(job_id)

    assert redis_client.zcard(f"{namespace}:scheduled") == 0
    assert app.AsyncResult(job_id).state == states.REVOKED
    listed = go_driver.list(namespace)
    assert json.dumps(listed).count(job_id) == 0
