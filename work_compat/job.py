"""The Job value and its JSON codec (gocraft ``job.go``, protocol §2).

``encode_job`` writes what Go's ``json.Marshal(job)`` writes, byte for byte. ``decode_job`` accepts
what Go's decoder accepts (case-insensitive keys, ``null`` for zero values) and what a Lua cjson
move leaves behind, and refuses what Go refuses: a job Go cannot decode is stranded by a Go worker
(protocol P5), so every producer here must only write jobs that decode.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from . import gojson
from .errors import ArgError, DecodeError

__all__ = [
    "BackoffStrategy",
    "DeadJob",
    "HistoryJob",
    "HistoryStatus",
    "Job",
    "RetryJob",
    "ScheduledJob",
    "decode_job",
    "encode_job",
    "make_identifier",
]

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
# ArgInt64 accepts a float only within this bound: 100 below 2**53 (protocol §2.5).
_ARG_INT64_FLOAT_BOUND = 9007199254740892


class BackoffStrategy(IntEnum):
    """The fork's per-job ``backoff_type``: 0 exponential (the default formula), 1 linear, 2 fixed."""

    EXPONENTIAL = 0
    LINEAR = 1
    FIXED = 2


def make_identifier() -> str:
    """A job, pool or worker id as Go makes them: 12 random bytes as 24 lowercase hex digits."""
    return os.urandom(12).hex()  # the OS CSPRNG, as Go's crypto/rand


@dataclass(slots=True, eq=True)
class Job:
    """One job, as the protocol stores it. Attribute names follow Go's field names.

    ``extra`` keeps top-level JSON fields this library does not know, in their order, and writes
    them back after the known ones (Go drops them when it re-serializes a job).
    """

    name: str
    id: str
    enqueued_at: int
    args: dict[str, Any] | None = None
    unique: bool = False
    unique_key: str = ""
    fails: int = 0
    last_err: str = ""
    failed_at: int = 0
    max_retries: int | None = None
    backoff_base: int | None = None
    backoff_type: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _arg_err: ArgError | None = field(default=None, repr=False, compare=False)
    _checkin: Callable[[str, str], None] | None = field(default=None, repr=False, compare=False)

    def checkin(self, message: str) -> None:
        """Report progress from a handler; the pool's observer shows it within about a second."""
        if self._checkin is not None:
            self._checkin(self.id, message)

    def to_json(self) -> str:
        """Go-JSON text of the job (see ``encode_job``)."""
        return encode_job(self)

    def to_bytes(self) -> bytes:
        return gojson.to_bytes(encode_job(self))

    # -- argument helpers, with Go's coercion rules and error texts (§2.5) ----------------------
    def arg_string(self, key: str) -> str:
        """The string arg ``key``, or "" with ``arg_error()`` set when it is missing or no str."""
        v = self._arg(key, "string")
        if v is _MISSING:
            return ""
        if type(v) is str:
            return v
        self._arg_err = _typecast_error("string", key, v)
        return ""

    def arg_int64(self, key: str) -> int:
        """The integer arg ``key``. Floats must be whole and within +-9007199254740892, as in Go."""
        v = self._arg(key, "int64")
        if v is _MISSING:
            return 0
        if type(v) is int and _INT64_MIN <= v <= _INT64_MAX:
            return v
        if type(v) is float and v.is_integer() and abs(v) <= _ARG_INT64_FLOAT_BOUND:
            return int(v)
        self._arg_err = _typecast_error("int64", key, v)
        return 0

    def arg_float64(self, key: str) -> float:
        """The numeric arg ``key`` as a float."""
        v = self._arg(key, "float64")
        if v is _MISSING:
            return 0.0
        if type(v) is float or type(v) is int:
            return float(v)
        self._arg_err = _typecast_error("float64", key, v)
        return 0.0

    def arg_bool(self, key: str) -> bool:
        """The boolean arg ``key``."""
        v = self._arg(key, "bool")
        if v is _MISSING:
            return False
        if type(v) is bool:
            return v
        self._arg_err = _typecast_error("bool", key, v)
        return False

    def arg_error(self) -> ArgError | None:
        """The last error an ``arg_*`` helper met, or None. The helpers never fail a job."""
        return self._arg_err

    def _arg(self, key: str, go_type: str) -> Any:
        if self.args is None or key not in self.args:
            self._arg_err = ArgError(f"looking for a {go_type} in job.Arg[{key}] but key wasn't found")
            return _MISSING
        return self.args[key]


