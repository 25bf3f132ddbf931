"""The result backend, side by side with real Celery 5.7 on the same Redis.

Given a result written by celery_shim, a stock ``celery.Celery(backend='redis://...')`` reads the
same state, value, exception, traceback and extended fields, and the other way round; the stored
documents are the same JSON (same keys in the same order) apart from the time they were written.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import celery
import pytest
import redis
from celery.app.task import Context as CeleryContext

from celery_shim import Celery, states
from celery_shim.backends.base import DisabledBackend
from celery_shim.backends.redis import RedisBackend
from celery_shim.exceptions import ImproperlyConfigured
from celery_shim.result import AsyncResult, GroupResult
from celery_shim.app.task import Context
from tests.celery_shim.conftest import app_on


# Celery 5.7's Redis backend calls setex, which redis-py 7 marks deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")


class QuotaExceeded(Exception):
    """A user exception with two arguments, importable by both readers."""


@pytest.fixture
def shim(url: str, namespace: str) -> Iterator[Celery]:
    with app_on(url, namespace, "shim") as app:
        yield app


def close_celery(app: celery.Celery) -> None:
    """Collect Celery's AsyncResults now (their __del__ unsubscribes, reconnecting if need be),
    then close the subscription and pool they used, so no socket outlives the test."""
    backend = app.backend
    backend._cache.clear()  # restored groups hold AsyncResults
    for mapping in backend._pending_results:  # results a GroupResult registered as pending
        for by_id in list(mapping.values()):
            for result in list(by_id.values()):
                backend.remove_pending_result(result)
    gc.collect()
    consumer = app.backend.result_consumer
    if consumer._pubsub is not None:
        consumer._pubsub.close()
    app.backend.client.close()
    app.close()


@pytest.fixture
def real(url: str) -> Iterator[celery.Celery]:
    app = celery.Celery("real", broker="memory://", backend=url, set_as_current=False)
    try:
        yield app
    finally:
        close_celery(app)


def stored(client: redis.Redis, task_id: str) -> dict[str, Any]:
    raw = client.get(f"celery-task-meta-{task_id}")
    assert raw is not None
    doc: dict[str, Any] = json.loads(raw)
    return doc


def without_date(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in doc.items() if k != "date_done"]


def backend_of(app: Celery) -> RedisBackend:
    backend = app.backend
    assert isinstance(backend, RedisBackend)
    return backend


def test_success_written_by_the_shim_is_read_by_celery(
    shim: Celery, real: celery.Celery, redis_client: redis.Redis
) -> None:
    backend_of(shim).store_result("t-ok", {"total": 3, "items": [1, 2]}, states.SUCCESS)

    result = real.AsyncResult("t-ok")
    assert result.state == "SUCCESS"
    assert result.get(timeout=5) == {"total": 3, "items": [1, 2]}
    assert result.date_done is not None and result.date_done.tzinfo is not None
    assert 86390 < redis_client.ttl("celery-task-meta-t-ok") <= 86400  # result_expires: 1 day


def test_failure_written_by_the_shim_is_read_by_celery(shim: Celery, real: celery.Celery) -> None:
    try:
        raise QuotaExceeded("quota", 42)
    except QuotaExceeded as exc:
        backend_of(shim).store_result("t-fail", exc, states.FAILURE, traceback="Traceback: quota")

    result = real.AsyncResult("t-fail")
    assert result.state == "FAILURE"
    assert isinstance(result.result, QuotaExceeded) and result.result.args == ("quota", 42)
    assert result.traceback == "Traceback: quota"
    with pytest.raises(QuotaExceeded):
        result.get(timeout=5)


def test_custom_state_meta_written_by_the_shim_is_read_by_celery(shim: Celery, real: celery.Celery) -> None:
    backend_of(shim).store_result("t-progress", {"current": 3, "total": 10}, "PROGRESS")

    result = real.AsyncResult("t-progress")
    assert (result.state, result.info, result.ready()) == ("PROGRESS", {"current": 3, "total": 10}, False)


def test_celery_results_are_read_by_the_shim(shim: Celery, real: celery.Celery) -> None:
    real.backend.store_result("c-ok", [1, "two"], "SUCCESS")
    try:
        raise KeyError("missing")
    except KeyError as exc:
        real.backend.mark_as_failure("c-fail", exc, traceback="TB")
    real.backend.store_result("c-progress", {"done": 5}, "PROGRESS")
    real.backend.mark_as_revoked("c-revoked", "revoked")
    real.backend.mark_as_started("c-started", pid=7, hostname="celery@box")

    ok, fail = shim.AsyncResult("c-ok"), shim.AsyncResult("c-fail")
    assert (ok.state, ok.result, ok.get(timeout=5), ok.successful()) == ("SUCCESS", [1, "two"], [1, "two"], True)
    assert fail.state == "FAILURE" and fail.failed() and fail.traceback == "TB"
    assert isinstance(fail.result, KeyError) and fail.result.args == ("missing",)
    with pytest.raises(KeyError):
        fail.get(timeout=5)
    progress = shim.AsyncResult("c-progress")
    assert (progress.state, progress.info, progress.ready()) == ("PROGRESS", {"done": 5}, False)
    revoked = shim.AsyncResult("c-revoked")
    assert revoked.state == "REVOKED" and type(revoked.result).__name__ == "TaskRevokedError"
    started = shim.AsyncResult("c-started")
    assert (started.state, started.info) == ("STARTED", {"pid": 7, "hostname": "celery@box"})
    assert ok.date_done == real.AsyncResult("c-ok").date_done


def test_stored_documents_are_the_same_json(
    url: str, namespace: str, real: celery.Celery, redis_client: redis.Redis
) -> None:
    real.conf.result_extended = True
    shim = Celery(
        "shim", broker=url, backend=url, gocraft_namespace=namespace, result_extended=True, set_as_current=False
    )
    try:
        fields: dict[str, Any] = dict(
            args=[1, 2], kwargs={"z": 3}, hostname="celery@w1", retries=2, delivery_info={"routing_key": "mail"}
        )
        real.backend.store_result("r-1", {"v": 1}, "SUCCESS", request=CeleryContext(task="send", **fields))
        backend_of(shim).store_result("s-1", {"v": 1}, states.SUCCESS, request=Context(task="send", **fields))
        exc = ValueError("bad", 3)
        real.backend.store_result("r-2", exc, "FAILURE", traceback="tb")
        backend_of(shim).store_result("s-2", exc, states.FAILURE, traceback="tb")
        real.backend.store_result("r-3", {"step": 1}, "PROGRESS")
        backend_of(shim).store_result("s-3", {"step": 1}, "PROGRESS")
    finally:
        shim.close()

    for n in ("1", "2", "3"):
        ours, theirs = stored(redis_client, f"s-{n}"), stored(redis_client, f"r-{n}")
        theirs["task_id"] = ours["task_id"]
        assert without_date(ours) == without_date(theirs)
        assert (ours["date_done"] is None) == (theirs["date_done"] is None)
    extended = shim.AsyncResult("r-1")
    assert (extended.name, extended.args, extended.kwargs, extended.worker, extended.retries, extended.queue) == (
        "send", [1, 2], {"z": 3}, "celery@w1", 2, "mail"
    )


def test_values_json_cannot_carry_round_trip_with_kombus_tags(shim: Celery, real: celery.Celery) -> None:
    value = {
        "when": dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "day": dt.date(2030, 1, 2),
        "price": Decimal("9.99"),
        "ref": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "blob": b"\xff\x00",
    }
    backend_of(shim).store_result("typed", value, states.SUCCESS)
    assert real.AsyncResult("typed").get(timeout=5) == value
    real.backend.store_result("typed-2", value, "SUCCESS")
    assert shim.AsyncResult("typed-2").get(timeout=5) == value


def test_a_stored_success_is_final(shim: Celery, real: celery.Celery) -> None:
    backend = backend_of(shim)
    backend.store_result("once", 1, states.SUCCESS)
    backend.store_result("once", RuntimeError("late duplicate"), states.FAILURE)
    assert real.AsyncResult("once").state == "SUCCESS"


def test_store_publishes_the_document_on_the_key_channel(shim: Celery, redis_client: redis.Redis) -> None:
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("celery-task-meta-pub")
    try:
        backend_of(shim).store_result("pub", 5, states.SUCCESS)
        message = None
        for _ in range(50):
            message = pubsub.get_message(timeout=0.1)
            if message is not None:
                break
        assert message is not None
        assert message["data"] == redis_client.get("celery-task-meta-pub")
    finally:
        pubsub.close()


def test_expiry_settings(url: str, namespace: str, redis_client: redis.Redis) -> None:
    app = Celery(
        "shim",
        broker=url,
        backend=url,
        gocraft_namespace=namespace,
        result_expires=dt.timedelta(minutes=1),
        result_failure_expires=600,
        set_as_current=False,
    )
    try:
        backend_of(app).store_result("short", 1, states.SUCCESS)
        backend_of(app).store_result("long", ValueError("x"), states.FAILURE)
        app.conf.result_expires = None
        backend_of(app).store_result("forever", 1, states.SUCCESS)
    finally:
        app.close()
    assert 50 < redis_client.ttl("celery-task-meta-short") <= 60
    assert 590 < redis_client.ttl("celery-task-meta-long") <= 600
    assert redis_client.ttl("celery-task-meta-forever") == -1


def test_global_keyprefix_matches_celerys(url: str, namespace: str, redis_client: redis.Redis) -> None:
    options = {"global_keyprefix": "proj:"}
    app = Celery("shim", broker=url, backend=url, gocraft_namespace=namespace, set_as_current=False,
                 result_backend_transport_options=options)
    real = celery.Celery("real", broker="memory://", backend=url, set_as_current=False)
    real.conf.result_backend_transport_options = options
    try:
        backend_of(app).store_result("pfx", "v", states.SUCCESS)
        assert redis_client.exists("proj:celery-task-meta-pfx")
        assert real.AsyncResult("pfx").get(timeout=5) == "v"
    finally:
        app.close()
        close_celery(real)


def test_groups_saved_by_either_are_restored_by_the_other(shim: Celery, real: celery.Celery) -> None:
    GroupResult("g-shim", [AsyncResult("a", app=shim), AsyncResult("b", app=shim)], app=shim).save()
    restored = real.GroupResult.restore("g-shim")
    assert [r.id for r in restored.results] == ["a", "b"]

    real.GroupResult("g-real", [real.AsyncResult("c"), real.AsyncResult("d")]).save()
    ours = GroupResult.restore("g-real", app=shim)
    assert ours is not None and ours.id == "g-real" and [r.id for r in ours] == ["c", "d"]
    assert GroupResult.restore("g-missing", app=shim) is None


def test_forget_deletes_the_stored_result(shim: Celery, redis_client: redis.Redis) -> None:
    backend_of(shim).store_result("gone", 1, states.SUCCESS)
    result = shim.AsyncResult("gone")
    assert result.get(timeout=5) == 1
    result.forget()
    assert not redis_client.exists("celery-task-meta-gone")
    assert result.state == states.PENDING and not result.exists()


def test_no_backend_writes_nothing_and_reads_raise_celerys_error(url: str, namespace: str) -> None:
    app = Celery("shim", broker=url, gocraft_namespace=namespace, set_as_current=False)
    backend = app.backend
    assert isinstance(backend, DisabledBackend)
    backend.store_result("x", 1, states.SUCCESS)  # a no-op, as Celery's DisabledBackend
    backend.mark_as_started("x", pid=1)
    with pytest.raises(NotImplementedError, match="No result backend is configured"):
        backend.get_task_meta("x")
    with pytest.raises(NotImplementedError, match="No result backend is configured"):
        app.AsyncResult("x").get(timeout=1)


@pytest.mark.parametrize("backend", ["rpc://", "amqp://guest@rabbit//", "db+sqlite:///results.db", "cache+memory://"])
def test_non_redis_backends_are_accepted_then_refused_on_first_use(url: str, backend: str) -> None:
    app = Celery("shim", broker=url, backend=backend, set_as_current=False)  # construction never fails
    with pytest.raises(ImproperlyConfigured, match=r"set result_backend='redis://127\.0\.0\.1:\d+/0'"):
        app.backend.store_result("x", 1, states.SUCCESS)
    with pytest.raises(ImproperlyConfigured, match="result_backend="):
        _ = app.AsyncResult("x").state


def test_memory_backend_beside_a_memory_broker_uses_the_in_process_redis() -> None:
    name = f"memory://results-{uuid.uuid4().hex[:8]}"
    app = Celery("shim", broker=name, backend="cache+memory://", set_as_current=False)
    try:
        backend_of(app).store_result("m", {"ok": True}, states.SUCCESS)
        assert app.AsyncResult("m").get(timeout=5) == {"ok": True}
    finally:
        app.close()
