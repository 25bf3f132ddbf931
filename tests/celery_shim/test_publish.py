"""Publishing: ``delay``/``apply_async``/``send_task`` write gocraft jobs Go can read (D1-D4, D8, D18)."""

from __future__ import annotations

import datetime as dt
import decimal
import inspect
import logging
import math
import uuid
from typing import Any

import pytest
import redis

from celery_shim import Celery
from celery_shim.app.taskdef import InvalidTaskNameError
from celery_shim.gocraft.arguments import call_from_args
from celery_shim.exceptions import EncodeError, ImproperlyConfigured
from celery_shim.backends.memory import memory_connection
from tests.celery_shim.conftest import T0
from work_compat import Enqueuer, Job, Keys, decode_job


def queued(client: redis.Redis, namespace: str, name: str) -> list[Job]:
    return [decode_job(raw) for raw in client.lrange(Keys(namespace).jobs(name), 0, -1)]


def scheduled(client: redis.Redis, namespace: str) -> list[tuple[Job, float]]:
    return [
        (decode_job(raw), score) for raw, score in client.zrange(Keys(namespace).scheduled(), 0, -1, withscores=True)
    ]


# -- the job a delay() writes ---------------------------------------------------------------------
def test_delay_writes_a_gocraft_job_named_by_the_parameters(
    app: Celery, redis_client: redis.Redis, namespace: str
) -> None:
    @app.task(name="send_email")
    def send_email(address: str, subject: str = "hi") -> None: ...

    result = send_email.delay("ada@example.com", subject="Welcome")

    (job,) = queued(redis_client, namespace, "send_email")
    assert job.name == "send_email"
    assert job.id == result.id
    assert job.enqueued_at == int(T0)
    assert job.args == {"address": "ada@example.com", "subject": "Welcome"}
    assert job.extra == {}  # a plain delay() is byte-shaped like Go's own Enqueue
    assert redis_client.smembers(Keys(namespace).known_jobs()) == {b"send_email"}
    raw = redis_client.lindex(Keys(namespace).jobs("send_email"), 0)
    assert raw is not None and raw.startswith(b'{"name":"send_email","id":')


def test_defaults_are_not_written_and_overflow_goes_under_star_args(
    app: Celery, redis_client: redis.Redis, namespace: str
) -> None:
    @app.task(name="report")
    def report(kind: str, limit: int = 10, *pages: int, **filters: Any) -> None: ...

    report.delay("daily")
    report.delay("weekly", 5, 1, 2, region="eu")

    first, second = reversed(queued(redis_client, namespace, "report"))  # LPUSH: newest first
    assert first.args == {"kind": "daily"}
    assert second.args == {"kind": "weekly", "limit": 5, "*args": [1, 2], "region": "eu"}


def test_a_go_style_job_maps_back_to_the_call() -> None:
    def send_email(address: str, subject: str = "hi", *, urgent: bool = False) -> tuple[Any, ...]:
        return address, subject, urgent

    go_job = decode_job(b'{"name":"send_email","id":"abc","t":1,"args":{"address":"x","urgent":true}}')
    args, kwargs = call_from_args(inspect.signature(send_email), go_job.args)
    assert (args, kwargs) == (("x",), {"urgent": True})
    assert send_email(*args, **kwargs) == ("x", "hi", True)

    def pages(kind: str, *rest: int) -> tuple[Any, ...]:
        return kind, rest

    args, kwargs = call_from_args(inspect.signature(pages), {"kind": "k", "*args": [1, 2]})
    assert pages(*args, **kwargs) == ("k", (1, 2))


def test_a_job_enqueued_by_work_compat_names_the_same_args(
    app: Celery, redis_client: redis.Redis, namespace: str
) -> None:
    """Go's side of the same job: Enqueuer.enqueue with a map gives what delay() gives."""

    @app.task(name="resize")
    def resize(path: str, width: int) -> None: ...

    resize.delay("/a.png", 300)
    Enqueuer(namespace, redis_client).enqueue("resize", {"path": "/a.png", "width": 300})
    ours, go = queued(redis_client, namespace, "resize")[::-1]
    assert ours.args == go.args


