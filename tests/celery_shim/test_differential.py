"""Eager mode, side by side: tests/celery_shim/sample_tasks.py under real Celery and celery_shim.

Given the same task module, when each scenario runs with ``task_always_eager``, then states,
results, retry counts and raised exception types are the same under both.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import celery_shim

celery = pytest.importorskip("celery")  # the bench/test extra installs it; the suite needs it

SAMPLE = Path(__file__).with_name("sample_tasks.py")


def load(celery_cls: type) -> ModuleType:
    spec = importlib.util.spec_from_file_location("sample_tasks", SAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.Celery = celery_cls  # type: ignore[attr-defined]
    spec.loader.exec_module(module)
    return module


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What a caller can observe: the state and result, or the exception raised at call time."""
    try:
        result = call()
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc) if type(exc).__name__ in ("ValueError", "KeyError") else "")
    if not hasattr(result, "state"):
        return ("value", result)
    value = result.result
    if isinstance(value, BaseException):
        value = (type(value).__name__, str(value) if isinstance(value, (ValueError, KeyError)) else "")
    return ("result", result.state, value, result.successful(), result.failed(), result.ready())


SCENARIOS: dict[str, Callable[[ModuleType], Any]] = {
    "add": lambda m: m.add.delay(2, 3),
    "add kwargs": lambda m: m.add.apply_async(kwargs={"x": 1, "y": 2}),
    "add missing arg": lambda m: m.add.delay(1),
    "add bad args type": lambda m: m.add.apply_async(args=5),
    "shapes overflow": lambda m: m.shapes.delay(1, 2, 3, 4, z=5, w=[1, (2, 3)]),
    "shapes default": lambda m: m.shapes.delay("a"),
    "fail": lambda m: m.fail.delay("boom"),
    "fail get": lambda m: m.fail.delay("boom").get(),
    "fail get no propagate": lambda m: type(m.fail.delay("boom").get(propagate=False)).__name__,
    "flaky 2": lambda m: m.flaky.delay(2),
    "flaky 3": lambda m: m.flaky.delay(3),
    "flaky 4": lambda m: m.flaky.delay(4),
    "always_retry": lambda m: m.always_retry.delay(),
    "retry_with_exc": lambda m: m.retry_with_exc.delay(),
    "retry_override": lambda m: m.retry_override.delay(),
    "count_down": lambda m: m.count_down.delay(3),
    "count_down too many": lambda m: m.count_down.delay(7),
    "forever": lambda m: m.forever.delay(8),
    "caught": lambda m: m.caught.delay(),
    "ignored": lambda m: m.ignored.delay(),
    "context": lambda m: m.context.delay(5),
    "apply": lambda m: m.add.apply((4, 5)),
    "apply throw": lambda m: m.fail.apply(("x",), throw=True),
    "signature": lambda m: m.add.s(2).delay(3),
    "signature immutable": lambda m: m.add.si(2, 2).delay(3),
    "signature apply": lambda m: m.add.s(y=1).apply((1,)),
    "direct call": lambda m: m.add(2, 3),
    "direct context": lambda m: m.context(1),
    "direct retry": lambda m: m.flaky(1),
    "unencodable": lambda m: m.add.delay(object(), 1),
}


@pytest.fixture(scope="module")
def modules() -> dict[str, ModuleType]:
    return {"celery": load(celery.Celery), "shim": load(celery_shim.Celery)}


@pytest.mark.parametrize("propagates", [False, True], ids=["no-propagate", "propagate"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_eager_matches_celery(modules: dict[str, ModuleType], name: str, propagates: bool) -> None:
    seen = {}
    for kind, module in modules.items():
        module.app.conf.task_always_eager = True
        module.app.conf.task_eager_propagates = propagates
        seen[kind] = outcome(lambda m=module: SCENARIOS[name](m))  # type: ignore[misc]
    assert seen["shim"] == seen["celery"]


def test_eager_results_are_eager_results(modules: dict[str, ModuleType]) -> None:
    shim = modules["shim"]
    shim.app.conf.task_always_eager = True
    assert isinstance(shim.add.delay(1, 1), celery_shim.EagerResult)
    assert shim.add.name == modules["celery"].add.name == "sample_tasks.add"
