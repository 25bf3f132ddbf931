"""Priority sampler: the order in which a fetch tries the queues (gocraft ``priority_sampler.go``).

A name of priority p comes first with probability p / (sum of priorities): weighted sampling
without replacement, drawn anew for every fetch. Any weighted order interoperates with Go pools;
this one follows Go's.

A worker that fetches several jobs in one call asks each name for a quota: the first name in the
order gets one job, and every further job goes to a name drawn by weight, as that many one-job Go
fetches would. Taking the whole batch from the first name would keep the long-run shares but let
one unlucky draw fill a batch of 32 with the lowest priority.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

__all__ = ["PrioritySampler"]


class PrioritySampler:
    """Orders job names by weighted sampling; ``order()`` is called once per fetch."""

    def __init__(self, weights: Sequence[tuple[str, int]], rng: random.Random | None = None) -> None:
        self._items = list(weights)
        self._rng = rng or random.Random()

    def order(self) -> list[str]:
        items = self._items
        n = len(items)
        if n < 2:
            return [name for name, _ in items]
        total = sum(p for _, p in items)
        for k in range(n - 1):
            r = self._rng.randrange(total)
            acc = 0
            for j in range(n - 1, k - 1, -1):
                acc += items[j][1]
                if r < acc:
                    items[k], items[j] = items[j], items[k]
                    break
            total -= items[k][1]
        return [name for name, _ in items]

    def plan(self, want: int, keep: Callable[[str], bool] | None = None) -> list[tuple[str, int]]:
        """The sampled order of the names ``keep`` allows, each with its quota of ``want`` jobs."""
        order = self.order()
        if keep is not None:
            order = [name for name in order if keep(name)]
        if not order or want <= 0:
            return [(name, 0) for name in order]
        quota = dict.fromkeys(order, 0)
        quota[order[0]] = 1
        if want > 1 and len(order) > 1:
            weights = dict(self._items)
            for name in self._rng.choices(order, [weights[n] for n in order], k=want - 1):
                quota[name] += 1
        else:
            quota[order[0]] = want
        return [(name, quota[name]) for name in order]
