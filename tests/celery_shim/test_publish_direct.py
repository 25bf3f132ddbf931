"""delay()'s direct LPUSH (the Enqueuer's work_compat.direct_push.Sender): the same bytes as redis-py's, each job
once, from many threads, after Redis dropped the held connection, from a forked child, and only on
plain redis-py clients, holding connections only where the pool can spare them. Real Redis."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest
import redis

from celery_shim import Celery
from celery_shim.gocraft.publish import Publisher
from tests.redis_server import RedisServer
from work_compat import Enqueuer, Job, Keys, connect, decode_job
from work_compat.direct_push import Sender, pack


def queued_raw(client: redis.Redis, namespace: str, name: str) -> list[bytes]:
    return list(reversed(client.lrange(Keys(namespace).jobs(name), 0, -1)))  # oldest first


def test_direct_lpushes_write_the_enqueuers_bytes_and_the_known_name(
    app: Celery, redis_client: redis.Redis, namespace: str
) -> None:
    @app.task(name="mail")
    def mail(to: str, n: int = 0) -> None: ...

    results = [mail.delay("a@example.com", n=i) for i in range(3)]
    assert app.publisher.enqueuer._sender is not None
    raws = queued_raw(redis_client, namespace, "mail")
    assert [decode_job(r).id for r in raws] == [r.id for r in results]
    for raw in raws:  # what the Enqueuer would have written for the same job
        job = decode_job(raw)
        assert raw == Job(job.name, job.id, job.enqueued_at, job.args).to_bytes()
    assert redis_client.smembers(Keys(namespace).known_jobs()) == {b"mail"}


def test_publishing_from_many_threads_lands_every_job_once(
    app: Celery, redis_client: redis.Redis, namespace: str
) -> None:
    @app.task(name="count")
    def count(n: int) -> None: ...

    count.delay(-1)  # the name is known: the threads below all go direct
    ids: list[str] = []
    lock = threading.Lock()

    def publish(base: int) -> None:
        for i in range(200):
            result = count.delay(base + i)
            with lock:
                ids.append(result.id)

    threads = [threading.Thread(target=publish, args=(1000 * t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    jobs = [decode_job(r) for r in queued_raw(redis_client, namespace, "count")][1:]
    assert len(jobs) == 1600 and sorted(j.id for j in jobs) == sorted(ids)
    assert sorted(j.args["n"] for j in jobs) == sorted(1000 * t + i for t in range(8) for i in range(200))


def test_a_held_connection_that_redis_closed_costs_no_job_and_no_duplicate(
    app: Celery, redis_client: redis.Redis, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task(name="count")
    def count(n: int) -> None: ...

    count.delay(0)
    count.delay(1)  # direct, on a connection the publisher now holds
    redis_client.client_kill_filter(_type="normal", skipme=True)  # every other client, the held one too
    count.delay(2)  # the held connection is found closed before the write, which goes on a new one
    count.delay(3)
    assert [decode_job(r).args["n"] for r in queued_raw(redis_client, namespace, "count")] == [0, 1, 2, 3]


def test_a_forked_child_publishes_on_connections_of_its_own(
    app: Celery, redis_server: RedisServer, redis_client: redis.Redis, namespace: str
) -> None:
    @app.task(name="count")
    def count(n: int) -> None: ...

    count.delay(0)
    count.delay(1)
    ctx = multiprocessing.get_context("fork")

    def child() -> None:
        count.delay(2)  # the app and its publisher came across the fork

    proc = ctx.Process(target=child)
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0
    count.delay(3)  # the parent's held connection is still its own
    assert sorted(decode_job(r).args["n"] for r in queued_raw(redis_client, namespace, "count")) == [0, 1, 2, 3]


def test_only_plain_redis_py_clients_go_direct(redis_server: RedisServer) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    plain = connect(url)
    assert Sender.for_client(plain.client) is not None
    single = redis.Redis(host="127.0.0.1", port=redis_server.port, single_connection_client=True)
    resp3 = redis.Redis(host="127.0.0.1", port=redis_server.port, protocol=3)
    fake: Any = Celery("m", broker="memory://", set_as_current=False)._connection()[0].client
    assert Sender.for_client(single) is None
    assert Sender.for_client(fake) is None
    # RESP3 and small pools also send each write once, without holding connections between writes
    for client in (resp3, redis.Redis.from_url(url + "?max_connections=3")):
        sender = Sender.for_client(client)
        assert sender is not None
        sender.call([pack("LPUSH", "ns:jobs:resp", b"x")], "ns:")
        assert sender.held == 0
    small = redis.Redis.from_url(url + "?max_connections=3")
    enough = redis.Redis.from_url(url + "?max_connections=8")
    sender = Sender.for_client(enough)
    assert sender is not None
    sender.call([pack("LPUSH", "ns:jobs:resp", b"x")], "ns:")
    assert sender.held == 1
    publisher = Publisher(Enqueuer("ns", connect(fake)), connect(fake))
    publisher.enqueue_job(Job("x", "id-1", 1, {}))
    publisher.enqueue_job(Job("x", "id-2", 2, {}))  # the Enqueuer's path each time
    assert fake.llen("ns:jobs:x") == 2
    plain.close()
    for client in (single, resp3, small, enough):
        client.close()