def test_binding_errors_raise_type_error_and_write_nothing(
    app: Celery, redis_client: redis.Redis, namespace: str
) -> None:
    @app.task(name="add")
    def add(x: int, y: int) -> int:
        return x + y

    with pytest.raises(TypeError):
        add.delay(1)
    with pytest.raises(TypeError):
        add.delay(1, 2, z=3)
    with pytest.raises(TypeError):
        add.apply_async(args=1)
    assert redis_client.keys("*") == []


def test_values_are_encoded_for_go_and_bad_ones_name_the_argument(
    app: Celery, redis_client: redis.Redis, namespace: str
) -> None:
    @app.task(name="store")
    def store(when: Any, amount: Any = None, ref: Any = None, extra: Any = None) -> None: ...

    moment = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    ref = uuid.UUID("12345678-1234-5678-1234-567812345678")
    store.delay(moment, decimal.Decimal("1.10"), ref, extra={"day": dt.date(2030, 1, 2), "pair": (1, 2)})
    (job,) = queued(redis_client, namespace, "store")
    assert job.args == {
        "when": "2030-01-02T03:04:05+00:00",
        "amount": "1.10",
        "ref": str(ref),
        "extra": {"day": "2030-01-02", "pair": [1, 2]},
    }

    with pytest.raises(EncodeError, match="'extra'") as info:
        store.delay(moment, extra={"blob": object()})
    assert info.value.argument == "extra"
    with pytest.raises(EncodeError, match="'when'"):
        store.delay(b"bytes")
    with pytest.raises(EncodeError, match="'when'"):
        store.delay(float("nan"))
    assert len(queued(redis_client, namespace, "store")) == 1


# -- when it runs (D8) ----------------------------------------------------------------------------
def test_countdown_scores_the_ceiling_of_the_eta(app: Celery, redis_client: redis.Redis, namespace: str) -> None:
    @app.task(name="later")
    def later(n: int) -> None: ...

    later.apply_async((1,), countdown=10)
    later.apply_async((2,), countdown=0.5)
    ((a, score_a), (b, score_b)) = scheduled(redis_client, namespace)
    assert (b.args, score_b) == ({"n": 1}, math.ceil(T0 + 10))
    assert (a.args, score_a) == ({"n": 2}, math.ceil(T0 + 0.5))
    assert b.extra["celery"]["eta"] == T0 + 10
    assert redis_client.smembers(Keys(namespace).known_jobs()) == {b"later"}
    assert queued(redis_client, namespace, "later") == []


def test_eta_datetimes_aware_and_naive_utc(app: Celery, redis_client: redis.Redis, namespace: str) -> None:
    @app.task(name="later")
    def later(n: int) -> None: ...

    when = dt.datetime.fromtimestamp(T0 + 100.5, dt.timezone.utc)
    later.apply_async((1,), eta=when)
    later.apply_async((2,), eta=when.replace(tzinfo=None) + dt.timedelta(seconds=10))
    scores = sorted(score for _, score in scheduled(redis_client, namespace))
    assert scores == [math.ceil(T0 + 100.5), math.ceil(T0 + 110.5)]


def test_countdown_not_in_the_future_is_a_plain_enqueue(app: Celery, redis_client: redis.Redis, namespace: str) -> None:
    @app.task(name="now")
    def now(n: int) -> None: ...

    now.apply_async((1,), countdown=0)
    now.apply_async((2,), countdown=-5)
    now.apply_async((3,), eta=dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))
    assert len(queued(redis_client, namespace, "now")) == 3
    assert scheduled(redis_client, namespace) == []
    with pytest.raises(ValueError, match="not both"):
        now.apply_async((4,), countdown=1, eta=dt.datetime(2040, 1, 1, tzinfo=dt.timezone.utc))


