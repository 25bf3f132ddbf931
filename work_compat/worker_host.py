"""What worker loops share in one process: the fetch plan, the jobs held in memory, the gate.

A thread pool's ``WorkerPool`` is one host; in a process pool (``processes=True``) each child
process is a host of one worker, fetching and completing its own jobs on its own connection.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .keys import Keys
from .outage import RedisOutage
from .pool_settings import PoolSettings
from .sampler import PrioritySampler
from .worker import StepGate

if TYPE_CHECKING:
    from .fetch_guard import FetchGuard
    from .flusher import Flusher
    from .processor import JobProcessor
    from .worker import Worker

__all__ = ["WorkerHost"]


class WorkerHost:
    """State and helpers every ``Worker`` of a process reads through ``worker.pool``."""

    keys: Keys
    pool_id: str
    settings: PoolSettings
    sleep_backoffs: tuple[int, ...]
    outage: RedisOutage
    scripts: Any
    processor: JobProcessor
    flusher: Flusher
    fetch_guard: FetchGuard
    _sampler: PrioritySampler
    _fetch_filter: Callable[[str], bool] | None

    def _init_host(self) -> None:
        self.stopping = threading.Event()
        self.needs_repair = threading.Event()
        self.gate = StepGate()
        self.drain_round = 0
        self._held: Counter[bytes] = Counter()
        self._held_lock = threading.Lock()
        self.workers: list[Worker] = []

    def fetch_plan(self, want: int) -> tuple[list[str], list[int]]:
        """KEYS of a fetch (six per job name, in a freshly sampled priority order) and each name's quota.

        Only while the fetch guard leaves some name out is it asked about every name."""
        keys: list[str] = []
        quotas: list[int] = []
        keep = self._fetch_filter
        guard = self.fetch_guard
        if guard.active():  # a name with a key of the wrong type is left out until it is fixed
            user = keep
            keep = guard.keep if user is None else lambda name: guard.keep(name) and user(name)
        for name, quota in self._sampler.plan(want, keep):
            keys += guard.group_keys(name)
            quotas.append(quota)
        return keys, quotas

    # -- jobs held in memory (fetched and not yet completed), for the repair after a lost reply ---
    def held_add(self, values: Iterable[bytes]) -> None:
        with self._held_lock:
            for v in values:
                self._held[v] += 1

    def held_remove(self, values: Iterable[bytes]) -> None:
        with self._held_lock:
            for v in values:
                self._held[v] -= 1
                if self._held[v] <= 0:
                    del self._held[v]

    def held_now(self) -> Counter[bytes]:
        with self._held_lock:
            return Counter(self._held)

    def repair_in_progress(self) -> None:
        """Put back jobs in this pool's in-progress lists that no worker holds (after a lost reply)."""
        raise NotImplementedError

    def worker_drained(self) -> None:
        """A worker found nothing to fetch and holds nothing (see ``drain``)."""
        raise NotImplementedError
