"""What the pages do to single jobs and whole queues beyond the fork's API: newest-first pages of the
sorted sets, "run now" for a scheduled or retrying job, a queue's jobs page by page, and purging
a queue. Each is a few plain Redis commands on the namespace's own keys (work_compat.keys).

"Run now" gives the job the score "now" (``ZADD XX``), so it is due at once and the next requeuer
pass of any pool, Go or Python, moves it to its queue exactly as it moves every due job; the bytes
stay as stored. A purge takes the queue's jobs from the tail in batches (``LRANGE`` + ``LTRIM`` in
one transaction), releasing the unique lock of each unique job, so a job enqueued meanwhile stays
and a later unique enqueue is not refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from work_compat import Client, DecodeError, Job, NotDeletedError, decode_job
from work_compat.client import PAGE_SIZE

__all__ = ["PURGE_BATCH", "QueuedJob", "purge_queue", "queue_page", "run_now", "zset_page"]

PURGE_BATCH = 1000

QueuedJob = tuple[int, Job | None, bytes]  # position from the tail (1: next to run), job, raw bytes


def zset_page(client: Client, which: str, page: int, newest_first: bool) -> tuple[list[Any], int]:
    """A page of 20 of the scheduled, retry or dead set, oldest or newest first, and the total.

    Newest first is read through the Client's own (oldest-first) pages, the two that hold the
    wanted slice, so entries are decoded and shown exactly as on the fork's pages."""
    pages: dict[str, Callable[[int], tuple[Sequence[Any], int]]] = {
        "dead": client.dead_jobs,
        "retry": client.retry_jobs,
        "scheduled": client.scheduled_jobs,
    }
    read = pages[which]
    if not newest_first:
        items, total = read(page)
        return list(items), total
    _, total = read(1 << 40)  # past the end: the total alone
    end = total - (page - 1) * PAGE_SIZE  # exclusive, in oldest-first positions
    start = max(0, end - PAGE_SIZE)
    if end <= 0:
        return [], total
    first = start // PAGE_SIZE + 1
    items = list(read(first)[0])
    if (end - 1) // PAGE_SIZE + 1 != first:
        items += list(read(first + 1)[0])
    offset = (first - 1) * PAGE_SIZE
    return list(reversed(items[start - offset : end - offset])), total


def run_now(client: Client, which: str, score: int, job_id: str) -> None:
    """Make one scheduled or retrying job due now; NotDeletedError when it is no longer there."""
    key = {"scheduled": client.keys.scheduled(), "retry": client.keys.retry()}[which]
    conn = client.connection
    with conn.errors():
        members = conn.client.zrangebyscore(key, score, score)
        for raw in members:
            try:
                job = decode_job(raw)
            except DecodeError:
                continue
            if job.id == job_id:
                # XX: only if still there (a requeuer may have moved it since it was read)
                if conn.client.zadd(key, {raw: client.clock.now()}, xx=True, ch=True) or conn.client.zscore(key, raw):
                    return
    raise NotDeletedError()


def queue_page(client: Client, job_name: str, page: int) -> tuple[list[QueuedJob], int]:
    """A page of 20 of a queue's jobs, next to run first (pools take from the list's tail), and
    the queue's length. An entry that cannot be decoded comes with None and its bytes."""
    key = client.keys.jobs(job_name)
    first = (max(page, 1) - 1) * PAGE_SIZE
    conn = client.connection
    with conn.errors():
        pipe = conn.client.pipeline(transaction=False)
        pipe.lrange(key, -(first + PAGE_SIZE), -(first + 1))
        pipe.llen(key)
        members, total = pipe.execute()
    out: list[QueuedJob] = []
    for i, raw in enumerate(reversed(members)):
        try:
            job: Job | None = decode_job(raw)
        except DecodeError:
            job = None
        out.append((first + i + 1, job, bytes(raw)))
    return out, int(total)


def purge_queue(client: Client, job_name: str, progress: Callable[[int, int], None] | None = None) -> int:
    """Delete every job waiting in ``job_name``'s queue when the purge starts; returns how many.

    ``progress(done, total)`` is called after each batch."""
    key = client.keys.jobs(job_name)
    conn = client.connection
    with conn.errors():
        total = int(conn.client.llen(key))
    done = 0
    while done < total:
        size = min(PURGE_BATCH, total - done)
        with conn.errors():
            pipe = conn.client.pipeline(transaction=True)
            pipe.lrange(key, -size, -1)
            pipe.ltrim(key, 0, -(size + 1))
            batch, _ = pipe.execute()
        if not batch:
            break
        locks = []
        for raw in batch:
            try:
                job = decode_job(raw)
            except DecodeError:
                continue
            if job.unique:
                locks.append(job.unique_key or client.keys.unique(job.name, job.args))
        if locks:
            with conn.errors():
                conn.client.delete(*locks)
        done += len(batch)
        if progress is not None:
            progress(done, total)
    return done