_MISSING: Any = object()


def _typecast_error(go_type: str, key: str, v: Any) -> ArgError:
    return ArgError(
        f"looking for a {go_type} in job.Arg[{key}] but value wasn't right type: {_go_type_name(v)}({_go_value(v)})"
    )


def _go_type_name(v: Any) -> str:
    # Values here came out of a JSON decode, where Go holds every number as a float64.
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    return type(v).__name__


def _go_value(v: Any) -> str:
    """Go's ``%v`` of a decoded JSON value."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return gojson.format_float_v(float(v))
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_value(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(_go_value(x) for x in v) + "]"
    return str(v)


# -- codec ---------------------------------------------------------------------------------------

_enc_str = gojson.encode_string


def encode_job(job: Job) -> str:
    """Go-JSON of a job: Go's field order and omitempty rules; the fork's pointers when set."""
    head = ('{"name":' + _enc_str(job.name) + ',"id":') if job.name else '{"id":'
    text = (
        head
        + _enc_str(job.id)
        + ',"t":'
        + int.__repr__(job.enqueued_at)
        + ',"args":'
        + ("null" if job.args is None else gojson.encode_value(job.args))
    )
    if not (job.unique or job.unique_key or job.fails or job.last_err or job.failed_at or job.extra) and (
        job.max_retries is None and job.backoff_base is None and job.backoff_type is None
    ):
        return text + "}"  # a fresh job: the common case, kept short
    return text + _encode_tail(job) + "}"


def _encode_tail(job: Job) -> str:
    parts = [""]
    if job.unique:
        parts.append('"unique":true')
    if job.unique_key:
        parts.append('"unique_key":' + _enc_str(job.unique_key))
    if job.fails:
        parts.append('"fails":' + int.__repr__(job.fails))
    if job.last_err:
        parts.append('"err":' + _enc_str(job.last_err))
    if job.failed_at:
        parts.append('"failed_at":' + int.__repr__(job.failed_at))
    if job.max_retries is not None:
        parts.append('"max_retries":' + int.__repr__(int(job.max_retries)))
    if job.backoff_base is not None:
        parts.append('"backoff_base":' + int.__repr__(int(job.backoff_base)))
    if job.backoff_type is not None:
        parts.append('"backoff_type":' + int.__repr__(int(job.backoff_type)))
    for k, v in job.extra.items():
        parts.append(_enc_str(k) + ":" + gojson.encode_value(v, k))
    return ",".join(parts)


# JSON field -> (attribute, kind). Kinds mirror the Go field types.
_FIELDS: dict[str, tuple[str, str]] = {
    "name": ("name", "str"),
    "id": ("id", "str"),
    "t": ("enqueued_at", "int"),
    "args": ("args", "args"),
    "unique": ("unique", "bool"),
    "unique_key": ("unique_key", "str"),
    "fails": ("fails", "int"),
    "err": ("last_err", "str"),
    "failed_at": ("failed_at", "int"),
    "max_retries": ("max_retries", "ptrint"),
    "backoff_base": ("backoff_base", "ptrint"),
    "backoff_type": ("backoff_type", "ptrint"),
}
_FOLDED = {k.casefold(): k for k in _FIELDS}
_FRESH = {"name", "id", "t", "args"}
_ZERO: dict[str, Any] = {"str": "", "int": 0, "bool": False, "args": None, "ptrint": None}
_JSON_TYPE = {str: "string", bool: "bool", int: "number", float: "number", dict: "object", list: "array"}


def decode_job(data: bytes | str) -> Job:
    """Parse job bytes as Go's decoder would; DecodeError says what Go would have refused."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    try:
        obj = gojson.loads(data)
    except ValueError as err:
        raise DecodeError(raw, f"not JSON: {err}") from None
    if not isinstance(obj, dict):
        raise DecodeError(raw, f"a job is a JSON object, got {_json_type(obj)}")
    if obj.keys() == _FRESH:  # what every enqueuer writes for a new job: checked in one go
        name, job_id, t, args = obj["name"], obj["id"], obj["t"], obj["args"]
        if (
            type(name) is str
            and type(job_id) is str
            and type(t) is int
            and _INT64_MIN <= t <= _INT64_MAX
            and (type(args) is dict or args is None)
        ):
            return Job(name, job_id, t, args)
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in obj.items():
        field_name = key if key in _FIELDS else _FOLDED.get(key.casefold())
        if field_name is None:
            extra[key] = value
            continue
        attr, kind = _FIELDS[field_name]
        values[attr] = _check_field(raw, field_name, kind, value)
    job = Job(
        name=values.get("name", ""),
        id=values.get("id", ""),
        enqueued_at=values.get("enqueued_at", 0),
    )
    for attr, v in values.items():
        setattr(job, attr, v)
    job.extra = extra
    return job


