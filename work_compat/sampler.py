"""Priority sampler: the order in which a fetch tries the queues (gocraft ``priority_sampler.go``).

A name of priority p comes first with probability p / (sum of priorities): weighted sampling
without replacement, drawn anew for every fetch. Any weighted order interoperates with Go pools;
this one follows Go's.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

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
