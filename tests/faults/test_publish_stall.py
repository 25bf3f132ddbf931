"""A publish either succeeds once or says its outcome is unknown; never two copies, silently.

Two real faults between a write and its reply:

- a lost reply: a TCP proxy (tests/faults/proxy.py) forwards the write, Redis runs it, and the
  reply is dropped with the connection (what a failover or a network cut can do). redis-py would
  send the write again on a new connection: two copies of the job.
- a stall: the redis-server is SIGSTOPped for longer than the client's socket timeout (1 s here,
  5 s by default), then SIGCONTinued. redis-py would time out and send the write again, queued
  behind the first in the stopped server: two or more copies once it resumes.

For every publish path of the Enqueuer, celery_shim and the Client's admin writes, the write must
raise an error whose message says the outcome is unknown and names the job id, and Redis must hold
the job exactly once (the lost reply: the write ran) or at most once (the stall).
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis

from celery_shim import Celery
from celery_shim.exceptions import OperationalError
from tests.faults.proxy import LossyProxy
from work_compat import Client, EnqueueOptions, Enqueuer, OutcomeUnknownError, RedisUnavailableError, decode_job
from work_compat.embedded import EmbeddedRedis
from work_compat.scripts import SCRIPT_NAMES, source

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]

SOCKET_TIMEOUT = 1.0


@dataclass
class Publishers:
    enq: Enqueuer
    app: Celery
    client: Client
    rc: redis.Redis
    ns: str


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedRedis]:
    """A redis-server of this module's own: the stall test stops it."""
    s = EmbeddedRedis().start()
    try:
        yield s
    finally:
        s.cleanup()


def _publishers(url: str, rc: redis.Redis) -> Iterator[Publishers]:
    ns = f"p{uuid.uuid4().hex[:8]}"
    for name in SCRIPT_NAMES:  # loaded, so that the write that loses its reply is the one that runs
        rc.script_load(source(name))
    enq = Enqueuer(ns, url)
    app = Celery("proj", broker=url, gocraft_namespace=ns, set_as_current=False)
    app.conf.task_publish_retry = True  # Celery's default: a publish that fails to connect is retried

    @app.task(name="celerytask")
    def celerytask(m: str) -> None: ...

    client = Client(ns, url)
    try:
        yield Publishers(enq, app, client, rc, ns)
    finally:
        enq.close()
        app.close()
        client.close()


# path -> (publish(p, marker) -> job id, which key holds the job)
def _enqueue(p: Publishers, m: str) -> str:
    return p.enq.enqueue("plain", {"m": m}).id


def _enqueue_known(p: Publishers, m: str) -> str:
    p.enq.enqueue("plain", {"m": "warm-up"})  # in known_jobs now: the next LPUSH goes alone, held connection
    p.rc.delete(p.enq.keys.jobs("plain"))
    return p.enq.enqueue("plain", {"m": m}).id


def _enqueue_in(p: Publishers, m: str) -> str:
    return p.enq.enqueue_in("plain", 60, {"m": m}).job.id


def _enqueue_many(p: Publishers, m: str) -> str:
    return p.enq.enqueue_many([("plain", {"m": m})])[0].id


def _unique(p: Publishers, m: str) -> str:
    job = p.enq.enqueue_unique("plain", {"m": m})
    assert job is not None
    return job.id


def _unique_by_key(p: Publishers, m: str) -> str:
    job = p.enq.enqueue_unique_by_key("plain", {"m": m}, {"k": m})
    assert job is not None
    return job.id


def _unique_in(p: Publishers, m: str) -> str:
    job = p.enq.enqueue_unique_in("plain", 60, {"m": m})
    assert job is not None
    return job.job.id


def _with_options(p: Publishers, m: str) -> str:
    job = p.enq.enqueue_with_options("plain", {"m": m}, EnqueueOptions())
    assert job is not None
    return job.id


def _with_options_delay(p: Publishers, m: str) -> str:
    job = p.enq.enqueue_with_options("plain", {"m": m}, EnqueueOptions(delay=60))
    assert job is not None
    return job.id


def _delay(p: Publishers, m: str) -> str:
    return str(p.app.tasks["celerytask"].delay(m).id)


def _apply_async_countdown(p: Publishers, m: str) -> str:
    return str(p.app.tasks["celerytask"].apply_async((m,), countdown=60).id)


def _send_task(p: Publishers, m: str) -> str:
    return str(p.app.send_task("celerytask", args=(m,)).id)


PATHS: dict[str, Callable[[Publishers, str], str]] = {
    "enqueue": _enqueue,
    "enqueue_known_name": _enqueue_known,
    "enqueue_in": _enqueue_in,
    "enqueue_many": _enqueue_many,
    "enqueue_unique": _unique,
    "enqueue_unique_by_key": _unique_by_key,
    "enqueue_unique_in": _unique_in,
    "enqueue_with_options": _with_options,
    "enqueue_with_options_delay": _with_options_delay,
    "celery_delay": _delay,
    "celery_apply_async_countdown": _apply_async_countdown,
    "celery_send_task": _send_task,
}