def _json_type(v: Any) -> str:
    return "null" if v is None else _JSON_TYPE.get(type(v), type(v).__name__)


def _check_field(raw: bytes, name: str, kind: str, value: Any) -> Any:
    if value is None:
        return _ZERO[kind]
    t = type(value)
    if kind == "str" and t is str:
        return value
    if kind in ("int", "ptrint") and t is int and _INT64_MIN <= value <= _INT64_MAX:
        return value
    if kind == "bool" and t is bool:
        return value
    if kind == "args" and t is dict:
        return value
    want = {"str": "string", "int": "int64", "ptrint": "int64", "bool": "bool", "args": "object"}[kind]
    shown = gojson.format_float(value) if t is float else repr(value) if t is int else _json_type(value)
    raise DecodeError(raw, f"field {name!r} must be a JSON {want}, got {shown}")


# -- the listing shapes of the client and web UI (§2.8) -------------------------------------------


def _inline(first: str, job: Job) -> str:
    return "{" + first + "," + encode_job(job)[1:]


@dataclass(slots=True)
class ScheduledJob:
    """A job in ``scheduled`` with its run-at score (Go embeds the Job; here it is ``job``)."""

    run_at: int
    job: Job

    def to_json(self) -> str:
        return _inline('"run_at":' + str(self.run_at), self.job)


@dataclass(slots=True)
class RetryJob:
    """A job in ``retry`` with its retry-at score."""

    retry_at: int
    job: Job

    def to_json(self) -> str:
        return _inline('"retry_at":' + str(self.retry_at), self.job)


@dataclass(slots=True)
class DeadJob:
    """A job in ``dead`` with its died-at score."""

    died_at: int
    job: Job

    def to_json(self) -> str:
        return _inline('"died_at":' + str(self.died_at), self.job)


class HistoryStatus:
    """The fork's history statuses."""

    SUCCESS = "success"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(slots=True)
class HistoryJob:
    """One completed attempt in the fork's history: ``completed_at``, ``status``, the job."""

    completed_at: int
    status: str
    job: Job

    def to_json(self) -> str:
        return _inline('"completed_at":' + str(self.completed_at) + ',"status":' + _enc_str(self.status), self.job)

    @classmethod
    def from_json(cls, data: bytes | str) -> HistoryJob:
        """Parse a history document; its job fields are decoded with Go's rules."""
        job = decode_job(data)
        completed_at = job.extra.pop("completed_at", 0)
        status = job.extra.pop("status", "")
        raw = data if isinstance(data, bytes) else data.encode()
        if type(completed_at) is not int:
            raise DecodeError(raw, "field 'completed_at' must be a JSON int64")
        if not isinstance(status, str):
            raise DecodeError(raw, "field 'status' must be a JSON string")
        return cls(completed_at=completed_at, status=status, job=job)
