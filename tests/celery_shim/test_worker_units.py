"""The worker's small parts on their own: rate strings and token buckets, queue labels and fetch
weights, node names, annotation objects, autoretry's backoff, and the limits that apply to a call."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest

from celery_shim import Celery
from celery_shim.app.annotations import annotations_for
from celery_shim.app.autoretry import backoff_countdown
from celery_shim.utils.time import parse_rate
from celery_shim.worker.ratelimit import RateLimits, TokenBucket
from celery_shim.app.routes import priority_weight, queue_of, queues_of
from celery_shim.worker.timelimits import Limits, effective_limits, parse_runtime_limits
from celery_shim.worker.worker import default_hostname


@pytest.mark.parametrize(
    ("rate", "per_second"),
    [("10/s", 10.0), ("120/m", 2.0), ("7200/h", 2.0), ("0.5/s", 0.5), (5, 5.0), ("3", 3.0), (None, 0.0), ("", 0.0)],
)
def test_parse_rate(rate: Any, per_second: float) -> None:
    assert parse_rate(rate) == pytest.approx(per_second)


@pytest.mark.parametrize("rate", ["10/d", "x/s", -1, True, [1]])
def test_invalid_rates_are_refused(rate: Any) -> None:
    with pytest.raises(ValueError):
        parse_rate(rate)


def test_token_bucket_holds_one_token_and_refills_at_its_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(2.0, clock=lambda: now[0])
    assert bucket.ready() and bucket.take()
    assert not bucket.ready() and not bucket.take()
    assert bucket.wait_time() == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.take()
    now[0] += 10  # no burst: capacity is one token
    assert bucket.take() and not bucket.take()


def test_rate_limits_keep_and_runtime_overrides() -> None:
    now = [0.0]
    limits = RateLimits(clock=lambda: now[0])
    limits.configure({"a": "1/s", "b": None, "bad": "1/year"})
    assert limits.rate("a") == 1.0 and limits.rate("b") == 0.0 and limits.rate("bad") == 0.0
    assert limits.take("a") and not limits.keep("a") and limits.keep("b") and limits.take("b")
    limits.update_runtime({"a": "0", "b": "1/m", "unknown": "1/s"}, ["a", "b"])
    assert limits.keep("a") and limits.rate("b") == pytest.approx(1 / 60)
    assert limits.rate("unknown") == 0.0


def test_queue_labels_and_weights() -> None:
    app = Celery("units", set_as_current=False)
    app.conf.task_routes = {re.compile(r"^img\."): {"queue": "images", "priority": 9}, "a.*": "alpha"}
    app.conf.task_default_priority = 2

    @app.task(name="img.thumb")
    def thumb() -> None: ...

    @app.task(name="a.one", priority=0)
    def one() -> None: ...

    @app.task(name="raw", gocraft_priority=77)
    def raw() -> None: ...

    assert queue_of(app, thumb) == "images" and queue_of(app, one) == "alpha" and queue_of(app, raw) == "celery"
    assert queues_of(app) == {"images": ["img.thumb"], "alpha": ["a.one"], "celery": ["raw"]}
    assert priority_weight(app, thumb) == 1000  # route priority 9: the lowest
    assert priority_weight(app, one) == 10000  # task priority 0: the highest
    assert priority_weight(app, raw) == 77  # a raw gocraft weight
    app.conf.task_default_priority = None
    app.conf.task_routes = None
    assert priority_weight(app, thumb) == 10000  # none: Redis-broker Celery's 0


def test_default_hostname() -> None:
    host = socket.gethostname()
    assert default_hostname() == f"celery@{host}"
    assert default_hostname("w1@%h") == f"w1@{host}"
    assert default_hostname("%n-worker@x%%y") == f"{host.partition('.')[0]}-worker@x%y"
    assert default_hostname("plain") == "celery@plain"


def test_annotation_objects_and_star_first() -> None:
    app = Celery("units", set_as_current=False)

    @app.task(name="t")
    def t() -> None: ...

    class Annotate:
        def annotate(self, task: Any) -> dict[str, Any] | None:
            return {"rate_limit": "1/s"} if task.name == "t" else None

    found = annotations_for([{"t": {"x": 2}, "*": {"x": 1}}, Annotate()], t)
    assert found == [{"x": 1}, {"x": 2}, {"rate_limit": "1/s"}]


def test_backoff_countdown() -> None:
    assert [backoff_countdown(1, r, 600, False) for r in range(4)] == [1, 2, 4, 8]
    assert backoff_countdown(5, 10, 600, False) == 600
    assert all(0 <= backoff_countdown(2, 3, 600, True) <= 16 for _ in range(50))


def test_effective_limits_order() -> None:
    app = Celery("units", set_as_current=False, task_time_limit=100, task_soft_time_limit=90)

    @app.task(name="t", time_limit=50)
    def t() -> None: ...

    assert effective_limits(app, t, {}) == Limits(50, 90)
    assert effective_limits(app, t, {}, worker=Limits(70, 60)) == Limits(50, 60)
    assert effective_limits(app, t, {}, runtime=Limits(None, 5)) == Limits(50, 5)
    assert effective_limits(app, t, {"time_limit": 3, "soft_time_limit": 2}, runtime=Limits(9, 9)) == Limits(3, 2)
    assert parse_runtime_limits({b"t": b'{"soft": 1, "hard": null}', b"bad": b"x"}) == {"t": Limits(None, 1.0)}
