"""Retry delays, as pure functions (gocraft ``worker_pool.go`` calcBackoff, protocol §4.10).

A backoff gets the job after its failure was counted (``fails`` >= 1) and returns seconds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from .job import BackoffStrategy, Job

__all__ = [
    "FORK_DEFAULT_BASE_DELAY",
    "BackoffCalculator",
    "default_backoff",
    "exponential_backoff",
    "fixed_backoff",
    "job_backoff",
    "linear_backoff",
]

FORK_DEFAULT_BASE_DELAY = 60  # the fork's base delay when a job names a strategy but no base


class BackoffCalculator(Protocol):
    """Seconds to wait before the next attempt of a job that just failed."""

    def __call__(self, job: Job) -> int: ...


def default_backoff(job: Job, rand: Callable[[int], int] = random.randrange) -> int:
    """Go's default: fails**4 + 15 + R * (fails + 1) seconds, R uniform in 0..29."""
    f = job.fails
    return f**4 + 15 + rand(30) * (f + 1)


def exponential_backoff() -> BackoffCalculator:
    """The fork's ``ExponentialBackoff()``: the default formula."""
    return default_backoff


def linear_backoff(base: int) -> BackoffCalculator:
    """The fork's ``LinearBackoff(b)``: ``b * fails`` seconds."""

    def calc(job: Job) -> int:
        return base * job.fails

    return calc


def fixed_backoff(seconds: int) -> BackoffCalculator:
    """The fork's ``FixedBackoff(s)``: always ``s`` seconds."""

    def calc(job: Job) -> int:
        return seconds

    return calc


def job_backoff(job: Job, handler_backoff: BackoffCalculator | None, *, fork: bool) -> int:
    """The delay a pool applies (§4.10).

    With the fork's semantics a ``backoff_type`` in the job wins over the handler's backoff: linear
    is ``base * fails``, fixed is ``base``, anything else the default formula (never the handler's),
    with ``base`` from ``backoff_base`` (60 when absent or <= 0). Otherwise the handler's backoff,
    else the default.
    """
    if fork and job.backoff_type is not None:
        base = job.backoff_base if job.backoff_base is not None and job.backoff_base > 0 else FORK_DEFAULT_BASE_DELAY
        if job.backoff_type == BackoffStrategy.LINEAR:
            return base * job.fails
        if job.backoff_type == BackoffStrategy.FIXED:
            return base
        return default_backoff(job)
    if handler_backoff is not None:
        return int(handler_backoff(job))
    return default_backoff(job)
