"""A Celery task message as kombu's Redis transport stores it, read into one plain record.

The list item is a JSON envelope: ``body`` (base64), ``content-type``, ``content-encoding``,
``headers`` and ``properties``. Protocol 2 keeps the task's fields in ``headers`` and the body is
``[args, kwargs, embed]``; protocol 1 keeps them all in a body object (``task``, ``id``, ``args``,
``kwargs``, ``eta``, ``expires``, ``utc``, ``callbacks``, ...). kombu decodes the body (json with its
type tags, compression), so what Celery would have passed the task is what we get. kombu is an
optional dependency (``pip install 'work-compat[backlog]'``).
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import CeleryShimError

__all__ = ["PROTOCOL2_HEADERS", "CeleryMessage", "Unconvertible", "decode_message", "describe", "require_kombu"]

# Header names protocol 2 itself uses; any other header is the sender's own (``headers=`` in
# apply_async), kept as the job's Celery headers.
PROTOCOL2_HEADERS = frozenset(
    {
        "lang",
        "task",
        "id",
        "root_id",
        "parent_id",
        "group",
        "group_index",
        "meth",
        "shadow",
        "eta",
        "expires",
        "retries",
        "timelimit",
        "argsrepr",
        "kwargsrepr",
        "origin",
        "replaced_task_nesting",
        "ignore_result",
        "stamped_headers",
        "stamps",
        "compression",
    }
)
_CONTINUATIONS = ("callbacks", "errbacks", "chain", "chord")


class Unconvertible(CeleryShimError):
    """A message that cannot become a gocraft job; it stays in Celery's queue. ``str()`` says why."""


@dataclass
class CeleryMessage:
    """What a Celery worker would know about one queued task."""

    protocol: int
    task: str
    id: str
    args: list[Any]
    kwargs: dict[str, Any]
    eta: dt.datetime | None = None
    expires: dt.datetime | None = None
    retries: int = 0
    soft_time_limit: float | None = None
    time_limit: float | None = None
    root_id: str | None = None
    parent_id: str | None = None
    group_id: str | None = None
    group_index: int | None = None
    shadow: str | None = None
    origin: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    continuations: list[str] = field(default_factory=list)  # non-empty callbacks/errbacks/chain/chord


def require_kombu() -> None:
    """Raise ImportError with the install hint when kombu is missing."""
    try:
        import kombu  # noqa: F401
    except ImportError:
        raise ImportError(
            "import-backlog reads Celery's messages with kombu, which is not installed: "
            "pip install 'work-compat[backlog]' (or pip install 'kombu>=5.3')"
        ) from None


