"""``@app.task(pydantic=True)``: arguments annotated with a pydantic model arrive as that model, and a
model returned is stored as its ``model_dump()`` (Celery 5.5's option, with ``pydantic_strict``,
``pydantic_context`` and ``pydantic_dump_kwargs``).

As in Celery, only a parameter annotated with a model class (or ``Model | None``) is validated;
other parameters, and models inside containers, are passed as they came. Validation failures are
pydantic's ValidationError, raised in the task (a FAILURE). pydantic is imported only here.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["validating"]


def _model_of(annotation: Any, base: type) -> type | None:
    """The model class an annotation names, directly or as ``Model | None``; else None."""
    if isinstance(annotation, type) and issubclass(annotation, base):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _model_of(members[0], base)
    return None


def validating(
    fun: Callable[..., Any],
    *,
    strict: bool = False,
    context: Mapping[str, Any] | None = None,
    dump_kwargs: Mapping[str, Any] | None = None,
) -> Callable[..., Any]:
    """``fun`` wrapped to validate model-annotated arguments and dump a returned model."""
    try:
        from pydantic import BaseModel
    except ImportError as err:
        raise ImportError(f"@task(pydantic=True) needs pydantic installed ({err}): pip install pydantic") from err
    hints = typing.get_type_hints(fun)
    models = {name: model for name, hint in hints.items() if name != "return" and (model := _model_of(hint, BaseModel))}
    signature = inspect.signature(fun)

    @functools.wraps(fun)
    def run(*args: Any, **kwargs: Any) -> Any:
        if models:
            bound = signature.bind_partial(*args, **kwargs)
            for name, model in models.items():
                value = bound.arguments.get(name)
                if name in bound.arguments and value is not None and not isinstance(value, model):
                    bound.arguments[name] = model.model_validate(value, strict=strict, context=context)  # type: ignore[attr-defined]
            args, kwargs = bound.args, bound.kwargs
        result = fun(*args, **kwargs)
        if isinstance(result, BaseModel):
            return result.model_dump(**dict(dump_kwargs or {}))
        return result

    return run
