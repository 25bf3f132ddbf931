"""conf.snapshot(): what the hot paths (a worker's per-job checks, the broker and backend of each
publish) read. A setting set on the conf reaches them at once; a change inside a config_from_object
object within LIVE_SOURCES_PERIOD, while a direct lookup still sees it at once."""

from __future__ import annotations

from collections.abc import Callable

from celery_shim import Celery
from celery_shim.backends.base import DisabledBackend
from celery_shim.backends.redis import RedisBackend
from celery_shim.app.config import LIVE_SOURCES_PERIOD
from celery_shim.worker.worker import WorkController
from tests.celery_shim.worker_helpers import (  # noqa: F401  fixtures
    clock,
    gclient,
    start_worker,
    wait_until,
    wapp,
)
from work_compat import Client


def test_a_setting_set_on_the_conf_is_seen_by_the_next_read(broker_url: str) -> None:
    app = Celery("snap", broker=broker_url, set_as_current=False)
    assert isinstance(app.backend, DisabledBackend)
    app.conf.result_backend = broker_url
    assert isinstance(app.backend, RedisBackend)
    snap = app.conf.snapshot()
    assert snap.get("task_ignore_result") is False and app.conf.snapshot() is snap
    app.conf.task_ignore_result = True
    assert app.conf.snapshot().get("task_ignore_result") is True
    del app.conf.task_ignore_result
    assert app.conf.snapshot().get("task_ignore_result") is False
    assert app.conf.snapshot().get("no_such_setting", "dflt") == "dflt"


def test_a_change_inside_a_source_reaches_snapshots_within_the_period(broker_url: str) -> None:
    class Source:
        task_ignore_result = False

    app = Celery("snap", broker=broker_url, set_as_current=False)
    app.config_from_object(Source)
    assert app.conf.snapshot().get("task_ignore_result") is False
    Source.task_ignore_result = True
    assert app.conf.task_ignore_result is True  # a direct lookup stays live
    wait_until(
        lambda: app.conf.snapshot().get("task_ignore_result") is True,
        timeout=LIVE_SOURCES_PERIOD + 1,
        what="the snapshot to see the source's change",
    )


def test_a_running_worker_honours_a_setting_changed_on_the_conf(
    wapp: Celery, start_worker: Callable[..., WorkController], gclient: Client
) -> None:
    @wapp.task(name="answer")
    def answer() -> int:
        return 42

    start_worker()
    first = answer.delay()
    assert first.get(timeout=10) == 42
    wapp.conf.task_ignore_result = True  # the next job is not stored
    second = answer.delay()
    wait_until(lambda: gclient.history_job_by_id(second.id), timeout=10, what="the second job to finish")
    assert wapp.backend.raw_meta(second.id) is None  # nothing stored (its state comes from the history)
    assert wapp.backend.raw_meta(first.id) is not None
