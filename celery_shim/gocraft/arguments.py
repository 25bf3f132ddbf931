"""A Celery call ``(args, kwargs)`` <-> a gocraft args object (spec D1), and value encoding (D2).

gocraft jobs carry one JSON object of named args, which Go handlers read by key
(``job.ArgString("address")``). So a call is bound to the task function's signature and every
bound parameter becomes a key; positional overflow into ``*args`` goes under the reserved key
``"*args"`` (no Python parameter can have that name) and extra ``**kwargs`` keys go in as-is.
Defaults are not written. A Go-enqueued ``{"address": "x"}`` maps back to ``f(address="x")``.
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ..exceptions import EncodeError

__all__ = [
    "VAR_ARGS_KEY",
    "SignatureShape",
    "bind_call",
    "bind_call_fast",
    "call_from_args",
    "call_from_args_fast",
    "encode_args",
    "restore_typed",
    "typed_values",
    "unbound_args",
]

VAR_ARGS_KEY = "*args"

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def bind_call(signature: inspect.Signature, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The args object for calling ``signature`` with ``args``/``kwargs``; TypeError if it can't bind."""
    bound = signature.bind(*args, **kwargs)  # raises TypeError, as calling the function would
    out: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                out[VAR_ARGS_KEY] = list(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            for key, extra in value.items():
                if key == VAR_ARGS_KEY:
                    raise TypeError(f"{VAR_ARGS_KEY!r} is reserved for positional overflow; it cannot be a keyword")
                out[key] = extra
        else:
            out[name] = value
    return out


def unbound_args(args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The args object for a task with no local signature: positionals under ``"*args"``."""
    if VAR_ARGS_KEY in kwargs:
        raise TypeError(f"{VAR_ARGS_KEY!r} is reserved for positional overflow; it cannot be a keyword")
    out = dict(kwargs)
    if args:
        out[VAR_ARGS_KEY] = list(args)
    return out


def call_from_args(
    signature: inspect.Signature, job_args: Mapping[str, Any] | None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Rebuild ``(args, kwargs)`` from an args object, Go-written or ours.

    Leading positional parameters present in the object are passed positionally (as Celery's
    request shows them) until the first one that is absent; the rest go by keyword. Keys the
    signature does not know are passed by keyword too, so the call fails as it would in Python.
    ``"*args"`` for a function without ``*args`` are its leading positionals.
    """
    remaining = dict(job_args or {})
    overflow = remaining.pop(VAR_ARGS_KEY, None)
    if overflow and not any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values()):
        # Sent by a process without the task (send_task, a canvas step or beat entry by name): the
        # values are the leading positionals, as Celery's worker would pass them; Python binds them.
        return tuple(overflow if isinstance(overflow, list) else [overflow]), remaining
    positional: list[Any] = []
    kwargs: dict[str, Any] = {}
    contiguous = True
    for name, param in signature.parameters.items():
        if param.kind in _POSITIONAL:
            if name in remaining and contiguous:
                positional.append(remaining.pop(name))
            elif overflow and param.default is not inspect.Parameter.empty and contiguous:
                positional.append(param.default)  # a gap before *args can only be filled positionally
            else:
                contiguous = False
                if param.kind is inspect.Parameter.POSITIONAL_ONLY and name in remaining:
                    raise TypeError(f"positional-only argument {name!r} follows a missing one")
        elif param.kind is inspect.Parameter.VAR_POSITIONAL:
            if overflow:
                if not contiguous:
                    raise TypeError(f"{VAR_ARGS_KEY!r} given but a positional parameter before it is missing")
                positional.extend(overflow if isinstance(overflow, list) else [overflow])
                overflow = None
    if overflow:
        raise TypeError(f"the function takes no *args, but the job has {VAR_ARGS_KEY!r}")
    kwargs.update(remaining)
    return tuple(positional), kwargs


def encode_args(job_args: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready copy of an args object (D2): datetimes, dates and times as ISO-8601 strings,
    Decimal and UUID as strings, tuples as lists. Anything else non-JSON raises EncodeError naming
    the argument, before anything is written."""
    return {name: _encode(value, name, name) for name, value in job_args.items()}


def _encode(value: Any, argument: str, path: str) -> Any:
    if value is None or type(value) in (str, bool, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EncodeError(argument, value, f"{path} is {value!r}, which JSON cannot carry")
        return float(value)
    if isinstance(value, (str, bool, int)):  # subclasses (IntEnum, str Enum): their plain value
        for base in (bool, int, str):
            if isinstance(value, base):
                return base(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise EncodeError(argument, value, f"{path} has a {type(key).__name__} key {key!r}; JSON keys are str")
            out[key] = _encode(item, argument, f"{path}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_encode(item, argument, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (bytes, bytearray)):
        raise EncodeError(argument, value, f"{path} is bytes; send text or base64 (Go reads JSON strings)")
    raise EncodeError(argument, value, f"{path} is a {type(value).__name__}, which JSON cannot carry")


# -- types D2 turns into strings -------------------------------------------------------------------
# Go handlers read datetimes, dates, times, Decimals and UUIDs as the strings D2 writes, so the args
# stay plain JSON. Celery's JSON (kombu's) gives a Python task those values back typed; the paths and
# types of such values go in the job's "celery" metadata (never in its args), and Python workers
# restore them before the call.
_TYPED: tuple[tuple[type, str], ...] = (
    (dt.datetime, "datetime"),  # before date: a datetime is a date too
    (dt.date, "date"),
    (dt.time, "time"),
    (Decimal, "decimal"),
    (uuid.UUID, "uuid"),
)
_PLAIN = (str, int, bool, float, type(None))
_PARSE: dict[str, Any] = {
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "decimal": Decimal,
    "uuid": uuid.UUID,
}


def typed_values(job_args: Mapping[str, Any]) -> list[list[Any]]:
    """``[[path, type], ...]`` for the values of an args object (before D2) that D2 writes as strings;
    a path is the keys and list indexes from the args object down to the value."""
    found: list[list[Any]] = []

    def walk(value: Any, path: list[Any]) -> None:
        if type(value) in _PLAIN:
            return
        for cls, name in _TYPED:
            if isinstance(value, cls):
                found.append([path, name])
                return
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, [*path, key])
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(item, [*path, i])

    for name, value in job_args.items():
        walk(value, [name])
    return found


def restore_typed(args_obj: dict[str, Any], types: Any) -> dict[str, Any]:
    """``args_obj`` with the values ``types`` (``typed_values``' list) names parsed back into their
    types; a path that is gone or a string that no longer parses (a Go producer rewrote it) stays."""
    if not isinstance(types, list):
        return args_obj
    for entry in types:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], list) and entry[0]):
            continue
        path, name = entry
        parse = _PARSE.get(name)
        holder: Any = args_obj
        for step in path[:-1]:
            holder = _child(holder, step)
        last = path[-1]
        value = _child(holder, last)
        if parse is None or not isinstance(value, str):
            continue
        try:
            holder[last] = parse(value)
        except (ValueError, ArithmeticError, TypeError):
            continue
    return args_obj


def _child(holder: Any, step: Any) -> Any:
    if isinstance(holder, dict) and isinstance(step, str):
        return holder.get(step)
    if isinstance(holder, list) and isinstance(step, int) and -len(holder) <= step < len(holder):
        return holder[step]
    return None


# -- fast paths for plain signatures ----------------------------------------------------------------
# Most task functions take named parameters only (no *args, **kwargs or positional-only ones). For
# them a call can be bound, or an args object turned back into a call, with a few dict operations
# instead of inspect's general machinery. Anything these paths do not handle goes to the general
# functions above, which give the same results and raise the same TypeErrors.


class SignatureShape:
    """A signature's parameters, read once: the fast paths use them for every call."""

    __slots__ = ("name_set", "names", "positional", "required", "signature", "simple")

    def __init__(self, signature: inspect.Signature) -> None:
        params = list(signature.parameters.values())
        self.signature = signature
        self.simple = all(
            p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY) for p in params
        )
        self.names = tuple(p.name for p in params)
        self.name_set = frozenset(self.names)
        self.positional = tuple(p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)
        # (index among the positional parameters, or one past them for keyword-only; name) of each
        # parameter without a default
        self.required = tuple(
            (self.positional.index(p.name) if p.name in self.positional else len(self.positional), p.name)
            for p in params
            if p.default is inspect.Parameter.empty
        )


def bind_call_fast(shape: SignatureShape, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``bind_call(shape.signature, args, kwargs)``, the same dict in the same order, quicker."""
    npos = len(args)
    if not shape.simple or npos > len(shape.positional):
        return bind_call(shape.signature, args, kwargs)
    names = shape.positional
    out = dict(zip(names, args)) if npos else {}
    if kwargs:
        known = shape.name_set
        for key in kwargs:
            if key not in known or key in out:  # unknown, or given twice: the general path raises
                return bind_call(shape.signature, args, kwargs)
        for name in shape.names[npos:]:  # bound arguments come in parameter order
            if name in kwargs:
                out[name] = kwargs[name]
    for index, name in shape.required:
        if index >= npos and name not in out:
            return bind_call(shape.signature, args, kwargs)  # missing: the general path raises
    return out


def call_from_args_fast(
    shape: SignatureShape, job_args: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """``call_from_args`` for a plain signature when the call also binds, else None.

    ``job_args`` must be a dict of the caller's own: it is changed, and what is not passed
    positionally becomes the kwargs (after None, use the original args with the general path).
    """
    if not shape.simple or VAR_ARGS_KEY in job_args:
        return None
    positional: list[Any] = []
    for name in shape.positional:
        if name not in job_args:
            break
        positional.append(job_args.pop(name))
    known = shape.name_set
    for key in job_args:
        if key not in known:
            return None
    npos = len(positional)
    for index, name in shape.required:
        if index >= npos and name not in job_args:
            return None
    return tuple(positional), job_args
