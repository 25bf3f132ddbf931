"""Canvas end to end: published chains, groups, chords and callbacks run by an in-process worker.

Given an app with a Redis broker and result backend and a celery_shim WorkController running its
tasks in threads, when a canvas is applied, then the results a user reads (``get()``, ``parent``,
GroupResult) are Celery's, callbacks and errbacks receive what Celery gives them, and no side key
or chord counter is left behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import redis

from celery_shim import Celery, states
from celery_shim.canvas import chain, chord, group
from celery_shim.exceptions import ChordError
from celery_shim.gocraft.keys import ShimKeys
from celery_shim.result import GroupResult
from celery_shim.worker.worker import WorkController
from tests.celery_shim import canvas_prefork_app
from tests.celery_shim.canvas_tasks import Seen, make_tasks
from tests.celery_shim.conftest import app_on
from tests.work_compat.conftest import wait_until

TIMEOUT = 20


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def app(url: str, namespace: str) -> Iterator[Celery]:
    with app_on(url, namespace, "canvas") as app:
        yield app


@pytest.fixture
def t(app: Celery, seen: Seen) -> SimpleNamespace:
    return make_tasks(app, seen)


@pytest.fixture
def worker(app: Celery, t: SimpleNamespace) -> Iterator[WorkController]:
    controller = WorkController(app, pool="threads", concurrency=4, sleep_backoffs=(5, 20, 50))
    controller.start()
    try:
        yield controller
    finally:
        controller.stop(10)


def side_keys(client: redis.Redis, namespace: str) -> list[bytes]:
    prefix = ShimKeys(namespace).canvas("")
    chords = ShimKeys(namespace).chord("")
    return sorted(client.scan_iter(match=prefix + "*")) + sorted(client.scan_iter(match=chords + "*"))


@pytest.mark.usefixtures("worker")
class TestChains:
    def test_each_result_is_prepended_to_the_next_step(
        self, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        result = (t.add.s(1, 2) | t.mul.s(10) | t.add.s(5)).apply_async()
        assert result.get(timeout=TIMEOUT) == 35
        assert result.parent.get(timeout=TIMEOUT) == 30
        assert result.parent.parent.get(timeout=TIMEOUT) == 3
        assert result.parent.parent.parent is None
        wait_until(lambda: not side_keys(redis_client, namespace), what="the side keys to be deleted")

    def test_an_immutable_step_ignores_the_previous_result(self, t: SimpleNamespace) -> None:
        result = chain(t.add.s(1, 2), t.add.si(10, 10), t.mul.s(2)).apply_async()
        assert result.get(timeout=TIMEOUT) == 40
        assert result.parent.get(timeout=TIMEOUT) == 20

    def test_partial_args_of_the_chain_go_to_its_first_step(self, t: SimpleNamespace) -> None:
        assert chain(t.add.s(1), t.mul.s(3)).apply_async((4,)).get(timeout=TIMEOUT) == 15

    def test_a_failing_step_fails_the_rest_and_calls_the_errback(self, t: SimpleNamespace, seen: Seen) -> None:
        workflow = chain(t.add.s(1, 2), t.boom.s(), t.add.s(1))
        workflow.link_error(t.on_err.s())
        result = workflow.apply_async()
        with pytest.raises(ValueError, match="boom 3"):
            result.get(timeout=TIMEOUT)
        assert result.state == states.FAILURE
        assert result.parent.state == states.FAILURE
        assert result.parent.parent.get(timeout=TIMEOUT) == 3
        errbacks = wait_until(lambda: seen.named("on_err"), what="the errback")
        assert errbacks == [("on_err", result.parent.id, "ValueError", "boom 3", True)]

    def test_a_chain_ending_in_a_group_gives_each_member_the_result(self, t: SimpleNamespace) -> None:
        result = (t.add.s(1, 1) | group(t.mul.s(2), t.mul.s(3))).apply_async()
        assert isinstance(result, GroupResult)
        assert result.get(timeout=TIMEOUT) == [4, 6]

    def test_a_group_followed_by_a_task_becomes_a_chord(self, t: SimpleNamespace) -> None:
        result = (t.add.s(1, 1) | group(t.mul.s(2), t.mul.s(3)) | t.tsum.s() | t.mul.s(10)).apply_async()
        assert result.get(timeout=TIMEOUT) == 100
        assert result.parent.get(timeout=TIMEOUT) == 10


@pytest.mark.usefixtures("worker")
class TestGroups:
    def test_group_results_in_order(self, app: Celery, t: SimpleNamespace) -> None:
        result = group(t.slow_echo.s(i, (4 - i) * 0.03) for i in range(5)).apply_async()
        assert result.get(timeout=TIMEOUT) == [0, 1, 2, 3, 4]
        restored = GroupResult.restore(result.id, app=app)
        assert restored is not None
        assert [r.id for r in restored.results] == [r.id for r in result.results]

    def test_group_get_raises_the_first_failure(self, t: SimpleNamespace) -> None:
        result = group(t.add.s(1, 1), t.boom.s(2)).apply_async()
        with pytest.raises(ValueError, match="boom 2"):
            result.get(timeout=TIMEOUT)
        assert [type(v).__name__ for v in result.get(timeout=TIMEOUT, propagate=False)] == ["int", "ValueError"]


@pytest.mark.usefixtures("worker")
class TestChords:
    def test_the_body_gets_the_header_results_in_header_order(
        self, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        # Later header tasks finish first; the body still sees them in header order.
        result = chord([t.slow_echo.s(i, (5 - i) * 0.04) for i in range(6)])(t.collect.s(label="ordered"))
        assert result.get(timeout=TIMEOUT) == ["ordered", [0, 1, 2, 3, 4, 5]]
        assert result.parent.get(timeout=TIMEOUT) == [0, 1, 2, 3, 4, 5]
        wait_until(lambda: not side_keys(redis_client, namespace), what="the chord's keys to be deleted")

    def test_header_members_may_be_chains(self, t: SimpleNamespace) -> None:
        result = chord([t.add.s(1, 1) | t.mul.s(10), t.add.s(2, 2) | t.mul.s(10)], t.tsum.s()).apply_async()
        assert result.get(timeout=TIMEOUT) == 60

    def test_a_failed_header_task_fails_the_body_with_chord_error(self, t: SimpleNamespace, seen: Seen) -> None:
        body = t.tsum.s()
        body.link_error(t.on_err.s())
        result = chord([t.add.s(1, 1), t.boom.s(7)], body).apply_async()
        with pytest.raises(ValueError, match="boom 7"):  # get() follows parents: the header's error first
            result.get(timeout=TIMEOUT)
        with pytest.raises(ChordError, match="boom 7"):
            result.get(timeout=TIMEOUT, follow_parents=False)
        errbacks = wait_until(lambda: seen.named("on_err"), what="the body's errback")
        assert errbacks[0][1:4] == (result.id, "ChordError", errbacks[0][3])
        assert "boom 7" in errbacks[0][3]

    def test_an_expired_header_task_fails_the_body(self, t: SimpleNamespace) -> None:
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
        result = chord([t.add.s(1, 1), t.add.s(2, 2).set(expires=past)], t.tsum.s()).apply_async()
        with pytest.raises(ChordError, match="TaskRevokedError"):
            result.get(timeout=TIMEOUT, follow_parents=False)


@pytest.mark.usefixtures("worker")
class TestLinks:
    def test_link_gets_the_result_prepended(self, t: SimpleNamespace, seen: Seen) -> None:
        result = t.add.apply_async((2, 3), link=[t.record.s("x"), t.record.si("fixed")])
        assert result.get(timeout=TIMEOUT) == 5
        calls = wait_until(lambda: len(seen.named("record")) == 2 and seen.named("record"), what="both callbacks")
        assert sorted(calls, key=repr) == [("record", "fixed"), ("record", 5, "x")]

    def test_link_error_gets_request_exc_and_traceback(self, t: SimpleNamespace, seen: Seen) -> None:
        result = t.boom.apply_async((1,), link_error=t.on_err.s())
        with pytest.raises(ValueError):
            result.get(timeout=TIMEOUT)
        calls = wait_until(lambda: seen.named("on_err"), what="the errback")
        assert calls == [("on_err", result.id, "ValueError", "boom 1", True)]

    def test_a_one_argument_errback_is_sent_the_task_id(self, t: SimpleNamespace, seen: Seen) -> None:
        result = t.boom.apply_async((1,), link_error=t.on_err_id.s())
        calls = wait_until(lambda: seen.named("on_err_id"), what="the errback job")
        assert calls == [("on_err_id", result.id)]


class TestPrefork:
    """The driver runs in the prefork children, which publish the next steps themselves."""

    @pytest.fixture
    def prefork(self, url: str, namespace: str) -> Iterator[SimpleNamespace]:
        app = canvas_prefork_app.app
        app.conf.update(broker_url=url, result_backend=url, gocraft_namespace=namespace)
        controller = WorkController(app, pool="prefork", concurrency=2, sleep_backoffs=(5, 20, 50))
        controller.start()
        try:
            yield canvas_prefork_app.t
        finally:
            controller.stop(15)
            app.close()
            for key in ("broker_url", "result_backend", "gocraft_namespace"):
                del app.conf[key]

    def test_chain_and_chord(self, prefork: SimpleNamespace) -> None:
        t = prefork
        assert (t.add.s(1, 2) | t.mul.s(10) | t.add.s(5)).apply_async().get(timeout=TIMEOUT) == 35
        result = chord([t.slow_echo.s(i, (3 - i) * 0.03) for i in range(4)])(t.collect.s())
        assert result.get(timeout=TIMEOUT) == [0, 1, 2, 3]
        failed = (t.add.s(1, 2) | t.boom.s() | t.add.s(1)).apply_async()
        with pytest.raises(ValueError, match="boom 3"):
            failed.get(timeout=TIMEOUT)
