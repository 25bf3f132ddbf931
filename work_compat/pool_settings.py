"""Every cadence and policy of a worker pool, with Go's defaults (protocol §5.6, Appendix B).

Tests shorten the cadences; nothing else needs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .errors import ConfigurationError

__all__ = ["DEFAULT_SLEEP_BACKOFFS", "PoolSettings", "Semantics"]

DEFAULT_SLEEP_BACKOFFS = (0, 10, 100, 1000, 5000)  # ms after 1, 2, 3, 4+ empty fetches (index 0 unused)


class Semantics(str, Enum):
    """Whose retry/dead rules apply: the fork's (default) or the original gocraft/work's.

    FORK: a job's ``max_retries`` and ``backoff_type`` win over the handler's options; a job with
    no handler is retried (up to 4 runs). ORIG: handler options only; a job with no handler is dead.
    """

    FORK = "fork"
    ORIG = "orig"


@dataclass(frozen=True)
class PoolSettings:
    """Cadences (seconds unless named otherwise) and policies of a WorkerPool.

    ``fetch_batch``: the most jobs a worker fetches at once when jobs are quick. ``fold_window``:
    how long a worker's written-later completions and fetched-but-unstarted jobs may wait behind
    the job it runs before the pool writes them and hands those jobs back to their queues.
    ``bad_key_recheck``: how often a job name left out of fetching because one of its keys holds
    the wrong Redis type is checked again (and a completion Redis refused is sent again).
    """

    heartbeat_period: float = 5.0
    observer_period: float = 1.0
    requeue_period: float = 1.0
    requeue_batch: int = 100
    reaper_first_delay: float = 0.0  # Go waits dead_after; see reaper.Reaper for why not here
    reaper_period: float = 600.0
    reaper_jitter: float = 30.0
    dead_after: float = 10.0
    fetch_batch: int = 32
    fold_window: float = 0.002
    completion_batch: int = 256
    semantics: Semantics = Semantics.FORK
    history: bool = True
    history_retention: int = 15 * 24 * 3600
    stop_timeout: float = 30.0
    periodic_period: float = 120.0
    periodic_jitter: float = 30.0
    periodic_horizon: int = 240
    bad_key_recheck: float = 15.0

    def __post_init__(self) -> None:
        for name in ("heartbeat_period", "observer_period", "requeue_period", "dead_after", "reaper_period"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be positive")
        if self.fold_window <= 0 or self.bad_key_recheck <= 0:
            raise ConfigurationError("fold_window and bad_key_recheck must be positive")
        if self.fetch_batch < 1 or self.completion_batch < 1 or self.requeue_batch < 1:
            raise ConfigurationError("fetch_batch, completion_batch and requeue_batch must be 1 or more")
        if self.periodic_period <= 0 or self.periodic_jitter < 0:
            raise ConfigurationError("periodic_period must be positive and periodic_jitter not negative")
        if self.periodic_period + self.periodic_jitter >= self.periodic_horizon:
            # Each instant must fall within the horizon of some run, or it is never enqueued.
            raise ConfigurationError("periodic_period + periodic_jitter must be shorter than periodic_horizon")
        object.__setattr__(self, "semantics", Semantics(self.semantics))