def copies(p: Publishers, job_id: str) -> int:
    """How many jobs with this id the namespace's queues and scheduled set hold."""
    k = p.enq.keys
    raws = list(p.rc.zrange(k.scheduled(), 0, -1))
    for name in ("plain", "celerytask"):
        raws += p.rc.lrange(k.jobs(name), 0, -1)
    return sum(1 for raw in raws if decode_job(raw).id == job_id)


def check_unknown(err: BaseException) -> None:
    assert isinstance(err, (OutcomeUnknownError, OperationalError)), repr(err)
    assert "outcome unknown" in str(err)


@pytest.mark.parametrize("path", list(PATHS))
def test_a_lost_reply_leaves_one_copy_and_says_the_outcome_is_unknown(server: EmbeddedRedis, path: str) -> None:
    proxy = LossyProxy(server.port)
    rc = server.client()
    try:
        for p in _publishers(proxy.url, rc):
            marker = uuid.uuid4().hex
            publish = PATHS[path]
            if path == "enqueue_known_name":  # warm up before losing anything
                p.enq.enqueue("plain", {"m": "warm-up"})
            proxy.lose_reply_to(marker.encode())
            with pytest.raises((OutcomeUnknownError, OperationalError)) as info:
                publish(p, marker)
            assert proxy.lost.is_set()
            check_unknown(info.value)
            ids = [decode_job(r).id for r in _all_raw(p) if marker.encode() in r]
            assert len(ids) == 1, (path, ids)  # the write ran once, and was not sent again
            assert ids[0] in str(info.value)  # the error names the job to look for
            assert copies(p, ids[0]) == 1
    finally:
        rc.close()
        proxy.close()


def _all_raw(p: Publishers) -> list[bytes]:
    k = p.enq.keys
    return list(p.rc.zrange(k.scheduled(), 0, -1)) + [
        raw for name in ("plain", "celerytask") for raw in p.rc.lrange(k.jobs(name), 0, -1)
    ]


@pytest.mark.parametrize("path", ["enqueue", "enqueue_known_name", "enqueue_many", "enqueue_unique", "celery_delay"])
def test_a_redis_stall_longer_than_the_socket_timeout_never_makes_two_copies(server: EmbeddedRedis, path: str) -> None:
    url = f"{server.url}?socket_timeout={SOCKET_TIMEOUT}"
    rc = server.client()
    pid = server.proc.pid
    try:
        for p in _publishers(url, rc):
            marker = uuid.uuid4().hex
            if path == "enqueue_known_name":
                p.enq.enqueue("plain", {"m": "warm-up"})
            else:
                p.enq.ping()  # connected before the stall
            outcome: list[BaseException | str] = []

            def publish(p: Publishers = p, marker: str = marker, outcome: list[BaseException | str] = outcome) -> None:
                try:
                    outcome.append(PATHS[path](p, marker))
                except BaseException as err:
                    outcome.append(err)

            os.kill(pid, signal.SIGSTOP)
            try:
                t = threading.Thread(target=publish)
                t.start()
                # redis-py would have resent within its retries (about 4 x the timeout); wait past that
                t.join(SOCKET_TIMEOUT * 6)
            finally:
                os.kill(pid, signal.SIGCONT)
            t.join(30)
            assert outcome, "the publish did not return"
            rc.ping()
            found = [r for r in _all_raw(p) if marker.encode() in r]
            assert len(found) <= 1, (path, len(found))
            result = outcome[0]
            if isinstance(result, str):  # answered after all: then the job is there, once
                assert len(found) == 1
            elif "outcome unknown" in str(result):  # sent, unanswered: once or not at all
                check_unknown(result)
            else:  # nothing could be sent (a new connection's handshake timed out): not there
                assert isinstance(result, (RedisUnavailableError, OperationalError)), repr(result)
                assert found == []
    finally:
        rc.close()


def test_a_lost_reply_to_a_dead_job_retry_is_reported_not_misread(server: EmbeddedRedis) -> None:
    """Client.retry_dead_job sent again would find nothing and raise NotRetriedError for a job it
    had requeued; sent once, it says the outcome is unknown."""
    proxy = LossyProxy(server.port)
    rc = server.client()
    try:
        for p in _publishers(proxy.url, rc):
            marker = uuid.uuid4().hex
            job = p.enq.enqueue("plain", {"m": marker})
            raw = rc.rpop(p.enq.keys.jobs("plain"))
            rc.zadd(p.enq.keys.dead(), {raw: 1000})
            proxy.lose_reply_to(job.id.encode())
            with pytest.raises(OutcomeUnknownError, match="outcome unknown"):
                p.client.retry_dead_job(1000, job.id)
            assert rc.zcard(p.enq.keys.dead()) == 0
            assert [decode_job(r).id for r in rc.lrange(p.enq.keys.jobs("plain"), 0, -1)] == [job.id]
    finally:
        rc.close()
        proxy.close()
