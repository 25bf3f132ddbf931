"""AsyncResult.get() and friends, and ResultSet/GroupResult, on a real Redis backend.

get() must wake on the result key's PUBLISH, not on its polling interval; raise TimeoutError when
the time is up; re-raise failures (or return them with propagate=False); refuse to block inside a
task; and a task run by celery_shim's own worker hands its return value to get().
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from celery_shim import Celery, states
from celery_shim.backends.redis import RedisBackend
from celery_shim.exceptions import TimeoutError
from celery_shim.result import AsyncResult, GroupResult, ResultSet, allow_join_result, denied_join_result
from tests.celery_shim.conftest import app_on
from tests.celery_shim.worker_helpers import running_worker


@pytest.fixture
def app(url: str, namespace: str) -> Iterator[Celery]:
    with app_on(url, namespace) as app:
        yield app


def backend(app: Celery) -> RedisBackend:
    b = app.backend
    assert isinstance(b, RedisBackend)
    return b


def store_later(app: Celery, delay: float, task_id: str, value: Any, state: str = states.SUCCESS) -> threading.Thread:
    thread = threading.Timer(delay, lambda: backend(app).store_result(task_id, value, state))
    thread.start()
    return thread


def test_get_wakes_on_the_publish_not_on_the_interval(app: Celery) -> None:
    writer = store_later(app, 0.2, "t1", {"rows": 7})
    started = time.monotonic()
    value = app.AsyncResult("t1").get(timeout=10, interval=30)  # polling alone would take 30 s
    elapsed = time.monotonic() - started
    writer.join()
    assert value == {"rows": 7}
    assert elapsed < 2.0


def test_backend_wait_for_wakes_on_the_publish(app: Celery) -> None:
    writer = store_later(app, 0.2, "t2", 5)
    started = time.monotonic()
    meta = backend(app).wait_for("t2", timeout=10, interval=30)
    writer.join()
    assert (meta["status"], meta["result"]) == (states.SUCCESS, 5)
    assert time.monotonic() - started < 2.0


def test_get_times_out(app: Celery) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="timed out"):
        app.AsyncResult("never").get(timeout=0.3)
    assert time.monotonic() - started < 2.0
    with pytest.raises(TimeoutError):
        backend(app).wait_for("never", timeout=0.2)


def test_unready_states_keep_get_waiting(app: Celery) -> None:
    backend(app).mark_as_started("t3", pid=1, hostname="w")
    backend(app).store_result("t3", {"step": 2}, "PROGRESS")
    writer = store_later(app, 0.3, "t3", "done")
    assert app.AsyncResult("t3").get(timeout=10) == "done"
    writer.join()


def test_failures_propagate_or_are_returned(app: Celery) -> None:
    backend(app).store_result("bad", ValueError("nope"), states.FAILURE, traceback="Traceback ...")
    result = app.AsyncResult("bad")
    with pytest.raises(ValueError, match="nope"):
        result.get(timeout=5)
    returned = result.get(timeout=5, propagate=False)
    assert isinstance(returned, ValueError) and result.traceback == "Traceback ..."
    with pytest.raises(ValueError):
        result.maybe_throw()
    assert isinstance(result.maybe_throw(propagate=False), ValueError)


def test_a_failed_parent_is_raised_first(app: Celery) -> None:
    backend(app).store_result("parent", KeyError("lost"), states.FAILURE)
    backend(app).store_result("child", 1, states.SUCCESS)
    child = AsyncResult("child", app=app, parent=AsyncResult("parent", app=app))
    with pytest.raises(KeyError):
        child.get(timeout=5)
    assert child.get(timeout=5, follow_parents=False) == 1
    assert child.as_list() == ["child", "parent"]


def test_get_inside_a_task_is_refused_unless_allowed(app: Celery) -> None:
    backend(app).store_result("sub", 3, states.SUCCESS)
    result = app.AsyncResult("sub")
    with denied_join_result():
        with pytest.raises(RuntimeError, match="Never call result.get"):
            result.get(timeout=5)
        assert result.get(timeout=5, disable_sync_subtasks=False) == 3
        with allow_join_result():
            assert app.AsyncResult("sub").get(timeout=5) == 3


def test_callbacks(app: Celery) -> None:
    seen: list[Any] = []
    backend(app).store_result("cb", 9, states.SUCCESS)
    result = app.AsyncResult("cb")
    assert result.get(timeout=5, callback=lambda task_id, value: seen.append((task_id, value))) == 9
    result.then(lambda r: seen.append(r.result))
    later = app.AsyncResult("cb-later")
    later.then(lambda r: seen.append(("later", r.result)))
    assert seen == [("cb", 9), 9]
    writer = store_later(app, 0.1, "cb-later", "x")
    later.get(timeout=10)
    writer.join()
    assert seen[-1] == ("later", "x")


def test_ready_results_are_cached(app: Celery, redis_client: redis.Redis) -> None:
    backend(app).store_result("cached", 1, states.SUCCESS)
    result = app.AsyncResult("cached")
    assert result.get(timeout=5) == 1
    redis_client.delete("celery-task-meta-cached")
    assert (result.state, result.result) == (states.SUCCESS, 1)  # as Celery: a ready result is final


def test_result_set_and_group(app: Celery) -> None:
    ids = ["g-a", "g-b", "g-c"]
    backend(app).store_result("g-a", 1, states.SUCCESS)
    backend(app).store_result("g-b", ValueError("b"), states.FAILURE)
    members = [app.AsyncResult(i) for i in ids]
    group = GroupResult("grp", members, app=app)
    assert (group.ready(), group.completed_count(), group.failed(), group.waiting()) == (False, 1, True, True)
    backend(app).store_result("g-c", 3, states.SUCCESS)
    assert group.ready() and not group.successful()
    assert [type(v).__name__ for v in group.join(timeout=5, propagate=False)] == ["int", "ValueError", "int"]
    with pytest.raises(ValueError):
        group.get(timeout=5)
    group.save()
    restored = GroupResult.restore("grp", app=app)
    assert restored == group and len(restored) == 3 and restored[1].id == "g-b"
    restored.delete()
    assert GroupResult.restore("grp", app=app) is None


def test_join_timeout_bounds_the_whole_join(app: Celery) -> None:
    results = ResultSet([app.AsyncResult("w1"), app.AsyncResult("w2")], app=app)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        results.join(timeout=0.4)
    assert time.monotonic() - started < 2.0


def test_a_task_run_by_the_shim_worker_returns_its_value_to_get(app: Celery) -> None:
    @app.task(name="add")
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="explode")
    def explode() -> None:
        raise LookupError("no such row")

    with running_worker(app):
        assert add.delay(2, 3).get(timeout=10) == 5
        failing = explode.delay()
        with pytest.raises(LookupError, match="no such row"):
            failing.get(timeout=10)
        assert failing.state == states.FAILURE and "LookupError" in (failing.traceback or "")


def test_app_bound_result_classes(app: Celery) -> None:
    backend(app).store_result("p", 1, states.SUCCESS)
    group = app.GroupResult("bound", [app.AsyncResult("p"), app.AsyncResult("q", parent=app.AsyncResult("p"))])
    group.save()
    restored = app.GroupResult.restore("bound")  # Celery's spelling: the class is bound to the app
    assert isinstance(restored, GroupResult) and restored.app is app
    assert [r.id for r in restored] == ["p", "q"] and restored[1].parent == "p"
    assert restored.completed_count() == 1
