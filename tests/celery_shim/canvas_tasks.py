"""The tasks the canvas tests run: one module for real Celery (eager) and celery_shim.

``make_tasks(app)`` registers them on the app it is given, so the same definitions run under
``celery.Celery`` and ``celery_shim.Celery``; ``Seen`` records what callbacks and errbacks received.
"""

from __future__ import annotations

import threading
import time
from functools import partial
from types import SimpleNamespace
from typing import Any


class Seen:
    """A thread-safe record of calls, in the order they happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[Any, ...]] = []

    def add(self, item: tuple[Any, ...]) -> None:
        with self._lock:
            self._items.append(item)

    def items(self) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._items)

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [i for i in self.items() if i[0] == name]


def make_tasks(app: Any, seen: Seen) -> SimpleNamespace:
    """Register the canvas test tasks on ``app`` (names ``canvas.*``)."""
    # Real Celery would also register them on every app made later (shared=True by default).
    task = app.task if type(app).__module__.startswith("celery_shim") else partial(app.task, shared=False)

    @task(name="canvas.add")
    def add(x: int, y: int) -> int:
        return x + y

    @task(name="canvas.mul")
    def mul(x: int, y: int) -> int:
        return x * y

    @task(name="canvas.tsum")
    def tsum(values: list[int]) -> int:
        return sum(values)

    @task(name="canvas.collect")
    def collect(values: list[Any], label: str = "") -> list[Any]:
        return [label, values] if label else values

    @task(name="canvas.slow_echo")
    def slow_echo(value: Any, delay: float) -> Any:
        # Finishing out of header order shows the chord body still gets them in order.
        time.sleep(delay)
        return value

    @task(name="canvas.boom")
    def boom(x: Any) -> None:
        raise ValueError(f"boom {x}")

    @task(name="canvas.on_err")
    def on_err(request: Any, exc: BaseException, traceback: Any) -> str:
        seen.add(("on_err", request.id, type(exc).__name__, str(exc), isinstance(traceback, str)))
        return "handled"

    @task(name="canvas.on_err_id")
    def on_err_id(task_id: str) -> str:
        seen.add(("on_err_id", task_id))
        return task_id

    @task(name="canvas.record")
    def record(*values: Any) -> list[Any]:
        seen.add(("record", *values))
        return list(values)

    return SimpleNamespace(
        add=add,
        mul=mul,
        tsum=tsum,
        collect=collect,
        slow_echo=slow_echo,
        boom=boom,
        on_err=on_err,
        on_err_id=on_err_id,
        record=record,
    )
