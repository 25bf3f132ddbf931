"""Eager mode details that are the shim's own (D2, D19), beyond what test_differential compares."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from celery_shim import Celery, Task, current_app, shared_task, states
from celery_shim.exceptions import EncodeError, Retry
from celery_shim.result import AsyncResult, EagerResult


@pytest.fixture
def eager() -> Celery:
    return Celery("proj", broker="amqp://never-contacted//", task_always_eager=True)


def test_arguments_make_the_json_round_trip(eager: Celery) -> None:
    """Arguments make the JSON round trip (a tuple arrives as a list), and a datetime arrives as a datetime,
    as with Celery 5.7's JSON (the job's args hold its ISO string, which is what a Go peer sees)."""

    @eager.task
    def echo(value: Any) -> Any:
        return value

    when = dt.datetime(2030, 1, 2, 3, 4, 5)
    assert echo.delay(when).get() == when
    assert echo.delay((1, [2, (3,)])).get() == [1, [2, [3]]]
    with pytest.raises(EncodeError, match="'value'"):
        echo.delay({1: "int keys"})


def test_request_carries_eta_expires_and_headers(eager: Celery) -> None:
    eager.now = lambda: 1_800_000_000.0

    @eager.task(bind=True)
    def inspect_request(self: Task) -> dict[str, Any]:
        r = self.request
        return {"id": r.id, "eta": r.eta, "expires": r.expires, "headers": r.headers, "eager": r.is_eager}

    got = inspect_request.apply(task_id="tid", countdown=10, expires=60, headers={"h": 1}).get()
    assert got == {
        "id": "tid",
        "eta": "2027-01-15T08:00:10+00:00",
        "expires": "2027-01-15T08:01:00+00:00",
        "headers": {"h": 1},
        "eager": True,
    }


def test_retry_reruns_without_sleeping_and_keeps_the_id(eager: Celery) -> None:
    seen: list[tuple[str | None, int]] = []

    @eager.task(bind=True, max_retries=3, default_retry_delay=3600)
    def slow_retry(self: Task) -> int:
        seen.append((self.request.id, self.request.retries))
        if self.request.retries < 3:
            raise self.retry()
        return self.request.retries

    result = slow_retry.apply_async(task_id="same")
    assert (result.state, result.get(), result.id) == (states.SUCCESS, 3, "same")
    assert seen == [("same", 0), ("same", 1), ("same", 2), ("same", 3)]


def test_a_raised_retry_without_a_signature_is_state_retry(eager: Celery) -> None:
    @eager.task
    def manual() -> None:
        raise Retry("later")

    result = manual.delay()
    assert result.state == states.RETRY
    assert not result.successful() and not result.failed()
    assert isinstance(result.result, Retry)


def test_shared_tasks_bind_to_every_app_and_use_the_current_one() -> None:
    @shared_task(name="shared.double")
    def double(x: int) -> int:
        return x * 2

    first = Celery("one", task_always_eager=True)
    assert first.tasks["shared.double"] is double
    assert current_app() is first
    assert double.app is first
    assert double.delay(4).get() == 8
    second = Celery("two", task_always_eager=False, broker="amqp://x//")
    assert second.tasks["shared.double"] is double
    assert double.app is second


def test_async_result_values_need_a_backend() -> None:
    # D5: without a backend the state comes from the gocraft structures (tests/celery_shim/test_results_state.py);
    # values raise Celery's DisabledBackend error, before any Redis contact.
    result = AsyncResult("abc", app=Celery("nobackend", broker="amqp://x//", set_as_current=False))
    assert result.id == result.task_id == "abc"
    with pytest.raises(NotImplementedError, match="No result backend is configured"):
        _ = result.result
    with pytest.raises(NotImplementedError, match="No result backend is configured"):
        result.get()
    assert isinstance(EagerResult("x", 1, states.SUCCESS), AsyncResult)
