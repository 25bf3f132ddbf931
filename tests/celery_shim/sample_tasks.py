"""One task module run under real Celery and under celery_shim (see test_differential.py).

The test loads this file twice as module ``sample_tasks``, injecting ``Celery`` first; imported
plainly, it uses celery_shim.
"""

from __future__ import annotations

import importlib
from typing import Any

try:
    Celery  # type: ignore[used-before-def]  # noqa: B018 - injected by the loader
except NameError:
    from celery_shim import Celery

exceptions = importlib.import_module(Celery.__module__.split(".")[0] + ".exceptions")

app = Celery("sample", broker="memory://")


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def shapes(a: Any, b: Any = 2, *rest: Any, **extra: Any) -> list[Any]:
    return [a, b, list(rest), sorted(extra.items())]


@app.task
def fail(message: str) -> None:
    raise ValueError(message)


@app.task(bind=True, max_retries=3)
def flaky(self: Any, succeed_at: int) -> list[Any]:
    if self.request.retries < succeed_at:
        raise self.retry(countdown=1)
    return [self.request.retries, self.request.is_eager]


@app.task(bind=True, max_retries=2)
def always_retry(self: Any) -> None:
    raise self.retry()


@app.task(bind=True, max_retries=1, default_retry_delay=5)
def retry_with_exc(self: Any) -> None:
    raise self.retry(exc=KeyError("missing"))


@app.task(bind=True)
def retry_override(self: Any) -> None:
    raise self.retry(max_retries=1, countdown=0)


@app.task(bind=True, max_retries=5)
def count_down(self: Any, n: int, seen: list[int] | None = None) -> list[Any]:
    seen = [*(seen or []), n]
    if n > 0:
        raise self.retry(args=(n - 1,), kwargs={"seen": seen})
    return [seen, self.request.retries]


@app.task(bind=True, max_retries=None)
def forever(self: Any, until: int) -> int:
    if self.request.retries < until:
        raise self.retry(countdown=3600)
    return int(self.request.retries)


@app.task(bind=True, max_retries=4)
def caught(self: Any) -> str:
    try:
        raise self.retry(max_retries=0)
    except exceptions.MaxRetriesExceededError:
        return "gave up"


@app.task
def ignored() -> None:
    raise exceptions.Ignore()


@app.task(bind=True)
def context(self: Any, x: Any) -> dict[str, Any]:
    r = self.request
    return {
        "is_eager": r.is_eager,
        "called_directly": r.called_directly,
        "retries": r.retries,
        "args": list(r.args),
        "kwargs": dict(r.kwargs or {}),
        "has_id": isinstance(r.id, str),
    }
