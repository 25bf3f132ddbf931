"""Canvas in eager mode, side by side with real Celery 5.7.

Given the same tasks (tests/celery_shim/canvas_tasks.py) registered on a real ``celery.Celery`` and
on a ``celery_shim.Celery``, both with ``task_always_eager``, when the same chain, group, chord or
callback is applied, then the results and their order, the states, the ``parent`` line, the raised
exception types and what callbacks and errbacks received are the same. The signatures' JSON is the
same too, and each round-trips through ``Signature.from_dict``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import celery
import celery.canvas
import pytest

import celery_shim
import celery_shim.canvas
from tests.celery_shim.canvas_tasks import Seen, make_tasks


@dataclass
class Side:
    """One implementation: its app, its canvas module, its tasks and what their callbacks saw."""

    app: Any
    canvas: ModuleType
    t: SimpleNamespace
    seen: Seen


def side(celery_cls: type, canvas: ModuleType) -> Iterator[Side]:
    app = celery_cls("diff", broker="memory://", set_as_current=False)
    app.conf.task_always_eager = True
    seen = Seen()
    try:
        yield Side(app, canvas, make_tasks(app, seen), seen)
    finally:
        app.close()


@pytest.fixture
def real() -> Iterator[Side]:
    yield from side(celery.Celery, celery.canvas)


@pytest.fixture
def shim() -> Iterator[Side]:
    yield from side(celery_shim.Celery, celery_shim.canvas)


def value(v: Any) -> Any:
    if isinstance(v, BaseException):
        return (type(v).__name__, str(v))
    if isinstance(v, (list, tuple)):
        return [value(x) for x in v]
    return v


def observe(call: Callable[[], Any], whole_line: bool = True) -> tuple[Any, ...]:
    """What a caller sees: the raised exception, or the result's class, state, value and parents
    (only the result itself when not ``whole_line``)."""
    try:
        result = call()
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))
    if not hasattr(result, "parent"):
        return ("value", value(result))
    line = []
    node = result
    while node is not None:
        if type(node).__name__ == "GroupResult":
            line.append(("GroupResult", value(node.get(propagate=False))))
        else:
            line.append((type(node).__name__, node.state, value(node.result)))
        node = node.parent if whole_line else None
    return ("result", line)


def seen_by(s: Side, outcome_ids: set[str]) -> list[tuple[Any, ...]]:
    """Callback records, with task ids replaced by whether they name the scenario's own results."""
    out = []
    for item in s.seen.items():
        out.append(tuple(("<an id of the canvas>" if isinstance(x, str) and x in outcome_ids else x) for x in item))
    return out


def ids_of(result: Any) -> set[str]:
    ids: set[str] = set()
    stack = [result]
    while stack:
        node = stack.pop()
        if node is None or not hasattr(node, "id"):
            continue
        ids.add(str(node.id))
        stack.extend(getattr(node, "results", None) or [])
        stack.append(getattr(node, "parent", None))
    return ids


Scenario = Callable[[Side], Any]

# Celery's eager chain sets each step's ``parent`` to the step before it, so when a step is a chord
# whose body is itself a chain, the body's own earlier results drop out of the line; the shim keeps
# them (as a published chain has them). The results themselves are compared.
RESULT_ONLY = {"task | group | task"}

