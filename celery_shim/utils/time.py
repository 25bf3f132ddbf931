"""``celery.utils.time`` helpers that projects import directly.

Projects that wrap ``shared_task`` in their own retry decorator compute the countdown with
``get_exponential_backoff_interval``, the same curve the ``retry_backoff`` option uses here.
``parse_rate`` reads Celery's rate limits for ``app.control`` and the worker's token buckets.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["get_exponential_backoff_interval", "parse_rate"]

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
