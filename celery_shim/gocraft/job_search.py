"""Finding a job by id in the gocraft sorted sets, queue lists and in-progress lists.

gocraft indexes no job by id outside the fork's history, so a search reads members and keeps the
ones whose JSON holds ``"id":"<id>"`` (then decodes them, since the text can also appear inside
args). AsyncResult, ``app.control.revoke`` and the dashboard all search this way; a ``ReadBudget``
lets a caller that answers an HTTP request stop after a bounded number of entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import partial

from work_compat import Connection, DecodeError, Job, Keys, WorkerPoolHeartbeat, decode_job
from work_compat.gojson import encode_string

__all__ = ["ReadBudget", "find_in_list", "find_in_progress", "find_in_zset", "id_needles", "job_with_id", "scan_list"]

CHUNK = 1000  # entries per LRANGE, and the COUNT hint of each ZSCAN


class ReadBudget:
    """How many more set or list entries a search may read; ``None`` reads without a limit.

    One budget is passed to every search of one request, so the request's total is bounded.
    """

    def __init__(self, entries: int | None = None) -> None:
        self.left = entries

    @property
    def spent(self) -> bool:
        return self.left is not None and self.left <= 0

    def allow(self, wanted: int) -> int:
        """How many of ``wanted`` entries may be read now."""
        return wanted if self.left is None else max(0, min(wanted, self.left))

    def charge(self, read: int) -> None:
        if self.left is not None:
            self.left -= read


def id_needles(job_id: str) -> list[str]:
    """``"id":"<id>"`` as Go's encoder and as Redis's cjson (which escapes ``/``) write it."""
    go = '"id":' + encode_string(job_id)
    cjson = go.replace("/", "\\/")
    return [go] if cjson == go else [go, cjson]


def _byte_needles(job_ids: Iterable[str]) -> list[bytes]:
    return [n.encode("utf-8", "surrogatepass") for i in job_ids for n in id_needles(i)]


def _decoded(raw: bytes) -> Job | None:
    try:
        return decode_job(raw)
    except DecodeError:
        return None


def job_with_id(raw: bytes, job_id: str) -> Job | None:
    """The job when ``raw`` decodes to one with this id (a needle can also match inside args)."""
    job = _decoded(raw)
    return job if job is not None and job.id == job_id else None


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _periodic_epoch(job_id: str) -> int | None:
    """The instant a periodic id names (``periodic:<name>:<spec>:<epoch>``), its scheduled score."""
    if not job_id.startswith("periodic:"):
        return None
    tail = job_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() and len(tail) < 19 else None


def find_in_zset(conn: Connection, key: str, job_id: str, budget: ReadBudget | None = None) -> list[tuple[int, Job]]:
    """The ``(score, job)`` members of sorted set ``key`` with this id.

    A periodic instance is read at the score its id names. Otherwise ZSCAN with the id as its
    MATCH pattern (the server filters, nothing blocks) until a scan step finds it or the set or
    the budget ends; each step is charged its COUNT hint.
    """
    budget = budget or ReadBudget()
    epoch = _periodic_epoch(job_id)
    guard = conn.bad_keys.guard
    if epoch is not None:
        with conn.errors():
            members = guard(
                key,
                "sorted set",
                "a job search",
                [],
                partial(conn.client.zrangebyscore, key, epoch, epoch, withscores=True),
            )
        budget.charge(len(members))
        found = [(int(s), job) for raw, s in members if (job := job_with_id(raw, job_id)) is not None]
        if found:
            return found
    for needle in id_needles(job_id):
        cursor = 0
        while not budget.spent:
            scan = partial(conn.client.zscan, key, cursor, match=f"*{_glob_escape(needle)}*", count=CHUNK)
            with conn.errors():
                cursor, members = guard(key, "sorted set", "a job search", (0, []), scan)
            budget.charge(CHUNK)
            found = [(int(s), job) for raw, s in members if (job := job_with_id(raw, job_id)) is not None]
            if found:
                return found
            if cursor == 0:
                break
    return []


def scan_list(
    conn: Connection, key: str, job_ids: Iterable[str], budget: ReadBudget | None = None
) -> Iterator[tuple[bytes, Job]]:
    """Every member of list ``key`` (raw bytes and job) whose id is one of ``job_ids``, read in
    chunks since lists have no SCAN. A job pushed meanwhile shifts the list toward higher
    indexes, so a chunk may repeat members but none is skipped."""
    budget = budget or ReadBudget()
    wanted = set(job_ids)
    needles = _byte_needles(wanted)
    start = 0
    while not budget.spent:
        size = budget.allow(CHUNK)
        with conn.errors():
            chunk = conn.bad_keys.guard(
                key, "list", "a job search", [], partial(conn.client.lrange, key, start, start + size - 1)
            )
        budget.charge(len(chunk))
        for raw in chunk:
            if any(n in raw for n in needles):
                job = _decoded(raw)
                if job is not None and job.id in wanted:
                    yield bytes(raw), job
        if len(chunk) < size:
            return
        start += size


def find_in_list(conn: Connection, key: str, job_id: str, budget: ReadBudget | None = None) -> Job | None:
    """The first job with this id in list ``key``, or None."""
    for _raw, job in scan_list(conn, key, [job_id], budget):
        return job
    return None


def find_in_progress(
    conn: Connection, keys: Keys, job_id: str, pools: Sequence[WorkerPoolHeartbeat], job_name: str | None = None
) -> list[tuple[WorkerPoolHeartbeat, Job]]:
    """The pools holding this id in an in-progress list (fetched; Celery's RECEIVED), with the job.

    Each pool's list of every name it runs is read (only ``job_name``'s when given), at most
    CHUNK entries: a pool holds no more jobs than it has workers.
    """
    pairs = [(hb, n) for hb in pools for n in ([job_name] if job_name else (hb.job_names or [])) if n]
    if not pairs:
        return []
    with conn.errors():
        pipe = conn.client.pipeline(transaction=False)
        for hb, name in pairs:
            pipe.lrange(keys.jobs_in_progress(name, hb.worker_pool_id), 0, CHUNK - 1)
        in_progress = [keys.jobs_in_progress(name, hb.worker_pool_id) for hb, name in pairs]
        lists = [m or [] for m in conn.bad_keys.pipeline_results(pipe, in_progress, "list", "a job search")]
    needles = _byte_needles([job_id])
    found = []
    for (hb, _name), members in zip(pairs, lists):
        for raw in members:
            if any(n in raw for n in needles):
                job = job_with_id(raw, job_id)
                if job is not None:
                    found.append((hb, job))
    return found