def _when(value: Any, utc: bool, what: str) -> dt.datetime | None:
    """An ISO-8601 eta/expires (or a datetime kombu decoded) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Unconvertible(f"{what} {value!r} is not an ISO-8601 time") from None
    else:
        raise Unconvertible(f"{what} {value!r} is not an ISO-8601 time")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc) if utc else when.astimezone()
    return when


def _limits(value: Any) -> tuple[float | None, float | None]:
    """``(soft, hard)`` from ``timelimit``, which Celery sends as ``[hard, soft]`` (the protocol
    document says ``(soft, hard)``, but Celery's publisher and worker both use hard first)."""
    if not value:
        return None, None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise Unconvertible(f"timelimit {value!r} is not [hard, soft]")
    hard, soft = value
    return (float(soft) if soft is not None else None, float(hard) if hard is not None else None)


def _body(envelope: Mapping[str, Any], headers: Mapping[str, Any]) -> Any:
    # kombu has no type hints: its modules are used as Any.
    serialization: Any = importlib.import_module("kombu.serialization")
    compression_mod: Any = importlib.import_module("kombu.compression")
    from kombu.exceptions import ContentDisallowed, DecodeError

    properties = envelope.get("properties") or {}
    raw: Any = envelope.get("body", "")
    if properties.get("body_encoding") == "base64":
        try:
            raw = base64.b64decode(raw, validate=True)
        except (ValueError, TypeError) as err:
            raise Unconvertible(f"body is not valid base64: {err}") from None
    compression = headers.get("compression")
    if compression:
        try:
            raw = compression_mod.decompress(raw, compression)
        except Exception as err:
            raise Unconvertible(f"cannot decompress the {compression} body: {err}") from None
    content_type = envelope.get("content-type") or "application/data"
    try:
        return serialization.loads(
            raw, content_type, envelope.get("content-encoding") or "utf-8", accept=["application/json"]
        )
    except ContentDisallowed:
        raise Unconvertible(
            f"content type {content_type!r} is not json; celery_shim's jobs are json only (task_serializer='json')"
        ) from None
    except (DecodeError, ValueError, UnicodeDecodeError) as err:
        raise Unconvertible(f"body does not decode as {content_type}: {err}") from None


def _continuations(source: Mapping[str, Any] | None) -> list[str]:
    if not isinstance(source, Mapping):
        return []
    return [name for name in _CONTINUATIONS if source.get(name)]


def _protocol2(headers: Mapping[str, Any], body: Any) -> CeleryMessage:
    if not (isinstance(body, (list, tuple)) and len(body) == 3):
        raise Unconvertible("protocol 2 body is not [args, kwargs, embed]")
    args, kwargs, embed = body
    soft, hard = _limits(headers.get("timelimit"))
    return CeleryMessage(
        protocol=2,
        task=str(headers["task"]),
        id=str(headers.get("id") or ""),
        args=_list(args),
        kwargs=_dict(kwargs),
        eta=_when(headers.get("eta"), True, "eta"),
        expires=_when(headers.get("expires"), True, "expires"),
        retries=int(headers.get("retries") or 0),
        soft_time_limit=soft,
        time_limit=hard,
        root_id=headers.get("root_id"),
        parent_id=headers.get("parent_id"),
        group_id=headers.get("group"),
        group_index=headers.get("group_index"),
        shadow=headers.get("shadow"),
        origin=headers.get("origin"),
        headers={k: v for k, v in headers.items() if k not in PROTOCOL2_HEADERS},
        continuations=_continuations(embed),
    )


def _protocol1(headers: Mapping[str, Any], body: Any) -> CeleryMessage:
    if not isinstance(body, Mapping) or "task" not in body:
        raise Unconvertible("body is neither protocol 2 ([args, kwargs, embed] with a 'task' header) nor protocol 1")
    utc = bool(body.get("utc", True))
    soft, hard = _limits(body.get("timelimit"))
    continuations = _continuations(body)
    if body.get("taskset") and "chord" not in continuations and body.get("chord"):
        continuations.append("chord")
    return CeleryMessage(
        protocol=1,
        task=str(body["task"]),
        id=str(body.get("id") or ""),
        args=_list(body.get("args")),
        kwargs=_dict(body.get("kwargs")),
        eta=_when(body.get("eta"), utc, "eta"),
        expires=_when(body.get("expires"), utc, "expires"),
        retries=int(body.get("retries") or 0),
        soft_time_limit=soft,
        time_limit=hard,
        group_id=body.get("group") or body.get("taskset"),
        group_index=body.get("group_index"),
        headers=dict(headers),
        continuations=continuations,
    )


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise Unconvertible(f"args is a {type(value).__name__}, not a list")
    return list(value)


def _dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise Unconvertible(f"kwargs is a {type(value).__name__}, not an object")
    return dict(value)


def decode_message(raw: bytes | str) -> CeleryMessage:
    """Read one list item of a Celery queue; Unconvertible says why when it is not a task message."""
    kombu_json: Any = importlib.import_module("kombu.utils.json")

    try:
        envelope = kombu_json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise Unconvertible(f"not a kombu message (invalid JSON: {err})") from None
    if not isinstance(envelope, Mapping) or "body" not in envelope:
        raise Unconvertible("not a kombu message (no JSON envelope with a body)")
    headers = envelope.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise Unconvertible("message headers are not an object")
    body = _body(envelope, headers)
    try:
        message = _protocol2(headers, body) if headers.get("task") else _protocol1(headers, body)
    except (TypeError, ValueError) as err:
        raise Unconvertible(f"malformed task message: {err}") from None
    if not message.id:
        raise Unconvertible("task message has no id")
    return message


def describe(raw: bytes | str) -> str:
    """A short text naming a message that could not be read, for the report."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        envelope = json.loads(text)
        headers = envelope.get("headers") or {}
        props = envelope.get("properties") or {}
        name = headers.get("task") or "?"
        ident = headers.get("id") or props.get("correlation_id") or "?"
        return f"{ident} {name}"
    except (ValueError, AttributeError):
        return text[:60] + ("..." if len(text) > 60 else "")