# -- metadata (D4, D9) ----------------------------------------------------------------------------
def test_task_id_headers_and_expires_go_in_the_celery_object(
    app: Celery, redis_client: redis.Redis, namespace: str
) -> None:
    @app.task(name="ping", expires=30)
    def ping(x: int) -> None: ...

    ping.apply_async((1,), task_id="my-id", headers={"trace": "t1"})
    ping.apply_async((2,), expires=dt.datetime.fromtimestamp(T0 + 60, dt.timezone.utc))
    ping.apply_async((3,), expires=5.5)
    third, second, first = queued(redis_client, namespace, "ping")
    assert first.id == "my-id"
    assert first.args == {"x": 1}
    assert first.extra == {"celery": {"expires": T0 + 30, "headers": {"trace": "t1"}}}
    assert second.extra["celery"]["expires"] == T0 + 60
    assert third.extra["celery"]["expires"] == T0 + 5.5
    raw = redis_client.lindex(Keys(namespace).jobs("ping"), -1)
    assert raw is not None and raw.endswith(b',"celery":{"expires":1800000030.25,"headers":{"trace":"t1"}}}')


# -- names (D3) -----------------------------------------------------------------------------------
def test_task_names_are_job_names(app: Celery, redis_client: redis.Redis, namespace: str) -> None:
    @app.task
    def auto(x: int) -> None: ...

    @app.task(name="reports.daily.build")
    def dotted(x: int) -> None: ...

    assert auto.name == f"{__name__}.auto"
    assert app.tasks[auto.name] is auto
    auto.delay(1)
    dotted.delay(1)
    assert len(queued(redis_client, namespace, f"{__name__}.auto")) == 1
    assert len(queued(redis_client, namespace, "reports.daily.build")) == 1

    for bad in ("a:b", "a,b", "has space", "index", ""):
        with pytest.raises(InvalidTaskNameError):
            app.task(name=bad)(lambda: None)


def test_main_replaces_dunder_main_in_auto_names() -> None:
    app = Celery("myproj")

    def job() -> None: ...

    job.__module__ = "__main__"
    assert app.task(job).name == "myproj.job"


# -- send_task ------------------------------------------------------------------------------------
def test_send_task_uses_a_local_signature_or_star_args(
    app: Celery, redis_client: redis.Redis, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task(name="send_email")
    def send_email(address: str) -> None: ...

    app.send_task("send_email", ["a@b"])
    with caplog.at_level(logging.WARNING):
        app.send_task("go_only", [1, 2], {"k": "v"}, countdown=3)
    assert "go_only" in caplog.text
    (job,) = queued(redis_client, namespace, "send_email")
    assert job.args == {"address": "a@b"}
    ((go, score),) = scheduled(redis_client, namespace)
    assert go.args == {"k": "v", "*args": [1, 2]}
    assert score == math.ceil(T0 + 3)


# -- brokers and namespaces (D3, D18) -------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("amqp://guest:guest@rabbit:5672//", "redis://rabbit:6379/0"),
        ("sqs://", "redis://localhost:6379/0"),
        (None, "broker_url is not set"),
    ],
)
def test_non_redis_brokers_are_refused_on_first_use(url: str | None, hint: str) -> None:
    app = Celery("proj", broker=url, backend="rpc://")

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    with pytest.raises(ImproperlyConfigured, match=hint.replace(".", r"\.")):
        add.delay(1, 2)
    app.conf.task_always_eager = True  # eager mode never needs the broker
    assert add.delay(1, 2).get() == 3


def test_memory_broker_runs_the_same_publish_in_process() -> None:
    # Given an app on a memory:// URL (process-wide, as kombu's memory transport)
    app = Celery("proj", broker="memory://publish-test", gocraft_namespace="mem")

    @app.task(name="send_email")
    def send_email(address: str, subject: str = "hi") -> None: ...

    try:
        # When a task is delayed and another scheduled
        send_email.delay("a@b")
        send_email.apply_async(("c@d",), countdown=30)
        # Then the gocraft job is there for another client of the same URL, with named args
        client = memory_connection("memory://publish-test").client
        (raw,) = client.lrange("mem:jobs:send_email", 0, -1)
        assert decode_job(raw).args == {"address": "a@b"}
        assert client.zcard("mem:scheduled") == 1 and client.sismember("mem:known_jobs", "send_email")
    finally:
        app.close()


