"""The fast bind paths (arguments.bind_call_fast, call_from_args_fast) give exactly what the general
functions give: the same args object with its keys in the same order, the same call, the same
TypeError, for every shape of signature and call."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from celery_shim.gocraft.arguments import (
    VAR_ARGS_KEY,
    SignatureShape,
    bind_call,
    bind_call_fast,
    call_from_args,
    call_from_args_fast,
)


def plain(a: Any, b: Any, c: Any = 3) -> None: ...
def defaults_only(a: Any = 1, b: Any = 2) -> None: ...
def keyword_only(a: Any, *, k: Any, opt: Any = None) -> None: ...
def no_params() -> None: ...
def var_args(a: Any, *rest: Any) -> None: ...
def var_kwargs(a: Any, **extra: Any) -> None: ...
def positional_only(a: Any, /, b: Any) -> None: ...


FUNCTIONS: list[Callable[..., None]] = [
    plain, defaults_only, keyword_only, no_params, var_args, var_kwargs, positional_only,
]  # fmt: skip
ARGS: list[tuple[Any, ...]] = [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)]
KWARGS: list[dict[str, Any]] = [
    {}, {"a": 9}, {"b": 8}, {"c": 7, "b": 8}, {"k": 5}, {"k": 5, "opt": 6}, {"z": 0}, {"b": 8, "a": 9}, {"rest": 1},
]  # fmt: skip
JOB_ARGS: list[dict[str, Any]] = [
    {}, {"a": 1}, {"b": 2}, {"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1, "c": 3}, {"a": 1, "b": 2, "c": 3},
    {"a": 1, "k": 5}, {"k": 5}, {"a": 1, "k": 5, "opt": 6, "z": 0}, {"z": 0}, {"a": 1, VAR_ARGS_KEY: [2, 3]},
    {VAR_ARGS_KEY: []}, {"c": 3, "a": 1, "b": 2},
]  # fmt: skip


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        value = fn()
    except TypeError as err:
        return "TypeError", str(err)
    return "ok", list(value.items()) if isinstance(value, dict) else value


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_bind_call_fast_is_bind_call(function: Callable[..., None]) -> None:
    signature = inspect.signature(function)
    shape = SignatureShape(signature)
    for args, kwargs in itertools.product(ARGS, KWARGS):
        general = outcome(lambda: bind_call(signature, args, kwargs))
        fast = outcome(lambda: bind_call_fast(shape, args, kwargs))
        assert fast == general, (function.__name__, args, kwargs)


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_call_from_args_fast_is_the_general_call_when_it_binds(function: Callable[..., None]) -> None:
    signature = inspect.signature(function)
    shape = SignatureShape(signature)
    for job_args in JOB_ARGS:
        fast = call_from_args_fast(shape, dict(job_args))
        try:
            call_args, call_kwargs = call_from_args(signature, job_args)
            signature.bind(*call_args, **call_kwargs)
            general: tuple[Any, ...] | None = (call_args, list(call_kwargs.items()))
        except TypeError:
            general = None
        if fast is None:
            # only a call that does not bind, or a shape the fast path leaves to the general one
            assert general is None or not shape.simple or VAR_ARGS_KEY in job_args, (function.__name__, job_args)
        else:
            assert (fast[0], list(fast[1].items())) == general, (function.__name__, job_args)


def test_the_fast_paths_take_plain_calls() -> None:
    shape = SignatureShape(inspect.signature(keyword_only))
    assert call_from_args_fast(shape, {"k": 5, "a": 1}) == ((1,), {"k": 5})
    assert list(bind_call_fast(shape, (1,), {"opt": 6, "k": 5}).items()) == [("a", 1), ("k", 5), ("opt", 6)]
