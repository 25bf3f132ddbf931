"""The priority sampler: first-choice shares and batch quotas follow the priorities."""

from __future__ import annotations

import random
from collections import Counter

from work_compat.sampler import PrioritySampler


def test_each_name_comes_first_in_proportion_to_its_priority() -> None:
    sampler = PrioritySampler([("low", 1), ("mid", 3), ("high", 6)], random.Random(7))
    firsts = Counter(sampler.order()[0] for _ in range(20_000))
    assert abs(firsts["high"] / 20_000 - 0.6) < 0.02
    assert abs(firsts["mid"] / 20_000 - 0.3) < 0.02
    assert abs(firsts["low"] / 20_000 - 0.1) < 0.02


def test_a_batch_is_split_by_priority_not_handed_to_one_name() -> None:
    sampler = PrioritySampler([("low", 1), ("high", 9)], random.Random(11))
    # Given batches of 32, a low-priority first draw must not take the whole batch
    worst_high = min(dict(sampler.plan(32))["high"] for _ in range(500))
    assert worst_high >= 20
    totals: Counter[str] = Counter()
    for _ in range(500):
        totals.update(dict(sampler.plan(32)))
    assert abs(totals["high"] / (500 * 32) - 0.9) < 0.02


def test_a_one_job_plan_is_gos_fetch_and_the_filter_leaves_names_out() -> None:
    sampler = PrioritySampler([("a", 1), ("b", 1), ("c", 1)], random.Random(3))
    plan = sampler.plan(1)
    assert [q for _, q in plan] == [1, 0, 0]
    assert [n for n, _ in sampler.plan(8, lambda name: name != "b")] in (["a", "c"], ["c", "a"])
    assert sum(q for _, q in sampler.plan(8, lambda name: name != "b")) == 8
    assert sampler.plan(4, lambda name: False) == []
