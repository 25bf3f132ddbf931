"""Prometheus metrics: Flower's names where their meaning holds, plus gauges of the gocraft sets.

Flower counts the events it receives while it runs; here the fork's history log plays the event
stream. ``HistoryMetrics`` reads the log incrementally from the dashboard's start, a bounded slice
per scrape, so ``flower_events_total`` (task-succeeded, task-failed, task-retried) and the
``flower_task_runtime_seconds`` histogram only grow, and a scrape never walks the whole log.
Completions land in the log with their pool's clock, which may lag another pool's by a little:
each scrape re-reads the last ``LAG_SECONDS`` and skips the entries it already counted.

The text is written here (the exposition format is a few lines of rules) rather than through
prometheus_client, whose registry is module state, where two dashboards in one process must
not share counters.

History records neither the pool nor a start time: ``worker`` is "" on the history-based
metrics, and the runtime observed is completion minus the job's ``t`` (the last time it was put on
its queue), in whole seconds; it includes queue wait. The prefetch metrics are always 0: gocraft
workers fetch one job at a time.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from work_compat import DecodeError, HistoryJob, HistoryStatus, Queue, WorkerObservation, WorkerPoolHeartbeat

from .workerview import is_online

__all__ = [
    "CONTENT_TYPE",
    "LAG_SECONDS",
    "MAX_PER_SCRAPE",
    "RUNTIME_BUCKETS",
    "Exposition",
    "Gauges",
    "HistoryMetrics",
    "HistorySource",
    "render",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LAG_SECONDS = 5
MAX_PER_SCRAPE = 50_000  # history entries read per scrape; beyond that the counters catch up later
_CHUNK = 5000
# Whole seconds (history has 1 s resolution), from a quick job to an hour.
RUNTIME_BUCKETS: tuple[float, ...] = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
_EVENT_TYPES = {
    HistoryStatus.SUCCESS: "task-succeeded",
    HistoryStatus.DEAD: "task-failed",
    HistoryStatus.RETRY: "task-retried",
}


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(RUNTIME_BUCKETS))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(RUNTIME_BUCKETS):
            if value <= bound:
                self.buckets[i] += 1
        self.total += value
        self.count += 1


class HistorySource(Protocol):
    """The two reads HistoryMetrics needs (TaskStore has them)."""

    def history_counts(self, scores: Sequence[int]) -> list[int]:
        """How many history entries completed in each of these seconds."""
        ...

    def history_between(self, low: str, high: str, offset: int, count: int) -> list[tuple[bytes, float]]:
        """Entries with ``low <= score <= high`` (Redis score syntax), oldest first, a slice."""
        ...


class HistoryMetrics:
    """Counters built from history entries completed at or after ``start`` (the dashboard's start),
    reading at most ``max_per_scrape`` entries per ``advance``.

    Entries share a score when they complete in the same second, and one can land in a second
    already read (another pool's clock): per second of the last LAG_SECONDS it remembers how many
    entries it counted and which, asks Redis for the counts, and re-reads only a second whose count
    grew. A second with more entries than ``max_per_scrape`` is read on across scrapes, where an
    entry landing late inside it can be missed.
    """

    def __init__(self, start: int, max_per_scrape: int = MAX_PER_SCRAPE) -> None:
        self.start = start
        self.max_per_scrape = max_per_scrape
        self.cursor = start - 1  # the newest second read (the seconds before it: fully, bar late entries)
        self.events: dict[tuple[str, str], int] = defaultdict(int)  # (type, task) -> count
        self.runtimes: dict[str, _Histogram] = defaultdict(_Histogram)  # task -> histogram
        self._seen: dict[int, set[int]] = defaultdict(set)  # second -> hashes of the members counted
        self._lock = threading.Lock()

    def advance(self, source: HistorySource) -> int:
        """Count the entries added since the last call; returns how many were new."""
        with self._lock:
            budget = self.max_per_scrape
            new = 0
            recent = [s for s in range(max(self.start, self.cursor - LAG_SECONDS), self.cursor + 1)]
            counts = source.history_counts(recent) if recent else []
            for second, n in zip(recent, counts):
                seen = len(self._seen[second])
                if n > seen and budget > 0:
                    # re-read the whole second when the budget allows; else go on after what was
                    # read (a busy second cut by the budget last time), so it cannot stall
                    start = 0 if n <= budget else seen
                    got, used, _ = self._read(source, str(second), str(second), budget, start)
                    new += got
                    budget -= used - start
            if budget > 0:
                got, _, last = self._read(source, f"({self.cursor}", "+inf", budget)
                new += got
                if last is not None:  # a second cut by the budget is "recent" next time and read on
                    self.cursor = last
            for second in [s for s in self._seen if s < self.cursor - LAG_SECONDS]:
                del self._seen[second]
            return new

    def _read(
        self, source: HistorySource, low: str, high: str, budget: int, start: int = 0
    ) -> tuple[int, int, int | None]:
        """Count the unseen entries in [low, high] from ``start``: (new, end offset, newest second)."""
        offset = start
        new = 0
        last: int | None = None
        while offset - start < budget:
            want = min(_CHUNK, budget - (offset - start))
            batch = source.history_between(low, high, offset, want)
            offset += len(batch)
            for raw, score in batch:
                second = int(score)
                last = second
                key = hash(raw)
                if second < self.start or key in self._seen[second]:
                    continue
                self._seen[second].add(key)
                new += self._count(raw)
            if len(batch) < want:
                break
        return new, offset, last

    def _count(self, raw: bytes) -> int:
        try:
            entry = HistoryJob.from_json(raw)
        except DecodeError:
            return 0
        kind = _EVENT_TYPES.get(entry.status)
        if kind is None:
            return 0
        name = entry.job.name
        self.events[(kind, name)] += 1
        if entry.status == HistoryStatus.SUCCESS and entry.job.enqueued_at:
            self.runtimes[name].observe(float(max(0, entry.completed_at - entry.job.enqueued_at)))
        return 1

    def snapshot(self) -> tuple[dict[tuple[str, str], int], dict[str, _Histogram]]:
        with self._lock:
            hist = {k: _Histogram(list(v.buckets), v.total, v.count) for k, v in self.runtimes.items()}
            return dict(self.events), hist


@dataclass(frozen=True)
class Gauges:
    """What one scrape read from Redis, besides the history."""

    now: int
    pools: list[WorkerPoolHeartbeat]
    observations: list[WorkerObservation]
    queues: list[Queue]
    paused: dict[str, bool]
    scheduled: int
    retry: int
    dead: int


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int) or (math.isfinite(value) and float(value).is_integer()):
        return str(int(value))
    return repr(float(value))


class Exposition:
    """Prometheus's text format, version 0.0.4: HELP and TYPE once per family, then samples."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, labels: Iterable[tuple[str, str]], value: float) -> None:
        pairs = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
        self._lines.append(f"{name}{{{pairs}}} {_number(value)}" if pairs else f"{name} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def render(history: HistoryMetrics, g: Gauges) -> str:
    """The whole /metrics body."""
    out = Exposition()
    events, runtimes = history.snapshot()
    out.family("flower_events_total", "counter", "Task events since the dashboard started, from the history log.")
    for (kind, task), n in sorted(events.items()):
        out.sample("flower_events_total", [("worker", ""), ("type", kind), ("task", task)], n)
    out.family(
        "flower_task_runtime_seconds", "histogram", "Enqueue-to-completion seconds of succeeded tasks (history)."
    )
    for task, h in sorted(runtimes.items()):
        labels = [("worker", ""), ("task", task)]
        for bound, n in zip(RUNTIME_BUCKETS, h.buckets):
            out.sample("flower_task_runtime_seconds_bucket", [*labels, ("le", _number(float(bound)))], n)
        out.sample("flower_task_runtime_seconds_bucket", [*labels, ("le", "+Inf")], h.count)
        out.sample("flower_task_runtime_seconds_sum", labels, h.total)
        out.sample("flower_task_runtime_seconds_count", labels, h.count)
    _workers(out, g)
    _queues(out, g)
    return out.text()


def _workers(out: Exposition, g: Gauges) -> None:
    owner = {w: p.worker_pool_id for p in g.pools for w in (p.worker_ids or [])}
    busy: dict[str, int] = defaultdict(int)
    for o in g.observations:
        if o.is_busy:
            busy[owner.get(o.worker_id, "")] += 1
    online = [p for p in g.pools if is_online(p, g.now)]
    for name, help_text in (
        ("flower_task_prefetch_time_seconds", "Always 0: gocraft workers do not prefetch."),
        ("flower_worker_prefetched_tasks", "Always 0: gocraft workers do not prefetch."),
    ):
        out.family(name, "gauge", help_text)
        for p in online:
            for task in p.job_names or []:
                out.sample(name, [("worker", p.worker_pool_id), ("task", task)], 0)
    out.family("flower_worker_online", "gauge", "1 while the pool's heartbeat is under 10 s old.")
    for p in g.pools:
        out.sample("flower_worker_online", [("worker", p.worker_pool_id)], 1 if is_online(p, g.now) else 0)
    out.family("flower_worker_number_of_currently_executing_tasks", "gauge", "Busy workers of the pool (observations).")
    for p in g.pools:
        out.sample(
            "flower_worker_number_of_currently_executing_tasks", [("worker", p.worker_pool_id)], busy[p.worker_pool_id]
        )
    out.family("work_busy_workers", "gauge", "Workers running a job now, over all pools.")
    out.sample("work_busy_workers", [], sum(busy.values()))
    out.family("work_worker_pools", "gauge", "Pools in worker_pools, and how many are online.")
    out.sample("work_worker_pools", [("online", "true")], len(online))
    out.sample("work_worker_pools", [("online", "false")], len(g.pools) - len(online))


def _queues(out: Exposition, g: Gauges) -> None:
    out.family("work_queue_length", "gauge", "Jobs waiting in the job name's queue.")
    for q in g.queues:
        out.sample("work_queue_length", [("job", q.job_name)], q.count)
    out.family("work_queue_latency_seconds", "gauge", "Age of the oldest waiting job of the name.")
    for q in g.queues:
        out.sample("work_queue_latency_seconds", [("job", q.job_name)], q.latency)
    out.family("work_job_paused", "gauge", "1 while the job name is paused.")
    for q in g.queues:
        out.sample("work_job_paused", [("job", q.job_name)], 1 if g.paused.get(q.job_name) else 0)
    for name, value, help_text in (
        ("work_scheduled_size", g.scheduled, "Jobs in the scheduled set."),
        ("work_retry_size", g.retry, "Jobs waiting to retry."),
        ("work_dead_size", g.dead, "Dead jobs."),
    ):
        out.family(name, "gauge", help_text)
        out.sample(name, [], value)
