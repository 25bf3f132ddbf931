"""``celery.utils.time`` helpers that projects import directly.

Projects that wrap ``shared_task`` in their own retry decorator compute the countdown with
``get_exponential_backoff_interval``, the same curve the ``retry_backoff`` option uses here.
"""

from __future__ import annotations

import random

__all__ = ["get_exponential_backoff_interval"]


def get_exponential_backoff_interval(factor: int, retries: int, maximum: int, full_jitter: bool = False) -> int:
    """``min(maximum, factor * 2**retries)`` seconds, drawn uniformly from ``0..that`` with ``full_jitter``."""
    countdown: int = min(maximum, factor * 2 ** max(0, retries))
    if full_jitter:
        countdown = random.randrange(countdown + 1)
    return max(0, countdown)
