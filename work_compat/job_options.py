"""Per-job-name settings of a worker pool (gocraft ``JobOptions``) and the registered job types."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from .backoff import BackoffCalculator
from .errors import ConfigurationError
from .keys import validate_job_name
from .middleware import Handler

__all__ = ["DEFAULT_MAX_FAILS", "MAX_PRIORITY", "JobOptions", "JobType"]

MAX_PRIORITY = 100_000
DEFAULT_MAX_FAILS = 4


@dataclass(frozen=True)
class JobOptions:
    """How a pool runs one job name.

    ``priority`` 1..100000 weighs the name in each fetch; ``max_fails`` counts total failed runs
    before the job is dead (0 means Go's default, 4); ``skip_dead`` discards instead of burying;
    ``max_concurrency`` caps in-flight jobs over every pool (0: none); ``backoff`` computes the
    retry delay; ``time_limit`` (seconds, process pools only) kills a handler that overruns.
    """

    priority: int = 1
    max_fails: int = DEFAULT_MAX_FAILS
    skip_dead: bool = False
    max_concurrency: int = 0
    backoff: BackoffCalculator | None = None
    time_limit: float | None = None

    def __post_init__(self) -> None:
        if self.priority == 0:
            object.__setattr__(self, "priority", 1)  # Go turns 0 into 1
        if not 1 <= self.priority <= MAX_PRIORITY:
            raise ConfigurationError(f"priority must be 1..{MAX_PRIORITY}, got {self.priority}")
        if self.max_fails == 0:
            object.__setattr__(self, "max_fails", DEFAULT_MAX_FAILS)
        if self.max_fails < 0:
            raise ConfigurationError(f"max_fails must be 1 or more (0 means {DEFAULT_MAX_FAILS}), got {self.max_fails}")
        if self.max_concurrency < 0:
            raise ConfigurationError(f"max_concurrency must be 0 (no cap) or more, got {self.max_concurrency}")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ConfigurationError(f"time_limit must be positive seconds, got {self.time_limit}")


@dataclass(frozen=True)
class JobType:
    """A registered job name with its handler and options."""

    name: str
    handler: Handler
    options: JobOptions = field(default_factory=JobOptions)
    is_async: bool = False

    @classmethod
    def make(cls, name: str, handler: Handler, options: JobOptions) -> JobType:
        validate_job_name(name)
        if not callable(handler):
            raise ConfigurationError(f"the handler of {name!r} is not callable: {handler!r}")
        return cls(name, handler, options, inspect.iscoroutinefunction(handler))
