"""The values the Client returns, with the JSON shapes Go's client and workwebui emit (§2.8).

``to_json()`` on each writes Go's field order, so a Python service can answer with the same bytes
as the Go tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import gojson

__all__ = [
    "PeriodicSchedule",
    "Queue",
    "RedisStats",
    "WorkerObservation",
    "WorkerPoolHeartbeat",
]

_s = gojson.encode_string


def _obj(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f'"{k}":{v}' for k, v in pairs) + "}"


def _str_list(values: list[str] | None) -> str:
    return "null" if values is None else "[" + ",".join(_s(v) for v in values) + "]"


@dataclass(frozen=True)
class Queue:
    """One job name's queue: how many jobs wait and how old the oldest is (seconds)."""

    job_name: str
    count: int
    latency: int

    def to_json(self) -> str:
        return _obj([("job_name", _s(self.job_name)), ("count", str(self.count)), ("latency", str(self.latency))])


@dataclass(frozen=True)
class WorkerPoolHeartbeat:
    """A pool's heartbeat hash, parsed as Go parses it (names and ids split and sorted)."""

    worker_pool_id: str
    started_at: int = 0
    heartbeat_at: int = 0
    job_names: list[str] | None = None
    concurrency: int = 0
    host: str = ""
    pid: int = 0
    worker_ids: list[str] | None = None

    def to_json(self) -> str:
        return _obj(
            [
                ("worker_pool_id", _s(self.worker_pool_id)),
                ("started_at", str(self.started_at)),
                ("heartbeat_at", str(self.heartbeat_at)),
                ("job_names", _str_list(self.job_names)),
                ("concurrency", str(self.concurrency)),
                ("host", _s(self.host)),
                ("pid", str(self.pid)),
                ("worker_ids", _str_list(self.worker_ids)),
            ]
        )


@dataclass(frozen=True)
class WorkerObservation:
    """What one worker is doing; ``is_busy`` when its observation hash has any field."""

    worker_id: str
    is_busy: bool = False
    job_name: str = ""
    job_id: str = ""
    started_at: int = 0
    args_json: str = ""
    checkin: str = ""
    checkin_at: int = 0

    def to_json(self) -> str:
        return _obj(
            [
                ("worker_id", _s(self.worker_id)),
                ("is_busy", "true" if self.is_busy else "false"),
                ("job_name", _s(self.job_name)),
                ("job_id", _s(self.job_id)),
                ("started_at", str(self.started_at)),
                ("args_json", _s(self.args_json)),
                ("checkin", _s(self.checkin)),
                ("checkin_at", str(self.checkin_at)),
            ]
        )


@dataclass(frozen=True)
class RedisStats:
    """The fork's summary of ``INFO``."""

    version: str = ""
    uptime_seconds: int = 0
    connected_clients: int = 0
    used_memory: int = 0
    used_memory_human: str = ""
    used_memory_peak_human: str = ""
    total_commands_processed: int = 0
    instantaneous_ops_per_sec: int = 0
    keyspace_hits: int = 0
    keyspace_misses: int = 0
    db_keys: int = 0

    def to_json(self) -> str:
        pairs = []
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            pairs.append((name, _s(v) if isinstance(v, str) else str(v)))
        return _obj(pairs)


@dataclass
class PeriodicSchedule:
    """A runtime cron schedule of the fork, stored in ``periodic_schedules`` under ``name``."""

    name: str
    job_name: str
    spec: str
    args: dict[str, Any] | None = None
    enabled: bool = True
    created_at: int = 0
    updated_at: int = 0
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self) -> str:
        pairs = [("name", _s(self.name)), ("job_name", _s(self.job_name)), ("spec", _s(self.spec))]
        if self.args:  # omitempty: a nil or empty map is left out
            pairs.append(("args", gojson.encode_value(self.args)))
        pairs += [
            ("enabled", "true" if self.enabled else "false"),
            ("created_at", str(self.created_at)),
            ("updated_at", str(self.updated_at)),
        ]
        return _obj(pairs)

    @classmethod
    def from_json(cls, data: bytes | str) -> PeriodicSchedule:
        """Parse a stored schedule; ValueError when it is not one Go could decode."""
        obj = gojson.loads(data)
        if not isinstance(obj, dict):
            raise ValueError("a periodic schedule is a JSON object")
        want: dict[str, tuple[type, Any]] = {
            "name": (str, ""),
            "job_name": (str, ""),
            "spec": (str, ""),
            "args": (dict, None),
            "enabled": (bool, False),
            "created_at": (int, 0),
            "updated_at": (int, 0),
        }
        values: dict[str, Any] = {}
        folded = {k.casefold(): k for k in want}
        for key, value in obj.items():
            name = key if key in want else folded.get(key.casefold())
            if name is None:
                continue
            typ, zero = want[name]
            if value is None:
                values[name] = zero
            elif type(value) is not typ:
                raise ValueError(f"periodic schedule field {name!r} must be {typ.__name__}")
            elif isinstance(value, int) and not -(2**63) <= value < 2**63:
                raise ValueError(f"periodic schedule field {name!r} is beyond int64")
            else:
                values[name] = value
        return cls(
            name=values.get("name", ""),
            job_name=values.get("job_name", ""),
            spec=values.get("spec", ""),
            args=values.get("args"),
            enabled=values.get("enabled", False),
            created_at=values.get("created_at", 0),
            updated_at=values.get("updated_at", 0),
        )
