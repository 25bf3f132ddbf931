"""The worker's copy of the revoked set (celery_shim.worker.revoked): a fetched job costs no Redis lookup,
yet a revoke is honoured at once when its control message arrives, and within the re-read period
when only the set was written. Real Redis, real workers."""

from __future__ import annotations

from collections.abc import Callable

import redis

from celery_shim import Celery, states
from celery_shim.gocraft.keys import ShimKeys
from celery_shim.worker.revoked import RevokedIds
from celery_shim.worker.worker import WorkController
from tests.celery_shim.worker_helpers import (  # noqa: F401  fixtures
    T0,
    clock,
    gclient,
    start_worker,
    wait_until,
    wapp,
)
from work_compat import Client, connect

Start = Callable[..., WorkController]


def test_a_revoke_over_the_control_channel_is_honoured_without_waiting_for_a_reread(
    wapp: Celery, start_worker: Start, gclient: Client
) -> None:
    runs: list[int] = []

    @wapp.task(name="doomed")
    def doomed(n: int) -> None:
        runs.append(n)

    worker = start_worker(revoked_refresh=3600)  # the set is read once, at start: only the message can tell it
    assert worker.revoked is not None
    wapp.control.revoke("late-rev")
    wait_until(lambda: "late-rev" in worker.revoked, timeout=5, what="the worker to hear the revoke")
    doomed.apply_async((1,), task_id="late-rev")
    kept = doomed.delay(2)
    assert kept.get(timeout=10) is None
    entry = wait_until(lambda: gclient.history_job_by_id("late-rev"), timeout=10, what="the discarded job's entry")
    assert entry.job.last_err == "revoked"
    assert runs == [2]
    assert wapp.AsyncResult("late-rev").state == states.REVOKED


def test_an_id_written_only_to_the_set_is_honoured_within_the_reread_period(
    wapp: Celery, start_worker: Start, gclient: Client, namespace: str, redis_client: redis.Redis
) -> None:
    runs: list[int] = []

    @wapp.task(name="doomed")
    def doomed(n: int) -> None:
        runs.append(n)

    worker = start_worker(revoked_refresh=0.2)
    assert worker.revoked is not None
    redis_client.zadd(ShimKeys(namespace).revoked(), {"set-only": T0})  # no control message
    wait_until(lambda: "set-only" in worker.revoked, timeout=2, what="the worker's re-read of the set")
    doomed.apply_async((1,), task_id="set-only")
    entry = wait_until(lambda: gclient.history_job_by_id("set-only"), timeout=10, what="the discarded job's entry")
    assert entry.job.last_err == "revoked"
    assert runs == []


def test_a_restarted_worker_starts_with_the_stored_ids(
    wapp: Celery, start_worker: Start, gclient: Client
) -> None:
    @wapp.task(name="doomed")
    def doomed(n: int) -> None:
        raise AssertionError("a revoked task ran")

    first = start_worker()
    wapp.control.revoke("while-down")
    first.stop(timeout=15)
    doomed.apply_async((1,), task_id="while-down")  # sent while no worker runs
    start_worker(revoked_refresh=3600)
    entry = wait_until(lambda: gclient.history_job_by_id("while-down"), timeout=10, what="the discarded job's entry")
    assert entry.job.last_err == "revoked"


# -- the copy itself --------------------------------------------------------------------------------
def revoked_ids(redis_url: str, namespace: str) -> RevokedIds:
    return RevokedIds(connect(redis_url), ShimKeys(namespace).revoked())


def test_a_reread_reads_the_whole_set_only_when_it_changed(
    wapp: Celery, namespace: str, redis_client: redis.Redis
) -> None:
    ids = revoked_ids(wapp.conf.broker_url, namespace)
    key = ShimKeys(namespace).revoked()
    assert ids.refresh() is True and len(ids) == 0
    assert ids.refresh() is False  # nothing changed
    redis_client.zadd(key, {"a": T0, "b": T0 + 1})
    assert ids.refresh() is True and "a" in ids and "b" in ids and len(ids) == 2
    assert ids.refresh() is False
    # At the size cap, a revoke trims the oldest: same size, but the oldest member changed.
    redis_client.zadd(key, {"c": T0 + 0.5})  # a revoker whose clock is behind: not the newest either
    redis_client.zremrangebyrank(key, 0, -3)
    assert redis_client.zcard(key) == 2
    assert ids.refresh() is True
    assert "c" in ids and "b" in ids and "a" not in ids  # a trimmed id is forgotten too


def test_ids_heard_on_the_channel_survive_a_reread_that_does_not_have_them_yet(
    wapp: Celery, namespace: str, redis_client: redis.Redis
) -> None:
    ids = revoked_ids(wapp.conf.broker_url, namespace)
    ids.refresh()
    ids.add(["heard"])  # the message arrived; the read below was taken before the set had it
    assert "heard" in ids
    redis_client.zadd(ShimKeys(namespace).revoked(), {"other": T0})
    assert ids.refresh() is True
    assert "heard" in ids and "other" in ids
    redis_client.zadd(ShimKeys(namespace).revoked(), {"heard": T0})
    ids.refresh()
    assert "heard" in ids and ids._heard == {}  # now known from the set itself


def test_ids_heard_but_never_stored_expire_as_the_set_would_drop_them(wapp: Celery, namespace: str) -> None:
    ids = RevokedIds(connect(wapp.conf.broker_url), ShimKeys(namespace).revoked(), expires=0.0)
    ids.refresh()
    ids.add(["gone-soon"])
    assert "gone-soon" in ids
    wait_until(lambda: not ids.refresh() and "gone-soon" not in ids, timeout=2, what="the heard id to expire")
