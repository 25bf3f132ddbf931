"""app.control: revoke, purge, runtime limits and inspection, against a real Redis with real pools.

Revoke must take the job out of wherever it waits so no pool (Go's included) runs it, and record
the id in the persistent revoked set; purge empties only the app's own queues; inspect answers
from heartbeats and observations, so a plain gocraft pool appears beside a celery_shim worker.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from celery_shim import Celery, states
from tests.celery_shim.conftest import app_on
from tests.celery_shim.worker_helpers import running_worker
from tests.work_compat.conftest import wait_until
from work_compat import Enqueuer, Job, JobOptions, WorkerPool


@pytest.fixture
def app(url: str, namespace: str) -> Iterator[Celery]:
    with app_on(url, namespace) as app:
        yield app


class ControlChannel:
    """A subscriber on ``<ns>:celery:control`` that collects the commands published there."""

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(f"{namespace}:celery:control")

    def next(self) -> dict[str, Any]:
        for _ in range(50):
            message = self.pubsub.get_message(timeout=0.1)
            if message is not None:
                doc: dict[str, Any] = json.loads(message["data"])
                return doc
        raise AssertionError("no control message within 5 s")


@pytest.fixture
def channel(redis_client: redis.Redis, namespace: str) -> Iterator[ControlChannel]:
    ch = ControlChannel(redis_client, namespace)
    try:
        yield ch
    finally:
        ch.pubsub.close()


def revoked_ids(client: redis.Redis, namespace: str) -> set[str]:
    return {m.decode() for m in client.zrange(f"{namespace}:celery:revoked", 0, -1)}


# -- revoke ----------------------------------------------------------------------------------------
def test_revoke_removes_a_scheduled_job_and_marks_the_id(
    app: Celery, enqueuer: Enqueuer, redis_client: redis.Redis, namespace: str, channel: ControlChannel
) -> None:
    scheduled = enqueuer.enqueue_in("send_email", 3600, {"address": "ada@example.com"})
    other = enqueuer.enqueue_in("send_email", 3600, {"address": "grace@example.com"})

    app.control.revoke(scheduled.job.id)

    members = [json.loads(m)["id"] for m in redis_client.zrange(f"{namespace}:scheduled", 0, -1)]
    assert members == [other.job.id]
    assert revoked_ids(redis_client, namespace) == {scheduled.job.id}
    message = channel.next()
    assert (message["command"], message["arguments"]) == (
        "revoke",
        {"task_id": [scheduled.job.id], "terminate": False, "signal": "SIGTERM"},
    )
    result = app.AsyncResult(scheduled.job.id)
    assert result.state == states.REVOKED  # stored, since no worker will ever see the job
    with pytest.raises(Exception, match="revoked"):
        result.get(timeout=5)


def test_revoke_removes_queued_jobs_and_frees_their_unique_lock(
    app: Celery, enqueuer: Enqueuer, redis_client: redis.Redis, namespace: str
) -> None:
    keep = enqueuer.enqueue("report", {"day": 1})
    drop = enqueuer.enqueue("report", {"day": 2})
    unique = enqueuer.enqueue_unique("rebuild", {"shard": 7})
    assert unique is not None
    assert enqueuer.enqueue_unique("rebuild", {"shard": 7}) is None

    app.AsyncResult(drop.id).revoke()
    app.control.revoke([unique.id])

    assert [json.loads(m)["id"] for m in redis_client.lrange(f"{namespace}:jobs:report", 0, -1)] == [keep.id]
    assert redis_client.llen(f"{namespace}:jobs:rebuild") == 0
    assert enqueuer.enqueue_unique("rebuild", {"shard": 7}) is not None  # the lock went with the job
    assert revoked_ids(redis_client, namespace) == {drop.id, unique.id}


def test_revoke_removes_a_job_waiting_to_retry(
    app: Celery, enqueuer: Enqueuer, redis_client: redis.Redis, namespace: str, make_pool: Callable[..., WorkerPool]
) -> None:
    def fail(job: Job) -> None:
        raise RuntimeError("later")

    pool = make_pool()
    pool.job("flaky", fail)
    job = enqueuer.enqueue("flaky", {})
    pool.start()
    wait_until(lambda: redis_client.zcard(f"{namespace}:retry") == 1, what="the job in retry")
    pool.stop(timeout=15)

    app.control.revoke(job.id)

    assert redis_client.zcard(f"{namespace}:retry") == 0
    assert app.AsyncResult(job.id).state == states.REVOKED


def test_a_revoked_job_left_in_a_queue_is_discarded_by_the_shim_worker(
    app: Celery, redis_client: redis.Redis, namespace: str
) -> None:
    ran: list[int] = []

    @app.task(name="count")
    def count(n: int) -> None:
        ran.append(n)

    first = count.delay(1)
    raw = redis_client.lindex(f"{namespace}:jobs:count", 0)
    assert raw is not None
    app.control.revoke(first.id)
    assert redis_client.llen(f"{namespace}:jobs:count") == 0
    # Put the job back as if revoke had missed it (it was moving between structures at that
    # instant): the revoked set is what the worker checks after each fetch.
    redis_client.lpush(f"{namespace}:jobs:count", raw)
    second = count.delay(2)
    with running_worker(app):
        assert second.get(timeout=10) is None
    assert ran == [2]
    assert first.state == states.REVOKED


def test_terminate_is_published_with_its_signal(app: Celery, channel: ControlChannel) -> None:
    app.control.terminate("abc", signal="SIGKILL")
    message = channel.next()
    assert message["arguments"] == {"task_id": ["abc"], "terminate": True, "signal": "SIGKILL"}
    app.control.revoke(["x", "y"], destination="celery@w1", terminate=True)
    message = channel.next()
    assert (message["arguments"]["task_id"], message["destination"]) == (["x", "y"], ["celery@w1"])


def test_the_revoked_set_is_trimmed_by_age_and_size(app: Celery, redis_client: redis.Redis, namespace: str) -> None:
    control = app.control
    control.revoke_expires = 100
    control.revokes_max = 3
    clock = [1_000_000.0]
    app.now = lambda: clock[0]
    control.revoke("old")
    clock[0] += 200
    control.revoke(["a", "b"])
    assert revoked_ids(redis_client, namespace) == {"a", "b"}
    clock[0] += 1
    control.revoke(["c", "d"])
    assert revoked_ids(redis_client, namespace) == {"b", "c", "d"}  # the oldest (ties by id) goes first


# -- purge -------------------------------------------------------------------------------------------
def test_purge_empties_only_the_apps_queues(
    app: Celery, enqueuer: Enqueuer, redis_client: redis.Redis, namespace: str
) -> None:
    @app.task(name="mail", queue="mail")
    def mail() -> None: ...

    @app.task(name="thumbs")
    def thumbs() -> None: ...

    for _ in range(3):
        mail.delay()
        thumbs.delay()
        enqueuer.enqueue("go_only", {})
    enqueuer.enqueue_in("mail", 600, {})

    assert app.control.purge(queues=["mail"]) == 3
    assert redis_client.llen(f"{namespace}:jobs:thumbs") == 3
    assert app.control.purge() == 3
    assert redis_client.llen(f"{namespace}:jobs:go_only") == 3  # a Go job name the app does not declare
    assert redis_client.zcard(f"{namespace}:scheduled") == 1
    assert app.control.purge() == 0


# -- runtime limits ------------------------------------------------------------------------------------
def test_rate_and_time_limits_are_stored_and_published(
    app: Celery, redis_client: redis.Redis, namespace: str, channel: ControlChannel
) -> None:
    app.control.rate_limit("mail", "10/m")
    assert redis_client.hget(f"{namespace}:celery:rate_limits", "mail") == b"10/m"
    assert channel.next()["arguments"] == {"task_name": "mail", "rate_limit": "10/m"}
    app.control.time_limit("mail", soft=30, hard=60)
    assert json.loads(redis_client.hget(f"{namespace}:celery:time_limits", "mail") or b"") == {"soft": 30, "hard": 60}
    assert channel.next()["command"] == "time_limit"
    with pytest.raises(ValueError, match="rate"):
        app.control.rate_limit("mail", "ten a minute")
    with pytest.raises(ValueError, match="above the hard"):
        app.control.time_limit("mail", soft=90, hard=60)
    app.control.broadcast("pool_grow", {"n": 2})
    assert channel.next() == {**channel_message("pool_grow", {"n": 2}), "sent_at": pytest.approx(app.now(), abs=60)}


def channel_message(command: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"command": command, "arguments": arguments, "destination": None}


# -- inspect -------------------------------------------------------------------------------------------
def test_inspect_without_workers_replies_none(app: Celery) -> None:
    inspect = app.control.inspect()
    assert inspect.ping() is None and inspect.active() is None and inspect.stats() is None
    assert app.control.ping() == []


def test_inspect_sees_a_gocraft_pool_and_a_shim_worker(
    app: Celery, enqueuer: Enqueuer, make_pool: Callable[..., WorkerPool], redis_client: redis.Redis, namespace: str
) -> None:
    release = threading.Event()
    go_like = make_pool(concurrency=3)
    go_like.job_with_options("resize", JobOptions(priority=5), lambda job: release.wait(10))
    go_like.start()
    busy = enqueuer.enqueue("resize", {"path": "/a.png"})
    later = enqueuer.enqueue_in("resize", 600, {"path": "/b.png"})

    @app.task(name="add")
    def add(x: int, y: int) -> int:
        return x + y

    add.apply_async((1, 2), countdown=600)
    app.control.revoke("gone")
    try:
        with running_worker(app) as worker:
            inspect = app.control.inspect()
            wait_until(lambda: (inspect.active() or {}).get(next(iter(_go(inspect)), ""), []), what="active job")
            pings = inspect.ping()
            assert pings is not None and worker.hostname in pings and len(pings) == 2
            go_node = next(n for n in pings if n != worker.hostname)
            assert go_node == socket.gethostname()  # a pool with no Celery node name goes by its host

            registered = inspect.registered()
            assert registered is not None
            assert registered[go_node] == ["resize"] and "add" in registered[worker.hostname]

            active = inspect.active()
            assert active is not None and active[worker.hostname] == []
            (running,) = active[go_node]
            assert (running["id"], running["name"], running["kwargs"], running["hostname"]) == (
                busy.id, "resize", {"path": "/a.png"}, go_node
            )

            scheduled = inspect.scheduled()
            assert scheduled is not None
            assert [e["request"]["name"] for e in scheduled[worker.hostname]] == ["add"]
            assert scheduled[worker.hostname][0]["request"]["args"] == [1, 2]
            assert scheduled[go_node] == []  # "resize" is not an app task: only the app's names are listed

            assert inspect.revoked() == {go_node: ["gone"], worker.hostname: ["gone"]}
            stats = inspect.stats()
            assert stats is not None and stats[go_node]["pool"]["max-concurrency"] == 3
            assert stats[worker.hostname]["pool"]["implementation"] == "celery_shim"

            queues = inspect.active_queues()
            assert queues is not None
            assert [q["name"] for q in queues[worker.hostname]] == ["celery"]
            assert [q["name"] for q in queues[go_node]] == ["resize"]

            queried = inspect.query_task(busy.id)
            assert queried == {go_node: {busy.id: ["active", active[go_node][0]]}, worker.hostname: {}}
            only_go = app.control.inspect(destination=[go_node])
            assert list(only_go.ping() or {}) == [go_node]
            assert app.control.ping(destination=worker.hostname) == [{worker.hostname: {"ok": "pong"}}]
            assert later.job.id not in str(scheduled)
    finally:
        release.set()


def _go(inspect: Any) -> list[str]:
    replies = inspect.registered() or {}
    return [n for n, names in replies.items() if names == ["resize"]]
