"""``current_app``, ``current_task`` and ``uuid`` at the package top level, used as Celery code uses them."""

from __future__ import annotations

import uuid as std_uuid

from celery_shim import Celery, current_app, current_task, uuid


def test_current_app_is_the_last_app_made_and_reads_like_one() -> None:
    app = Celery("proxied", task_always_eager=True)
    assert current_app.main == "proxied" and current_app.conf.task_always_eager is True
    assert current_app._get_current_object() is app
    other = Celery("other")
    assert current_app.main == "other" and current_app() is other


def test_current_task_is_the_running_task_and_false_outside_one() -> None:
    app = Celery("proxied", task_always_eager=True)
    seen: list[tuple[str, str]] = []

    @app.task(name="who.am.i")
    def who() -> None:
        seen.append((current_task.name, current_task.request.id))

    result = who.delay()
    assert seen == [("who.am.i", result.id)]
    assert not current_task


def test_uuid_is_a_uuid4_string() -> None:
    value = uuid()
    assert isinstance(value, str) and std_uuid.UUID(value).version == 4