def test_namespace_resolution(broker_url: str) -> None:
    assert Celery("proj").namespace == "proj"
    assert Celery().namespace == "celery"
    assert Celery("proj", broker_transport_options={"global_keyprefix": "pre:"}).namespace == "pre"
    assert Celery("proj", gocraft_namespace="work").namespace == "work"


def test_per_call_queue_and_priority_are_warned_once(
    app: Celery, redis_client: redis.Redis, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task(name="mail", queue="emails")
    def mail(x: int) -> None: ...

    with caplog.at_level(logging.WARNING):
        mail.apply_async((1,), queue="emails")
        assert caplog.text == ""
        mail.apply_async((2,), queue="other", priority=3)
        mail.apply_async((3,), queue="other", priority=3)
    assert caplog.text.count("queue 'other'") == 1
    assert caplog.text.count("'priority'") == 1
    assert len(queued(redis_client, namespace, "mail")) == 3


def test_the_enqueuer_is_built_lazily_on_the_apps_namespace(app: Celery, namespace: str) -> None:
    assert app._broker is None
    assert app.enqueuer.namespace == namespace
    assert app.enqueuer is app.enqueuer


def test_publish_retries_follow_the_retry_policy(caplog: pytest.LogCaptureFixture) -> None:
    """Publish retries (D7) retry the Redis write, never the task; retry=False fails at once."""
    from work_compat import RedisUnavailableError

    app = Celery("proj", broker="redis://127.0.0.1:1/0")

    @app.task(name="lost")
    def lost() -> None: ...

    with caplog.at_level(logging.WARNING), pytest.raises(RedisUnavailableError):
        lost.apply_async(retry=False)
    assert "retry 1" not in caplog.text
    with caplog.at_level(logging.WARNING), pytest.raises(RedisUnavailableError):
        lost.apply_async(retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0})
    assert caplog.text.count("publish of job lost") == 2
    app.close()


def test_publish_errors_are_kombus_classes_as_in_celery() -> None:
    """User code catches kombu's OperationalError and EncodeError around delay(); they still catch."""
    import kombu.exceptions

    app = Celery("proj", broker="redis://127.0.0.1:1/0", task_publish_retry=False, set_as_current=False)

    @app.task(name="ping.it")
    def ping_it(x: object) -> None: ...

    with pytest.raises(kombu.exceptions.OperationalError, match="127.0.0.1:1"):
        ping_it.delay(1)
    with pytest.raises(kombu.exceptions.EncodeError, match="'x'"):
        ping_it.delay({1, 2})
    app.close()


def test_publish_signals_carry_the_job_go_reads(app: Celery) -> None:
    from celery_shim import signals

    seen: list[tuple[str, str, dict[str, Any]]] = []

    def before(sender: str, body: dict[str, Any], routing_key: str, **_: Any) -> None:
        seen.append(("before", sender, body))

    def after(sender: str, body: dict[str, Any], routing_key: str, **_: Any) -> None:
        seen.append(("after", sender, body))

    signals.before_task_publish.connect(before, weak=False, dispatch_uid="t-before")
    signals.after_task_publish.connect(after, weak=False, dispatch_uid="t-after")
    try:

        @app.task(name="mail.send")
        def send(address: str) -> None: ...

        result = send.delay("ada@example.com")
    finally:
        signals.before_task_publish.disconnect(dispatch_uid="t-before")
        signals.after_task_publish.disconnect(dispatch_uid="t-after")
    assert [(when, sender) for when, sender, _ in seen] == [("before", "mail.send"), ("after", "mail.send")]
    assert seen[0][2]["id"] == result.id and seen[0][2]["args"] == {"address": "ada@example.com"}
