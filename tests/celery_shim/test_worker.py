"""The Celery worker on a work_compat pool (threads and solo): jobs from delay() and from Go-shaped
producers run Celery task code with Celery's fates, states, handlers and signals (spec D6)."""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from celery_shim import Celery, signals, states
from celery_shim.exceptions import Ignore, ImproperlyConfigured, Reject, SoftTimeLimitExceeded
from celery_shim.gocraft.keys import ShimKeys
from celery_shim.worker.worker import HEARTBEAT_FIELD, IDLE_POLL_BACKOFFS, WorkController
from tests.celery_shim.worker_helpers import (  # noqa: F401  fixtures
    T0,
    Clock,
    clock,
    gclient,
    go_enqueuer,
    start_worker,
    wait_until,
    wapp,
)
from work_compat import Client, Enqueuer, Job, Keys

Start = Callable[..., WorkController]


@pytest.fixture
def record() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every task and worker signal sent during the test, in order, with its arguments."""
    seen: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()
    names = [
        "task_received", "task_prerun", "task_postrun", "task_success", "task_failure", "task_retry",
        "task_revoked", "worker_init", "worker_process_init", "worker_ready", "worker_shutting_down",
        "worker_shutdown", "worker_process_shutdown", "celeryd_init", "celeryd_after_setup",
    ]  # fmt: skip

    def receiver(signal: Any, sender: Any, **kwargs: Any) -> None:
        with lock:
            seen.append((signal.name, {"sender": sender, **kwargs}))

    for name in names:
        getattr(signals, name).connect(receiver, weak=False, dispatch_uid=f"test-record-{name}")
    try:
        yield seen
    finally:
        for name in names:
            getattr(signals, name).disconnect(dispatch_uid=f"test-record-{name}")


def task_signals(seen: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in seen if name.startswith("task_")]


def test_delay_job_runs_and_stores_success(wapp: Celery, start_worker: Start, gclient: Client) -> None:
    @wapp.task
    def add(x: int, y: int) -> int:
        return x + y

    start_worker()
    result = add.delay(2, 3)
    assert result.get(timeout=10) == 5
    assert result.state == states.SUCCESS
    entry = wait_until(lambda: gclient.history_job_by_id(result.id), what="the history entry")
    assert entry.status == "success"
    assert gclient.dead_count() == 0 and gclient.retry_count() == 0


def test_go_shaped_job_calls_the_task_by_parameter_name(
    wapp: Celery, start_worker: Start, go_enqueuer: Enqueuer
) -> None:
    calls: list[tuple[Any, ...]] = []

    @wapp.task(name="send_email")
    def send_email(address: str, subject: str = "hi") -> str:
        calls.append((address, subject))
        return f"sent to {address}"

    start_worker()
    job = go_enqueuer.enqueue("send_email", {"address": "x"})
    assert job is not None
    assert wapp.AsyncResult(job.id).get(timeout=10) == "sent to x"
    assert calls == [("x", "hi")]


def test_request_context_of_a_worker_run(wapp: Celery, start_worker: Start) -> None:
    seen: dict[str, Any] = {}

    @wapp.task(bind=True, name="ctx")
    def ctx(self: Any, a: int, b: int = 0) -> None:
        r = self.request
        seen.update(
            id=r.id, retries=r.retries, args=r.args, kwargs=r.kwargs, hostname=r.hostname,
            delivery_info=r.delivery_info, is_eager=r.is_eager, called_directly=r.called_directly,
            headers=r.headers, root_id=r.root_id, parent_id=r.parent_id, expires=r.expires, tag=r.get("tag"),
        )  # fmt: skip

    worker = start_worker(hostname="node1@%h")
    result = ctx.apply_async((1,), {"b": 2}, headers={"tag": "blue"}, expires=3600, parent_id="p-1")
    wait_until(lambda: result.state == states.SUCCESS, timeout=10, what="the task to succeed")
    assert seen["id"] == result.id
    assert seen["retries"] == 0
    assert seen["args"] == (1, 2) and seen["kwargs"] == {}
    assert seen["hostname"] == worker.hostname and worker.hostname.startswith("node1@")
    assert seen["delivery_info"] == {"exchange": "", "routing_key": "celery", "priority": None, "redelivered": False}
    assert (seen["is_eager"], seen["called_directly"]) == (False, False)
    assert seen["headers"] == {"tag": "blue"} and seen["tag"] == "blue"
    assert seen["root_id"] == result.id and seen["parent_id"] == "p-1"
    assert seen["expires"] == dt.datetime.fromtimestamp(T0 + 3600, dt.timezone.utc).isoformat()


def test_retry_lands_in_the_retry_set_with_countdown_score(
    wapp: Celery, start_worker: Start, gclient: Client, record: list[Any]
) -> None:
    retried: list[Any] = []

    class Base(wapp.Task):  # type: ignore[name-defined,misc]
        def on_retry(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
            retried.append((type(exc).__name__, task_id, args, kwargs))

    @wapp.task(bind=True, base=Base, max_retries=5)
    def fetch(self: Any, url: str) -> None:
        raise self.retry(exc=ConnectionError("refused"), countdown=30, args=(url + "?again",))

    start_worker()
    result = fetch.delay("http://a")
    jobs = wait_until(lambda: gclient.retry_jobs()[0], timeout=10, what="the retry entry")
    assert len(jobs) == 1
    retry = jobs[0]
    assert retry.retry_at == math.ceil(T0 + 30)
    assert retry.job.id == result.id and retry.job.fails == 1
    assert retry.job.last_err == "ConnectionError: refused"
    assert retry.job.args == {"url": "http://a?again"}
    assert result.state == states.RETRY
    assert isinstance(result.result, ConnectionError)
    assert retried == [("ConnectionError", result.id, ("http://a",), {})]
    assert task_signals(record) == ["task_received", "task_prerun", "task_retry", "task_postrun"]
    _, retry_signal = next(s for s in record if s[0] == "task_retry")
    assert retry_signal["request"].id == result.id and retry_signal["einfo"] is not None


def test_retry_default_delay_and_fails_count(
    wapp: Celery, start_worker: Start, gclient: Client, go_enqueuer: Enqueuer
) -> None:
    @wapp.task(bind=True, name="again", default_retry_delay=42, max_retries=10)
    def again(self: Any) -> None:
        assert self.request.retries == 3
        raise self.retry()

    start_worker()
    go_enqueuer.enqueue_job(Job("again", "j-3", int(T0), {}, fails=3))
    retry = wait_until(lambda: gclient.retry_jobs()[0], timeout=10, what="the retry entry")[0]
    assert retry.retry_at == math.ceil(T0 + 42)
    assert retry.job.fails == 4
    assert retry.job.last_err == "Retry in 42s"


def test_autoretry_with_backoff(wapp: Celery, start_worker: Start, gclient: Client, go_enqueuer: Enqueuer) -> None:
    @wapp.task(
        name="flaky", autoretry_for=(KeyError,), retry_backoff=3, retry_jitter=False, retry_backoff_max=1000,
        max_retries=6,
    )  # fmt: skip
    def flaky() -> None:
        raise KeyError("gone")

    start_worker()
    go_enqueuer.enqueue_job(Job("flaky", "f-2", int(T0), {}, fails=2))
    retry = wait_until(lambda: gclient.retry_jobs()[0], timeout=10, what="the retry entry")[0]
    assert retry.retry_at == math.ceil(T0 + 3 * 2**2)  # factor * 2**retries, no jitter
    assert retry.job.fails == 3
    assert retry.job.last_err == "KeyError: 'gone'"


def test_autoretry_skips_dont_autoretry_for(wapp: Celery, start_worker: Start, gclient: Client) -> None:
    @wapp.task(autoretry_for=(LookupError,), dont_autoretry_for=(KeyError,))
    def picky() -> None:
        raise KeyError("no")

    start_worker()
    result = picky.delay()
    wait_until(lambda: gclient.dead_count() == 1, timeout=10, what="the dead entry")
    assert gclient.retry_count() == 0
    assert result.state == states.FAILURE


def test_exhausted_retries_go_dead_with_failure(
    wapp: Celery, start_worker: Start, gclient: Client, go_enqueuer: Enqueuer, record: list[Any]
) -> None:
    failures: list[Any] = []

    class Base(wapp.Task):  # type: ignore[name-defined,misc]
        def on_failure(self, exc: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
            failures.append((type(exc).__name__, task_id))

    @wapp.task(bind=True, base=Base, name="tired", max_retries=2)
    def tired(self: Any) -> None:
        raise self.retry(countdown=1)

    start_worker()
    go_enqueuer.enqueue_job(Job("tired", "t-2", int(T0), {}, fails=2))
    dead = wait_until(lambda: gclient.dead_jobs()[0], timeout=10, what="the dead entry")[0]
    assert dead.job.fails == 3
    assert dead.job.last_err.startswith("MaxRetriesExceededError: Can't retry tired[t-2]")
    assert gclient.retry_count() == 0
    result = wapp.AsyncResult("t-2")
    assert result.state == states.FAILURE
    assert type(result.result).__name__ == "MaxRetriesExceededError"
    assert failures == [("MaxRetriesExceededError", "t-2")]
    assert task_signals(record) == ["task_received", "task_prerun", "task_failure", "task_postrun"]


def test_plain_exception_is_a_final_failure_without_gocraft_backoff(
    wapp: Celery, start_worker: Start, gclient: Client
) -> None:
    @wapp.task
    def boom(n: int) -> None:
        raise ValueError(f"bad {n}")

    start_worker()
    result = boom.delay(7)
    dead = wait_until(lambda: gclient.dead_jobs()[0], timeout=10, what="the dead entry")[0]
    assert dead.job.fails == 1 and dead.job.last_err == "ValueError: bad 7"
    assert gclient.retry_count() == 0
    assert result.state == states.FAILURE
    assert isinstance(result.result, ValueError) and str(result.result) == "bad 7"
    assert "ValueError: bad 7" in (result.traceback or "")
    assert wait_until(lambda: gclient.history_job_by_id(result.id)).status == "dead"


def test_ignore_ends_the_job_without_a_state(
    wapp: Celery, start_worker: Start, gclient: Client, redis_client: redis.Redis, record: list[Any]
) -> None:
    @wapp.task
    def skip() -> None:
        raise Ignore()

    worker = start_worker()
    result = skip.delay()
    wait_until(lambda: "task_postrun" in task_signals(record), timeout=10, what="the run")
    assert worker.pool is not None and worker.pool.drain(timeout=10)
    assert gclient.dead_count() == 0 and gclient.retry_count() == 0
    assert redis_client.get(f"celery-task-meta-{result.id}") is None
    assert gclient.history_job_by_id(result.id) is None
    assert task_signals(record) == ["task_received", "task_prerun", "task_postrun"]


def test_reject_requeue_puts_the_job_back(wapp: Celery, start_worker: Start, gclient: Client) -> None:
    runs: list[int] = []

    @wapp.task
    def picky() -> str:
        runs.append(1)
        if len(runs) == 1:
            raise Reject("not now", requeue=True)
        return "done"

    start_worker(concurrency=1)
    result = picky.delay()
    assert result.get(timeout=10) == "done"
    assert len(runs) == 2
    assert gclient.dead_count() == 0 and gclient.retry_count() == 0


def test_reject_without_requeue_is_dead_and_failure(wapp: Celery, start_worker: Start, gclient: Client) -> None:
    @wapp.task
    def refuse() -> None:
        raise Reject("malformed")

    start_worker()
    result = refuse.delay()
    dead = wait_until(lambda: gclient.dead_jobs()[0], timeout=10, what="the dead entry")[0]
    assert dead.job.last_err == "Reject: malformed"
    assert result.state == states.FAILURE  # Celery 5.7 stores FAILURE for a reject without requeue
    assert type(result.result).__name__ == "Reject"


def test_expired_job_is_revoked_not_run(
    wapp: Celery, start_worker: Start, gclient: Client, clock: Clock, record: list[Any]
) -> None:
    runs: list[int] = []

    @wapp.task
    def late() -> None:
        runs.append(1)

    result = late.apply_async(expires=10)
    clock.now = T0 + 11
    start_worker()
    entry = wait_until(lambda: gclient.history_job_by_id(result.id), timeout=10, what="the history entry")
    assert entry.status == "dead" and entry.job.last_err == "expired"
    assert runs == []
    assert result.state == states.REVOKED
    assert gclient.dead_count() == 0
    revoked = [kw for name, kw in record if name == "task_revoked"]
    assert len(revoked) == 1 and revoked[0]["expired"] is True and revoked[0]["terminated"] is False
    assert revoked[0]["request"].id == result.id
    assert "task_received" not in task_signals(record)


def test_revoked_id_is_discarded(
    wapp: Celery, start_worker: Start, gclient: Client, namespace: str, redis_client: redis.Redis, record: list[Any]
) -> None:
    runs: list[int] = []

    @wapp.task
    def doomed() -> None:
        runs.append(1)

    redis_client.zadd(ShimKeys(namespace).revoked(), {"rev-1": T0})
    doomed.apply_async(task_id="rev-1")
    start_worker()
    entry = wait_until(lambda: gclient.history_job_by_id("rev-1"), timeout=10, what="the history entry")
    assert entry.job.last_err == "revoked"
    assert runs == []
    assert wapp.AsyncResult("rev-1").state == states.REVOKED
    revoked = [kw for name, kw in record if name == "task_revoked"]
    assert len(revoked) == 1 and revoked[0]["expired"] is False


def test_args_that_do_not_bind_go_dead_with_the_reason(
    wapp: Celery, start_worker: Start, gclient: Client, go_enqueuer: Enqueuer
) -> None:
    @wapp.task(name="send_email")
    def send_email(address: str) -> None:
        raise AssertionError("must not run")

    start_worker()
    job = go_enqueuer.enqueue("send_email", {"adress": "typo"})
    assert job is not None
    dead = wait_until(lambda: gclient.dead_jobs()[0], timeout=10, what="the dead entry")[0]
    assert dead.job.id == job.id
    assert dead.job.last_err.startswith(
        "TypeError: the job's args ['adress'] do not fit send_email(address): missing a required argument: 'address'"
    )
    assert wapp.AsyncResult(job.id).state == states.FAILURE


def test_unregistered_name_goes_dead(wapp: Celery, start_worker: Start, gclient: Client, go_enqueuer: Enqueuer) -> None:
    @wapp.task(name="short_lived")
    def short_lived() -> None:
        raise AssertionError("must not run")

    start_worker()
    wapp.tasks.unregister("short_lived")
    go_enqueuer.enqueue("short_lived", {})
    dead = wait_until(lambda: gclient.dead_jobs()[0], timeout=10, what="the dead entry")[0]
    assert dead.job.last_err == "task 'short_lived' is not registered with the worker's app"


def test_signal_and_handler_order_of_a_success(wapp: Celery, start_worker: Start, record: list[Any]) -> None:
    calls: list[str] = []

    class Base(wapp.Task):  # type: ignore[name-defined,misc]
        def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
            calls.append("before_start")

        def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
            calls.append("on_success")

        def after_return(self, status: str, retval: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
            calls.append(f"after_return:{status}")

    @wapp.task(base=Base)
    def hello(name: str) -> str:
        calls.append("run")
        return f"hello {name}"

    worker = start_worker()
    result = hello.delay("ada")
    assert result.get(timeout=10) == "hello ada"
    wait_until(lambda: "task_postrun" in task_signals(record), what="task_postrun")
    assert calls == ["before_start", "run", "on_success", "after_return:SUCCESS"]
    assert task_signals(record) == ["task_received", "task_prerun", "task_success", "task_postrun"]
    by_name = {name: kw for name, kw in record}
    assert by_name["task_received"]["sender"] is worker and by_name["task_received"]["request"].id == result.id
    assert by_name["task_prerun"]["sender"] is hello and by_name["task_prerun"]["args"] == ("ada",)
    assert by_name["task_success"]["result"] == "hello ada" and by_name["task_success"]["runtime"] >= 0
    assert by_name["task_postrun"]["retval"] == "hello ada" and by_name["task_postrun"]["state"] == states.SUCCESS


def test_worker_lifecycle_signals(wapp: Celery, record: list[Any]) -> None:
    @wapp.task
    def noop() -> None:
        pass

    from tests.work_compat.conftest import FAST

    worker = WorkController(wapp, pool="solo", pool_settings=FAST)
    worker.start()
    worker.stop(timeout=10)
    names = [name for name, _ in record]
    assert names == [
        "celeryd_init", "worker_init", "worker_process_init", "celeryd_after_setup", "worker_ready",
        "worker_shutting_down", "worker_process_shutdown", "worker_shutdown",
    ]  # fmt: skip
    assert dict(record)["worker_ready"]["sender"] is worker
    assert dict(record)["worker_shutting_down"]["sender"] == worker.hostname


def test_solo_pool_runs_tasks_one_at_a_time(wapp: Celery, start_worker: Start) -> None:
    @wapp.task
    def square(x: int) -> int:
        return x * x

    worker = start_worker(pool="solo", concurrency=4)
    assert worker.concurrency == 1
    results = [square.delay(i) for i in range(5)]
    assert [r.get(timeout=10) for r in results] == [0, 1, 4, 9, 16]


def test_eventlet_and_gevent_are_refused(wapp: Celery) -> None:
    for pool in ("eventlet", "gevent"):
        with pytest.raises(ImproperlyConfigured, match="use 'threads'"):
            WorkController(wapp, pool=pool)


def test_track_started_and_update_state(
    wapp: Celery, start_worker: Start, gclient: Client, redis_client: redis.Redis
) -> None:
    release = threading.Event()
    progressed = threading.Event()

    @wapp.task(bind=True, track_started=True)
    def long(self: Any) -> str:
        self.update_state(state="PROGRESS", meta={"done": 3, "total": 10})
        progressed.set()
        release.wait(10)
        return "ok"

    @wapp.task(bind=True, track_started=True)
    def watched(self: Any) -> str:
        release.wait(10)
        return "ok"

    start_worker(concurrency=2)
    started = watched.delay()
    wait_until(lambda: started.state == states.STARTED, timeout=10, what="STARTED")
    assert started.result == {"pid": __import__("os").getpid(), "hostname": started.result["hostname"]}
    result = long.delay()
    assert progressed.wait(10)
    assert result.state == "PROGRESS" and result.info == {"done": 3, "total": 10}
    observation = wait_until(
        lambda: [o for o in gclient.worker_observations() if o.job_id == result.id and o.checkin],
        timeout=10,
        what="the check-in",
    )[0]
    assert observation.checkin == 'PROGRESS {"done":3,"total":10}'
    release.set()
    assert result.get(timeout=10) == "ok" and started.get(timeout=10) == "ok"


def test_soft_time_limit_in_a_thread(wapp: Celery, start_worker: Start, gclient: Client) -> None:
    @wapp.task(soft_time_limit=0.3)
    def spin() -> str:
        try:
            while True:
                threading.Event().wait(0.01)
        except SoftTimeLimitExceeded:
            return "stopped by the soft limit"

    @wapp.task
    def spin_forever() -> None:
        while True:
            threading.Event().wait(0.01)

    start_worker()
    assert spin.delay().get(timeout=10) == "stopped by the soft limit"
    result = spin_forever.apply_async(soft_time_limit=0.2)  # the call's own limit
    dead = wait_until(lambda: gclient.dead_jobs()[0], timeout=10, what="the dead entry")[0]
    assert dead.job.last_err == "SoftTimeLimitExceeded"
    assert result.state == states.FAILURE


def test_hard_limit_is_logged_once_for_threads(
    wapp: Celery, start_worker: Start, caplog: pytest.LogCaptureFixture
) -> None:
    @wapp.task(time_limit=5)
    def capped() -> str:
        return "ran"

    caplog.set_level("WARNING", logger="celery_shim")
    start_worker()
    assert capped.delay().get(timeout=10) == "ran"
    assert capped.delay().get(timeout=10) == "ran"
    startup = [r for r in caplog.records if "cannot be enforced by the threads pool" in r.getMessage()]
    per_task = [r for r in caplog.records if "a threads or solo pool cannot enforce" in r.getMessage()]
    assert len(startup) == 1 and len(per_task) == 1


def test_rate_limit_leaves_the_name_out_of_fetches(
    wapp: Celery, start_worker: Start, gclient: Client, namespace: str, redis_client: redis.Redis
) -> None:
    @wapp.task(name="slow", rate_limit="1/h")
    def slow() -> str:
        return "ok"

    @wapp.task
    def fast() -> str:
        return "ok"

    worker = start_worker()
    first, second = slow.delay(), slow.delay()
    assert fast.delay().get(timeout=10) == "ok"
    done = wait_until(lambda: [r for r in (first, second) if r.state == states.SUCCESS], timeout=10, what="one run")
    assert len(done) == 1
    assert worker.pool is not None and worker.pool.drain(timeout=10)  # nothing more is fetched
    assert worker.rate_limits.keep("slow") is False and worker.rate_limits.keep("fast") is True
    waiting = {q.job_name: q.count for q in gclient.queues()}
    assert waiting.get("slow") == 1
    # app.control.rate_limit writes the runtime hash; the worker reads it and runs the job.
    redis_client.hset(ShimKeys(namespace).rate_limits(), "slow", "100/s")
    wait_until(lambda: first.state == second.state == states.SUCCESS, timeout=10, what="the second run")


def test_job_options_heartbeat_and_max_concurrency(
    wapp: Celery, start_worker: Start, gclient: Client, namespace: str, redis_client: redis.Redis
) -> None:
    @wapp.task(name="capped", max_concurrency=2, max_retries=7, priority=3)
    def capped() -> None:
        pass

    @wapp.task(name="plain")
    def plain() -> None:
        pass

    worker = start_worker(hostname="w1@example")
    assert worker.pool is not None
    options = {name: jt.options for name, jt in worker.pool.job_types.items()}
    assert options["capped"].max_fails == 8 and options["capped"].priority == 7000
    assert options["plain"].max_fails == 4 and options["plain"].priority == 10000
    assert redis_client.get(Keys(namespace).jobs_max_concurrency("capped")) == b"2"
    assert gclient.max_concurrency("plain") == 0
    beat = redis_client.hgetall(Keys(namespace).heartbeat(worker.pool.pool_id))
    assert beat[HEARTBEAT_FIELD.encode()] == b"w1@example"
    heartbeats = gclient.worker_pool_heartbeats()  # Go's fields still read as before
    assert heartbeats[0].job_names == ["capped", "plain"] and heartbeats[0].concurrency == 2


def test_queues_select_the_tasks(wapp: Celery) -> None:
    wapp.conf.task_routes = [
        {"mail.*": {"queue": "mail"}, "report": "reports"},
        lambda name, args, kwargs, options, task=None, **kw: "cpu" if name.startswith("img.") else None,
    ]

    @wapp.task(name="mail.send")
    def send() -> None: ...

    @wapp.task(name="report")
    def report() -> None: ...

    @wapp.task(name="img.resize")
    def resize() -> None: ...

    @wapp.task(name="misc", queue="special")
    def misc() -> None: ...

    @wapp.task(name="other")
    def other() -> None: ...

    assert WorkController(wapp, pool="threads").job_names == ["img.resize", "mail.send", "misc", "other", "report"]
    assert WorkController(wapp, pool="threads", queues="mail,reports").job_names == ["mail.send", "report"]
    assert WorkController(wapp, pool="threads", queues=["celery"]).job_names == ["other"]
    assert WorkController(wapp, pool="threads", exclude_queues=["cpu", "celery"]).job_names == [
        "mail.send",
        "misc",
        "report",
    ]


def test_no_task_in_the_queues_is_a_clear_error(wapp: Celery) -> None:
    @wapp.task
    def lonely() -> None: ...

    worker = WorkController(wapp, pool="threads", queues=["nowhere"])
    with pytest.raises(ValueError, match="no task is routed to queues"):
        worker.start()


def test_task_logger_records_name_the_task(wapp: Celery, start_worker: Start, caplog: pytest.LogCaptureFixture) -> None:
    from celery_shim.utils.log import get_task_logger

    log = get_task_logger("tests.celery_shim.tasklog")

    @wapp.task(name="logs")
    def logs() -> None:
        log.warning("inside")

    caplog.set_level("WARNING")
    start_worker()
    result = logs.delay()
    result.get(timeout=10)
    record = next(r for r in caplog.records if r.getMessage() == "inside")
    assert (record.task_name, record.task_id) == ("logs", result.id)  # type: ignore[attr-defined]
    log.warning("outside")
    outside = next(r for r in caplog.records if r.getMessage() == "outside")
    assert (outside.task_name, outside.task_id) == ("???", "???")  # type: ignore[attr-defined]


def test_task_annotations_set_rate_and_wrap_handlers(wapp: Celery, start_worker: Start, gclient: Client) -> None:
    wrapped: list[str] = []

    def around(original: Any) -> Any:
        def on_failure(self: Any, exc: Any, *args: Any) -> None:
            wrapped.append(type(exc).__name__)
            original(self, exc, *args)

        return on_failure

    wapp.conf.task_annotations = {"*": {"@on_failure": around}, "annotated": {"rate_limit": "5/m"}}

    @wapp.task(name="annotated")
    def annotated() -> None:
        raise RuntimeError("x")

    worker = start_worker()
    result = annotated.delay()
    wait_until(lambda: result.state == states.FAILURE, timeout=10, what="the failure")
    assert wrapped == ["RuntimeError"]
    assert annotated.rate_limit == "5/m"
    assert worker.rate_limits.rate("annotated") == pytest.approx(5 / 60)


def test_runtime_time_limit_override(
    wapp: Celery, start_worker: Start, gclient: Client, namespace: str, redis_client: redis.Redis
) -> None:
    @wapp.task(name="sleepy")
    def sleepy() -> None:
        while True:
            threading.Event().wait(0.01)

    redis_client.hset(ShimKeys(namespace).time_limits(), "sleepy", json.dumps({"soft": 0.2, "hard": None}))
    start_worker()
    result = sleepy.delay()
    wait_until(lambda: result.state == states.FAILURE, timeout=10, what="the soft limit")
    assert type(result.result).__name__ == "SoftTimeLimitExceeded"


def test_reload_picks_up_new_tasks(wapp: Celery, start_worker: Start) -> None:
    @wapp.task
    def first() -> int:
        return 1

    worker = start_worker()

    @wapp.task
    def second() -> int:
        return 2

    worker.reload()
    assert second.delay().get(timeout=10) == 2 and first.delay().get(timeout=10) == 1


def test_run_returns_after_a_remote_shutdown(wapp: Celery, namespace: str, redis_client: redis.Redis) -> None:
    @wapp.task
    def noop() -> None: ...

    from tests.work_compat.conftest import FAST

    worker = WorkController(wapp, pool="threads", concurrency=1, pool_settings=FAST, hostname="w9@host")
    runner = threading.Thread(target=worker.run)
    runner.start()
    wait_until(lambda: worker.pool is not None, timeout=10, what="the worker to start")
    other = json.dumps({"command": "shutdown", "arguments": {}, "destination": ["someone@else"]})
    mine = json.dumps({"command": "shutdown", "arguments": {}, "destination": ["w9@host"]})
    wait_until(lambda: redis_client.publish(ShimKeys(namespace).control(), other), timeout=10, what="a subscriber")
    redis_client.publish(ShimKeys(namespace).control(), mine)
    runner.join(15)
    assert not runner.is_alive()
    assert redis_client.hget(ShimKeys(namespace).nodes(), worker.pool.pool_id) is None  # type: ignore[union-attr]


def test_inspect_names_the_node(wapp: Celery, start_worker: Start, namespace: str, redis_client: redis.Redis) -> None:
    @wapp.task
    def noop() -> None: ...

    worker = start_worker(hostname="named@host")
    assert worker.pool is not None
    assert redis_client.hget(ShimKeys(namespace).nodes(), worker.pool.pool_id) == b"named@host"


def test_control_messages_for_other_nodes_are_ignored() -> None:
    from celery_shim.worker.pidbox import ControlListener

    class Node:
        hostname = "me@host"
        stops = 0
        refreshes = 0

        def request_stop(self) -> None:
            self.stops += 1

        def refresh_runtime_settings(self) -> None:
            self.refreshes += 1

    node = Node()
    listener = ControlListener(node, None, "unused")  # type: ignore[arg-type]
    listener.handle(json.dumps({"command": "shutdown", "destination": ["other@host"]}))
    listener.handle(b"not json")
    listener.handle(json.dumps({"command": "rate_limit", "arguments": {}, "destination": None}))
    assert (node.stops, node.refreshes) == (0, 1)
    listener.handle(json.dumps({"command": "shutdown", "destination": ["me@host"]}))
    assert node.stops == 1


def test_pools_that_do_not_register_the_tasks_are_named_at_start(
    wapp: Celery, start_worker: Start, namespace: str, redis_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from work_compat import WorkerPool

    @wapp.task(name="py_only")
    def py_only() -> None: ...

    go_like = WorkerPool(1, namespace, redis_server.url).job("send_sms", lambda job: None)
    go_like.start()
    try:
        caplog.set_level("WARNING", logger="celery_shim")
        start_worker()
        warnings = [r.getMessage() for r in caplog.records if "does not register py_only" in r.getMessage()]
        assert len(warnings) == 1 and go_like.pool_id in warnings[0]
    finally:
        go_like.stop(timeout=10)
        go_like.close()


def test_stop_before_start_is_harmless(wapp: Celery) -> None:
    @wapp.task
    def noop() -> None: ...

    WorkController(wapp, pool="threads").stop()


def test_an_idle_worker_starts_a_task_promptly_with_the_default_polling(wapp: Celery, start_worker: Start) -> None:
    # A Celery worker starts a task the moment it is published; gocraft's fetch cannot block, so an
    # idle worker polls, and by default never sleeps long enough for a user to notice.
    ran = threading.Event()

    @wapp.task(name="ping")
    def ping() -> None:
        ran.set()

    worker = start_worker(sleep_backoffs=None)
    assert worker.sleep_backoffs == IDLE_POLL_BACKOFFS and max(IDLE_POLL_BACKOFFS) <= 200
    assert worker.pool is not None
    for _ in range(5):  # idle: every worker has found nothing several times, so it is in its longest sleep
        assert worker.pool.drain(5)
    published = time.monotonic()
    ping.delay()
    assert ran.wait(5)
    assert time.monotonic() - published < 1.0


def test_a_task_sent_from_a_running_task_records_its_parent_and_root(wapp: Celery, start_worker: Start) -> None:
    # As in Celery: the child's request and stored result name the parent, the root is the first
    # task of the tree, and the parent's stored result lists the child under "children".
    seen: dict[str, Any] = {}

    @wapp.task(name="leaf")
    def leaf() -> str:
        seen["leaf"] = (leaf.request.id, leaf.request.parent_id, leaf.request.root_id)
        return "leaf"

    @wapp.task(name="branch")
    def branch() -> str:
        return leaf.delay().id

    @wapp.task(name="trunk")
    def trunk() -> str:
        return branch.delay().id

    start_worker()
    root = trunk.delay()
    branch_id = root.get(timeout=10)
    leaf_id = wapp.AsyncResult(branch_id).get(timeout=10)
    assert wapp.AsyncResult(leaf_id).get(timeout=10) == "leaf"
    assert seen["leaf"] == (leaf_id, branch_id, root.id)
    assert [c.id for c in root.children or []] == [branch_id]
    assert [c.id for c in wapp.AsyncResult(branch_id).children or []] == [leaf_id]
    assert wapp.AsyncResult(leaf_id).children == []
    meta = wapp.backend.get_task_meta(leaf_id)
    assert meta.get("parent_id") == branch_id


def test_a_task_published_outside_any_task_has_no_parent(wapp: Celery, start_worker: Start) -> None:
    @wapp.task(name="solo_leaf")
    def solo_leaf() -> tuple[str | None, str | None]:
        return solo_leaf.request.parent_id, solo_leaf.request.root_id

    start_worker()
    result = solo_leaf.delay()
    assert result.get(timeout=10) == [None, result.id]
