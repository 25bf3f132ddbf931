"""AsyncResult.state for jobs in every gocraft structure (spec D5), with and without a backend.

Jobs are put where they are by work_compat itself: the Enqueuer queues and schedules them, a real
WorkerPool fetches, runs, retries and kills them, and writes the fork's history. No result is
stored for any of them, so every state here comes from the gocraft structures.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from celery_shim import Celery, states
from celery_shim.exceptions import ImproperlyConfigured
from celery_shim.result import AsyncResult, GocraftJobError
from tests.celery_shim.conftest import app_on
from tests.work_compat.conftest import wait_until
from work_compat import Enqueuer, Job, JobOptions, WorkerPool


@pytest.fixture
def app(url: str, namespace: str) -> Iterator[Celery]:
    """No result backend: only the gocraft structures answer."""
    with app_on(url, namespace, backend=False) as app:
        yield app


@pytest.fixture
def app_with_backend(url: str, namespace: str) -> Iterator[Celery]:
    with app_on(url, namespace) as app:
        yield app


def state_of(app: Celery, job: Job | None) -> str:
    assert job is not None
    return app.AsyncResult(job.id).state


def test_an_unknown_id_is_pending_and_does_not_exist(app: Celery) -> None:
    result = app.AsyncResult("never-sent")
    assert result.state == states.PENDING and not result.ready()
    assert result.exists() is False


def test_queued_and_scheduled_jobs_are_pending_and_exist(app: Celery, enqueuer: Enqueuer) -> None:
    queued = enqueuer.enqueue("send_email", {"address": "ada@example.com"})
    later = enqueuer.enqueue_in("send_email", 3600, {"address": "grace@example.com"})
    assert queued is not None and later is not None
    for job in (queued, later.job):
        result = app.AsyncResult(job.id)
        assert result.state == states.PENDING
        assert result.exists() is True


def test_a_job_published_by_the_app_is_pending_and_exists(app: Celery) -> None:
    @app.task(name="resize")
    def resize(path: str) -> None: ...

    result = resize.delay("/tmp/a.png")
    assert (result.state, result.exists()) == (states.PENDING, True)


def test_fetched_but_not_yet_observed_is_received(
    app: Celery, enqueuer: Enqueuer, make_pool: Callable[..., WorkerPool]
) -> None:
    release = threading.Event()
    running = threading.Event()
    pool = make_pool(observer_period=3600)  # the observation is never written while the test looks
    pool.job("slow", lambda job: (running.set(), release.wait(10)))
    job = enqueuer.enqueue("slow", {})
    pool.start()
    try:
        assert running.wait(5)
        assert state_of(app, job) == states.RECEIVED
    finally:
        release.set()


def test_a_running_job_is_started_with_its_pool_as_worker(
    app_with_backend: Celery, enqueuer: Enqueuer, make_pool: Callable[..., WorkerPool]
) -> None:
    release = threading.Event()
    pool = make_pool()
    pool.job("slow", lambda job: release.wait(10))
    job = enqueuer.enqueue("slow", {"n": 1})
    assert job is not None
    pool.start()
    try:
        wait_until(lambda: state_of(app_with_backend, job) == states.STARTED, what="STARTED")
        result = app_with_backend.AsyncResult(job.id)
        assert result.info["pid"] > 0 and result.worker == result.info["hostname"] != ""
        assert result.name == "slow" and not result.ready()
    finally:
        release.set()
    wait_until(lambda: state_of(app_with_backend, job) == states.SUCCESS, what="SUCCESS")


def test_a_job_that_succeeded_is_success_with_no_value(
    app_with_backend: Celery, enqueuer: Enqueuer, make_pool: Callable[..., WorkerPool]
) -> None:
    pool = make_pool()
    pool.job("quick", lambda job: None)
    job = enqueuer.enqueue("quick", {})
    assert job is not None
    pool.start()
    result = app_with_backend.AsyncResult(job.id)
    assert result.get(timeout=10) is None  # run by a non-Celery handler: no stored value
    assert (result.state, result.successful(), result.ready()) == (states.SUCCESS, True, True)
    assert result.date_done is not None and result.exists()


def test_a_failed_attempt_is_retry_with_the_error(
    app_with_backend: Celery, enqueuer: Enqueuer, make_pool: Callable[..., WorkerPool]
) -> None:
    def fail(job: Job) -> None:
        raise RuntimeError("smtp down")

    pool = make_pool()
    pool.job("flaky", fail)
    job = enqueuer.enqueue("flaky", {})
    assert job is not None
    pool.start()
    wait_until(lambda: state_of(app_with_backend, job) == states.RETRY, what="RETRY")
    result = app_with_backend.AsyncResult(job.id)
    assert isinstance(result.info, GocraftJobError) and "smtp down" in str(result.info)
    assert result.retries == 1 and not result.ready()


def test_a_dead_job_is_failure_and_get_raises_its_error(
    app_with_backend: Celery, enqueuer: Enqueuer, make_pool: Callable[..., WorkerPool]
) -> None:
    def fail(job: Job) -> None:
        raise RuntimeError("card declined")

    pool = make_pool()
    pool.job_with_options("charge", JobOptions(max_fails=1), fail)
    job = enqueuer.enqueue("charge", {})
    assert job is not None
    pool.start()
    result = app_with_backend.AsyncResult(job.id)
    with pytest.raises(GocraftJobError, match="card declined"):
        result.get(timeout=10)
    assert (result.state, result.failed()) == (states.FAILURE, True)
    assert isinstance(result.get(propagate=False), GocraftJobError)


@pytest.mark.parametrize("outcome", ["retry", "dead"])
def test_without_history_the_retry_and_dead_sets_answer(
    app: Celery, enqueuer: Enqueuer, make_pool: Callable[..., WorkerPool], redis_client: redis.Redis, outcome: str
) -> None:
    def fail(job: Job) -> None:
        raise RuntimeError("boom")

    pool = make_pool(history=False)  # gocraft/work v0.5 pools keep no history
    pool.job_with_options("work", JobOptions(max_fails=4 if outcome == "retry" else 1), fail)
    job = enqueuer.enqueue("work", {})
    assert job is not None
    pool.start()
    want = states.RETRY if outcome == "retry" else states.FAILURE
    wait_until(lambda: state_of(app, job) == want, what=want)
    assert not redis_client.exists(f"{enqueuer.namespace}:history")
    assert app.AsyncResult(job.id).exists()


def test_without_a_backend_state_works_and_values_raise(app: Celery, enqueuer: Enqueuer) -> None:
    job = enqueuer.enqueue("send_email", {})
    assert job is not None
    result = app.AsyncResult(job.id)
    assert result.state == states.PENDING
    with pytest.raises(NotImplementedError, match="No result backend is configured"):
        _ = result.result
    with pytest.raises(NotImplementedError, match="No result backend is configured"):
        result.get(timeout=1)


def test_a_revoked_job_is_revoked(app: Celery, enqueuer: Enqueuer) -> None:
    job = enqueuer.enqueue("send_email", {})
    assert job is not None
    app.control.revoke(job.id)
    result = app.AsyncResult(job.id)
    assert (result.state, result.ready(), result.exists()) == (states.REVOKED, True, True)


def test_a_stored_result_wins_over_the_gocraft_structures(app_with_backend: Celery, enqueuer: Enqueuer) -> None:
    job = enqueuer.enqueue("report", {})
    assert job is not None
    app_with_backend.backend.store_result(job.id, {"current": 1, "total": 4}, "PROGRESS")
    result = app_with_backend.AsyncResult(job.id)
    assert (result.state, result.info) == ("PROGRESS", {"current": 1, "total": 4})


def test_the_current_app_is_used_when_none_is_given(url: str, namespace: str, enqueuer: Enqueuer) -> None:
    current = Celery("current", broker=url, gocraft_namespace=namespace)
    try:
        job = enqueuer.enqueue("x", {})
        assert job is not None
        assert AsyncResult(job.id).state == states.PENDING and AsyncResult(job.id).exists()
    finally:
        current.close()


def test_a_non_redis_broker_without_a_backend_says_what_to_set() -> None:
    result = Celery("amqp", broker="amqp://guest@rabbit//", set_as_current=False).AsyncResult("x")
    with pytest.raises(ImproperlyConfigured, match="broker_url"):
        _ = result.state
