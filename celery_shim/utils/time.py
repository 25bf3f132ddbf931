"""``celery.utils.time`` helpers that projects import directly.

Projects that wrap ``shared_task`` in their own retry decorator compute the countdown with
``get_exponential_backoff_interval``, the same curve the ``retry_backoff`` option uses here.
``parse_rate`` reads Celery's rate limits for ``app.control`` and the worker's token buckets.
django-celery-beat and django-celery-results import ``maybe_make_aware`` and ``maybe_timedelta``.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["get_exponential_backoff_interval", "maybe_make_aware", "maybe_timedelta", "parse_rate", "rate"]

UTC = ZoneInfo("UTC")

_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def get_exponential_backoff_interval(factor: int, retries: int, maximum: int, full_jitter: bool = False) -> int:
    """``min(maximum, factor * 2**retries)`` seconds, drawn uniformly from ``0..that`` with ``full_jitter``."""
    countdown: int = min(maximum, factor * 2 ** max(0, retries))
    if full_jitter:
        countdown = random.randrange(countdown + 1)
    return max(0, countdown)


def parse_rate(rate: Any) -> float:
    """Tokens per second for a Celery rate: ``"10/s"``, ``"100/m"``, ``"2/h"``, or a bare number
    (per second). 0, None and ``""`` mean no limit (0.0). ValueError for anything else."""
    if rate is None or rate == "":
        return 0.0
    if isinstance(rate, bool):
        raise ValueError(f"invalid rate limit {rate!r}")
    if isinstance(rate, (int, float)):
        value = float(rate)
    elif isinstance(rate, str):
        count, _, unit = rate.strip().partition("/")
        per = _PER.get(unit.strip() or "s")
        if per is None:
            raise ValueError(f"invalid rate limit {rate!r}: the unit must be s, m or h")
        try:
            value = float(count) / per
        except ValueError:
            raise ValueError(f"invalid rate limit {rate!r}: {count!r} is not a number") from None
    else:
        raise ValueError(f"invalid rate limit {rate!r}")
    if value < 0:
        raise ValueError(f"invalid rate limit {rate!r}: negative")
    return value


def maybe_make_aware(value: dt.datetime, tz: dt.tzinfo | None = None, naive_as_utc: bool = True) -> dt.datetime:
    """An aware datetime, as Celery's: an aware one is returned as it is; a naive one is read as UTC
    and shown in ``tz`` (UTC when None), or with ``naive_as_utc=False`` taken as ``tz``'s wall time."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value
    zone = UTC if tz is None else tz
    if naive_as_utc:
        return value.replace(tzinfo=UTC).astimezone(zone)
    return value.replace(tzinfo=zone)


def maybe_timedelta(delta: Any) -> Any:
    """Seconds (int or float) as a timedelta; anything else unchanged (Celery's ``maybe_timedelta``)."""
    if isinstance(delta, (int, float)) and not isinstance(delta, bool):
        return dt.timedelta(seconds=delta)
    return delta


rate = parse_rate  # Celery's name: tokens per second of "100/m", "2/h", "0.5/s"
