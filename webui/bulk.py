"""Retry or delete every job of one name in the dead, retry or scheduled set, through the Client.

Go's client has no call for this (gocraft/work PR #236 asked for "retry all dead of one job
name"), so the set is read page by page and each match is retried or deleted by its (score, id),
exactly as a click on its row would. A job that moves meanwhile (a pool's requeuer, another user)
is counted as unchanged rather than failing the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from work_compat import Client, NotDeletedError, NotRetriedError
from work_compat.client import PAGE_SIZE

__all__ = ["SETS", "BulkResult", "bulk_apply", "find_members"]

logger = logging.getLogger(__name__)

SETS = ("dead", "retry", "scheduled")
PROGRESS_EVERY = 200


@dataclass(frozen=True)
class BulkResult:
    """How many entries matched, how many were retried or deleted, and how many had no id to act on."""

    matched: int
    changed: int
    skipped: int

    def to_dict(self) -> dict[str, int]:
        return {"matched": self.matched, "changed": self.changed, "skipped": self.skipped}


def _pages(client: Client, which: str) -> Callable[[int], tuple[Sequence[Any], int]]:
    pages: dict[str, Callable[[int], tuple[Sequence[Any], int]]] = {
        "dead": client.dead_jobs,
        "retry": client.retry_jobs,
        "scheduled": client.scheduled_jobs,
    }
    return pages[which]


def _score(item: Any) -> int:
    for name in ("died_at", "retry_at", "run_at"):
        if hasattr(item, name):
            return int(getattr(item, name))
    raise TypeError(f"{type(item).__name__} has no score")


def find_members(client: Client, which: str, job_name: str | None) -> tuple[list[tuple[int, str]], int]:
    """(score, id) of every entry of ``which`` named ``job_name`` (every entry when None), and how many
    matching entries have no id (undecodable members: nothing can address them)."""
    read = _pages(client, which)
    found: list[tuple[int, str]] = []
    no_id = 0
    page = 1
    while True:
        items, total = read(page)
        for item in items:
            if job_name is not None and item.job.name != job_name:
                continue
            if item.job.id:
                found.append((_score(item), item.job.id))
            else:
                no_id += 1
        if not items or page * PAGE_SIZE >= total:
            return found, no_id
        page += 1


def bulk_apply(
    client: Client,
    which: str,
    action: str,
    job_name: str | None,
    progress: Callable[[int, int], None] | None = None,
) -> BulkResult:
    """Retry (dead set only) or delete every entry of ``which`` named ``job_name`` (all when None);
    ``progress(done, total)`` hears how far it is every few hundred jobs."""
    if which not in SETS:
        raise ValueError(f"unknown set {which!r}")
    if action == "retry" and which != "dead":
        raise ValueError("only dead jobs can be retried; jobs in the retry set are retried by the pools")
    if action not in ("retry", "delete"):
        raise ValueError(f"unknown action {action!r}: want retry or delete")
    act: dict[tuple[str, str], Callable[[int, str], None]] = {
        ("dead", "retry"): client.retry_dead_job,
        ("dead", "delete"): client.delete_dead_job,
        ("retry", "delete"): client.delete_retry_job,
        ("scheduled", "delete"): client.delete_scheduled_job,
    }
    fn = act[(which, action)]
    members, no_id = find_members(client, which, job_name)
    changed = 0
    for n, (score, job_id) in enumerate(members):
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(n, len(members))
        try:
            fn(score, job_id)
        except (NotDeletedError, NotRetriedError):
            logger.info("%s job %r (%r) moved before %s; left as it is", which, job_id, job_name or "*", action)
            continue
        changed += 1
    if progress is not None:
        progress(len(members), len(members))
    return BulkResult(matched=len(members) + no_id, changed=changed, skipped=no_id)