SCENARIOS: dict[str, Scenario] = {
    "chain of 3": lambda s: (s.t.add.s(1, 2) | s.t.mul.s(10) | s.t.add.s(5)).delay(),
    "chain with an immutable step": lambda s: s.canvas.chain(s.t.add.s(1, 2), s.t.add.si(10, 10), s.t.mul.s(2))(),
    "chain with partial args": lambda s: s.canvas.chain(s.t.add.s(1), s.t.mul.s(3)).apply_async((4,)),
    "chain with kwargs": lambda s: s.canvas.chain(s.t.add.s(y=1), s.t.add.s(2)).apply_async(kwargs={"x": 5}),
    "nested chain": lambda s: s.canvas.chain(s.t.add.s(1, 1), s.canvas.chain(s.t.add.s(2), s.t.add.s(3))).delay(),
    "chain failing mid-way": lambda s: (s.t.add.s(1, 2) | s.t.boom.s() | s.t.add.s(1)).delay(),
    "chain failing last": lambda s: (s.t.add.s(1, 2) | s.t.boom.s()).delay(),
    "chain apply": lambda s: (s.t.add.s(1, 2) | s.t.mul.s(3)).apply(),
    "group": lambda s: s.canvas.group(s.t.add.s(i, i) for i in range(4)).apply_async(),
    "group with partial args": lambda s: s.canvas.group(s.t.add.s(1), s.t.add.s(2)).apply_async((5,)),
    "group with a failure": lambda s: s.canvas.group(s.t.add.s(1, 1), s.t.boom.s(2)).apply_async(),
    "group get raises": lambda s: s.canvas.group(s.t.add.s(1, 1), s.t.boom.s(2)).apply_async().get(),
    "empty group": lambda s: len(s.canvas.group([]).apply_async().results),
    "chord": lambda s: s.canvas.chord([s.t.add.s(i, i) for i in range(5)])(s.t.collect.s()),
    "chord(header, body)": lambda s: s.canvas.chord([s.t.add.s(i, i) for i in range(5)], s.t.tsum.s()).delay(),
    "chord with partial args": lambda s: s.canvas.chord([s.t.add.s(1), s.t.add.s(2)], s.t.tsum.s()).apply_async((5,)),
    "chord with an immutable body": lambda s: s.canvas.chord([s.t.add.s(1, 1)], s.t.add.si(3, 3)).delay(),
    "chord with a body kwarg": lambda s: s.canvas.chord([s.t.add.s(1, 1)], s.t.collect.s(label="L")).delay(),
    "chord failing header": lambda s: s.canvas.chord([s.t.add.s(1, 1), s.t.boom.s(2)], s.t.tsum.s()).delay(),
    "empty chord": lambda s: s.canvas.chord([], s.t.tsum.s()).delay(),
    "chord of chains": lambda s: s.canvas.chord([s.t.add.s(1, 1) | s.t.mul.s(10), s.t.add.s(2, 2)], s.t.tsum.s())(),
    "group | task": lambda s: (s.canvas.group(s.t.add.s(1, 1), s.t.add.s(2, 2)) | s.t.tsum.s()).delay(),
    "task | group": lambda s: (s.t.add.s(1, 1) | s.canvas.group(s.t.mul.s(2), s.t.mul.s(3))).delay(),
    "task | group | task": lambda s: (
        s.t.add.s(1, 1) | s.canvas.group(s.t.mul.s(2), s.t.mul.s(3)) | s.t.tsum.s() | s.t.mul.s(10)
    ).delay(),
    "chord | task": lambda s: (s.canvas.chord([s.t.add.s(1, 1)], s.t.tsum.s()) | s.t.mul.s(7)).delay(),
    "link": lambda s: s.t.add.apply_async((2, 3), link=s.t.record.s("x")),
    "two links": lambda s: s.t.add.apply_async((2, 3), link=[s.t.record.s(), s.t.record.si(7)]),
    "link method": lambda s: s.t.add.s(1, 1).set(link=[s.t.record.s("via set")]).delay(),
    "link_error (request, exc, traceback)": lambda s: s.t.boom.apply_async((1,), link_error=s.t.on_err.s()),
    "link_error with the task id": lambda s: s.t.boom.apply_async((1,), link_error=s.t.on_err_id.s()),
    "on_error": lambda s: s.t.boom.s(4).on_error(s.t.on_err.s()).delay(),
    "no errback on success": lambda s: s.t.add.apply_async((1, 1), link_error=s.t.on_err.s()),
    "chain link_error": lambda s: _chain_with_errback(s),
    "apply with link_error": lambda s: s.t.boom.apply((3,), link_error=s.t.on_err.s()),
    "signature delay": lambda s: s.canvas.signature("canvas.add", args=(2,), app=s.app).delay(3),
    "clone partial": lambda s: s.t.add.s(1).clone((2,)).delay(),
    "immutable clone": lambda s: s.t.add.si(1, 1).clone((5,)).delay(),
    "JSON round trip": lambda s: s.canvas.Signature.from_dict(
        json.loads(json.dumps(s.canvas.chord([s.t.add.s(1), s.t.add.s(2) | s.t.mul.s(3)], s.t.tsum.s()))),
        app=s.app,
    ).apply_async((4,)),
}


def _chain_with_errback(s: Side) -> Any:
    workflow = s.canvas.chain(s.t.add.s(1, 2), s.t.boom.s())
    workflow.link_error(s.t.on_err.s())
    return workflow.apply_async()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_outcome_as_celery(name: str, real: Side, shim: Side) -> None:
    scenario = SCENARIOS[name]
    outcomes = []
    for s in (real, shim):
        holder: dict[str, Any] = {}

        def call(s: Side = s, holder: dict[str, Any] = holder) -> Any:
            holder["result"] = scenario(s)
            return holder["result"]

        observed = observe(call, whole_line=name not in RESULT_ONLY)
        outcomes.append((observed, seen_by(s, ids_of(holder.get("result")))))
    assert outcomes[1] == outcomes[0]


LAYOUTS: dict[str, Scenario] = {
    "partial": lambda s: s.t.add.s(2),
    "immutable with options": lambda s: s.t.add.si(1, 2).set(countdown=3),
    "by name": lambda s: s.canvas.signature("canvas.add", args=(1,), kwargs={"y": 2}, countdown=5),
    "link and link_error": lambda s: _linked(s),
    "chain": lambda s: s.t.add.s(1, 2) | s.t.mul.s(3) | s.t.add.si(4, 5),
    "group": lambda s: s.canvas.group(s.t.add.s(1, 1), s.t.add.s(2, 2)),
    "chord": lambda s: s.canvas.chord([s.t.add.s(1, 1), s.t.add.s(2, 2)], s.t.tsum.s()),
}


def _linked(s: Side) -> Any:
    sig = s.t.add.s(1)
    sig.link(s.t.record.s())
    sig.link_error(s.t.on_err.s())
    return sig


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_signature_json_is_celerys(name: str, real: Side, shim: Side) -> None:
    ours = json.loads(json.dumps(LAYOUTS[name](shim)))
    theirs = json.loads(json.dumps(LAYOUTS[name](real)))
    if name == "chord":
        theirs["kwargs"].setdefault("kwargs", {})
    assert ours == theirs
    back = celery_shim.canvas.Signature.from_dict(ours, app=shim.app)
    assert type(back).__name__.lstrip("_") == type(LAYOUTS[name](real)).__name__.lstrip("_")
    assert json.loads(json.dumps(back)) == ours
