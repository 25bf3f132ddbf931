"""The bytes of a stored result: kombu's JSON with its type tags, and Celery's exception dicts.

A result written here must be read by a stock Celery client on the same backend and the other
way round, so the value format is kombu's json serializer's: plain JSON plus objects
``{"__type__": "datetime", "__value__": "<iso>"}`` for datetime, date, time, Decimal, UUID and
bytes. An exception is stored as ``{"exc_type", "exc_message", "exc_module"}`` and rebuilt only
from modules already imported, and only as an exception class: a stored result must never be
able to name an arbitrary callable.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import sys
import uuid
from decimal import Decimal
from typing import Any

from .. import states

__all__ = ["decode_value", "dumps", "exception_from_dict", "exception_to_dict", "loads"]

_DYNAMIC: dict[tuple[str, str], type[BaseException]] = {}


def _tag(kind: str, value: Any) -> dict[str, Any]:
    return {"__type__": kind, "__value__": value}


def _default(o: Any) -> Any:
    """kombu's tags for the non-JSON types it knows; anything else is a TypeError, as in kombu."""
    as_json = getattr(o, "__json__", None)
    if as_json is not None:
        return as_json()
    if isinstance(o, dt.datetime):
        return _tag("datetime", o.isoformat())
    if isinstance(o, dt.date):
        return _tag("date", o.isoformat())
    if isinstance(o, dt.time):
        return _tag("time", o.isoformat())
    if isinstance(o, Decimal):
        return _tag("decimal", str(o))
    if isinstance(o, uuid.UUID):
        return _tag("uuid", {"hex": o.hex})
    if isinstance(o, (bytes, bytearray)):
        try:
            return _tag("bytes", bytes(o).decode("utf-8"))
        except UnicodeDecodeError:
            return _tag("base64", base64.b64encode(bytes(o)).decode("ascii"))
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """JSON as kombu writes it (default separators, tagged types)."""
    return json.dumps(value, default=_default)


def _untag(o: dict[str, Any]) -> Any:
    if o.keys() != {"__type__", "__value__"}:
        return o
    kind, value = o["__type__"], o["__value__"]
    try:
        if kind == "datetime":
            return dt.datetime.fromisoformat(value)
        if kind == "date":
            return dt.datetime.fromisoformat(value).date()
        if kind == "time":
            return dt.time.fromisoformat(value)
        if kind == "decimal":
            return Decimal(value)
        if kind == "uuid":
            return uuid.UUID(**value)
        if kind == "bytes":
            return str(value).encode("utf-8")
        if kind == "base64":
            return base64.b64decode(str(value).encode("ascii"))
    except (TypeError, ValueError, ArithmeticError):
        return o  # a malformed tag stays the dict it is rather than failing the whole read
    return o


def loads(data: bytes | str) -> Any:
    """Parse stored JSON, turning kombu's type tags back into values."""
    return json.loads(data, object_hook=_untag)


def decode_value(value: Any) -> Any:
    """Untag an already-parsed value (a result read as part of a larger document)."""
    if isinstance(value, dict):
        return _untag({k: decode_value(v) for k, v in value.items()})
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def _serializable(value: Any) -> Any:
    """An exception argument JSON can carry; anything else becomes its repr (as Celery does)."""
    try:
        dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def exception_to_dict(exc: BaseException) -> dict[str, Any]:
    """Celery's json form of an exception: type qualname, args, module."""
    cls = type(exc)
    return {
        "exc_type": getattr(cls, "__qualname__", cls.__name__),
        "exc_message": [_serializable(a) for a in exc.args],
        "exc_module": cls.__module__,
    }


def _stand_in(module: str, name: str) -> type[BaseException]:
    """An exception class named like one this process does not have (so ``repr`` reads right)."""
    key = (module, name)
    cls = _DYNAMIC.get(key)
    if cls is None:
        cls = type(name.rsplit(".", 1)[-1], (Exception,), {"__module__": module})
        _DYNAMIC[key] = cls
    return cls


def exception_from_dict(data: Any) -> BaseException | Any:
    """Rebuild an exception from Celery's dict; a value that is not such a dict is returned as is.

    The class is looked up only among modules already imported, and must be an exception class;
    otherwise a stand-in class of the same name is made (Celery does the same).
    """
    if isinstance(data, BaseException) or not isinstance(data, dict) or "exc_type" not in data:
        return data
    name = str(data["exc_type"])
    module = data.get("exc_module")
    message = data.get("exc_message", "")
    found: Any = sys.modules.get(str(module)) if module is not None else None
    if found is not None:
        for part in name.split("."):
            found = getattr(found, part, None)
            if found is None:
                break
    if isinstance(found, type) and issubclass(found, BaseException):
        cls: type[BaseException] = found
    else:
        cls = _stand_in(str(module or "celery_shim.exceptions"), name)
    try:
        if isinstance(message, (list, tuple)):
            return cls(*message)
        return cls(message)
    except Exception:  # a class whose __init__ wants other arguments
        return Exception(f"{cls.__name__}({message!r})")


def decode_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """A stored meta with its exception (for exception states) rebuilt as a Python exception."""
    if meta.get("status") in states.EXCEPTION_STATES:
        meta["result"] = exception_from_dict(meta.get("result"))
    return meta
