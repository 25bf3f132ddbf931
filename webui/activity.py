"""Completed attempts per minute, read from the fork's history, for the overview's charts.

The history is a sorted set by ``completed_at``; the Client reads it newest first, 20 a page, so
the scan walks back page by page until it passes the window's start. On a busy namespace that
could be millions of entries: the scan stops after ``max_entries`` and says so (``complete`` is
False), and the charts then cover only the newest part of the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from work_compat import Client, HistoryStatus
from work_compat.client import PAGE_SIZE

__all__ = ["BUCKET_SECONDS", "MAX_ENTRIES", "Activity", "history_activity"]

BUCKET_SECONDS = 60
MAX_ENTRIES = 10_000


@dataclass
class Activity:
    """Counts per bucket of ``BUCKET_SECONDS``, oldest first; bucket i starts at ``start + i*bucket``."""

    start: int
    bucket: int
    success: list[int]
    retry: list[int]
    dead: list[int]
    other: list[int]
    scanned: int = 0
    complete: bool = True
    _seen: set[tuple[int, str, str]] = field(default_factory=set, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "bucket_seconds": self.bucket,
            "success": self.success,
            "retry": self.retry,
            "dead": self.dead,
            "other": self.other,
            "scanned": self.scanned,
            "complete": self.complete,
        }


def _series(activity: Activity, status: str) -> list[int]:
    if status == HistoryStatus.SUCCESS:
        return activity.success
    if status == HistoryStatus.RETRY:
        return activity.retry
    if status == HistoryStatus.DEAD:
        return activity.dead
    return activity.other


def history_activity(client: Client, now: int, minutes: int, *, max_entries: int = MAX_ENTRIES) -> Activity:
    """Count the attempts completed in the ``minutes`` whole minutes up to and including ``now``'s.

    New attempts land at the head while the scan pages on, shifting older entries onto the next
    page; an entry read twice is counted once.
    """
    buckets = max(1, minutes)
    end = (now // BUCKET_SECONDS + 1) * BUCKET_SECONDS
    start = end - buckets * BUCKET_SECONDS
    activity = Activity(start, BUCKET_SECONDS, [0] * buckets, [0] * buckets, [0] * buckets, [0] * buckets)
    page = 1
    while True:
        if activity.scanned >= max_entries:
            activity.complete = False
            return activity
        items, total = client.history_jobs(page)
        if not items:
            return activity
        for item in items:
            activity.scanned += 1
            if item.completed_at < start:
                return activity
            key = (item.completed_at, item.job.id, item.status)
            if key in activity._seen:
                continue
            activity._seen.add(key)
            index = (item.completed_at - start) // BUCKET_SECONDS
            if 0 <= index < buckets:
                _series(activity, item.status)[index] += 1
        if page * PAGE_SIZE >= total:
            return activity
        page += 1
