"""The Redis side of ``app.control`` that needs no Celery app: revoking ids, and control messages.

``app.control`` (``Control``) and the dashboard's Flower API both revoke tasks; the dashboard has
a namespace and a Redis connection but no app, so what they share takes a work_compat ``Client``
(its namespace, connection and delete commands) and a time. What only an app can do, such as
ending a chord whose member was revoked, stays in ``Control``.

A control message is JSON: ``{"command": "revoke", "arguments": {...}, "destination": [..] or
null, "sent_at": <epoch>}`` on ``<ns>:celery:control``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from work_compat import Client, Connection, NotDeletedError

from .. import states
from ..backends.redis import RedisBackend
from ..exceptions import TaskRevokedError
from ..gocraft.job_search import ReadBudget, find_in_zset, scan_list
from ..gocraft.keys import ShimKeys

__all__ = ["REVOKES_MAX", "REVOKE_EXPIRES", "Removal", "publish_control", "revoke_ids"]

logger = logging.getLogger(__name__)

# Celery's worker defaults for its revoked set (CELERY_WORKER_REVOKES_MAX, _REVOKE_EXPIRES).
REVOKES_MAX = 50000
REVOKE_EXPIRES = 10800.0


@dataclass(frozen=True)
class Removal:
    """One job a revoke deleted: its id and where it waited (scheduled, retry or queue)."""

    job_id: str
    where: str


def publish_control(
    conn: Connection,
    shim_keys: ShimKeys,
    command: str,
    arguments: Mapping[str, Any],
    destination: Sequence[str] | None,
    now: float,
    reply_to: str | None = None,
) -> int:
    """Publish one control message to running Python workers; how many listeners got it.
    ``reply_to`` names the ticket of the channel where workers answer (``ShimKeys.control_reply``)."""
    body: dict[str, Any] = {
        "command": command,
        "arguments": dict(arguments),
        "destination": None if destination is None else list(destination),
        "sent_at": float(now),
    }
    if reply_to is not None:
        body["reply_to"] = reply_to
    message = json.dumps(body)
    with conn.errors():
        return int(conn.client.publish(shim_keys.control(), message))


def revoke_ids(
    client: Client,
    ids: Sequence[str],
    now: float,
    *,
    terminate: bool = False,
    signal: str = "SIGTERM",
    destination: Sequence[str] | None = None,
    backend: RedisBackend | None = None,
    revokes_max: int = REVOKES_MAX,
    revoke_expires: float = REVOKE_EXPIRES,
    budget: ReadBudget | None = None,
) -> list[Removal]:
    """Celery's revoke over gocraft (spec D17); returns the jobs deleted.

    First the ids join the revoked set (scored by ``now``, trimmed to ``revoke_expires`` seconds
    and ``revokes_max`` ids), so a Python worker that fetches one meanwhile drops it. Then each
    job is deleted from ``scheduled``, ``retry`` and its queue list, with its unique lock, so no
    pool runs it, Go's included (best effort: one being fetched at this instant is missed); a
    job deleted gets a REVOKED result in ``backend``. Last the ``revoke`` command is published,
    for a Python worker running the task to kill it when ``terminate``. ``budget`` bounds the
    entries the searches read (None: every entry).
    """
    conn, shim = client.connection, ShimKeys(client.namespace)
    with conn.errors():
        pipe = conn.client.pipeline(transaction=False)
        pipe.zadd(shim.revoked(), {i: now for i in ids})
        pipe.zremrangebyscore(shim.revoked(), "-inf", f"({now - revoke_expires}")
        pipe.zremrangebyrank(shim.revoked(), 0, -(revokes_max + 1))
        pipe.execute()
    removed = _remove(client, ids, budget or ReadBudget())
    arguments = {"task_id": list(ids), "terminate": bool(terminate), "signal": signal}
    publish_control(conn, shim, "revoke", arguments, destination, now)
    if backend is not None:
        for job_id in dict.fromkeys(r.job_id for r in removed):
            backend.store_result(job_id, TaskRevokedError("revoked"), states.REVOKED)
    return removed


def _remove(client: Client, ids: Sequence[str], budget: ReadBudget) -> list[Removal]:
    """Delete the jobs from the sorted sets, then the ids still not found from the queue lists."""
    conn, keys = client.connection, client.keys
    removed: list[Removal] = []
    zsets = (
        ("scheduled", keys.scheduled(), client.delete_scheduled_job),  # releases a unique lock too
        ("retry", keys.retry(), client.delete_retry_job),
    )
    for job_id in ids:
        for where, key, delete in zsets:
            for score, _job in find_in_zset(conn, key, job_id, budget):
                try:
                    delete(score, job_id)  # by (score, id), as Go's client deletes
                    removed.append(Removal(job_id, where))
                except NotDeletedError:  # moved on (requeued, fetched) since the scan
                    pass
    wanted = [i for i in ids if i not in {r.job_id for r in removed}]
    if not wanted:
        return removed
    for name in client.known_job_names():
        if budget.spent:
            break
        queue = keys.jobs(name)
        for raw, job in list(scan_list(conn, queue, wanted, budget)):
            with conn.errors():
                gone = int(conn.client.lrem(queue, 1, raw))  # the exact bytes, as a worker's LREM
                if gone and job.unique:  # the lock goes with the job, or its next enqueue is refused
                    conn.client.delete(job.unique_key or keys.unique(job.name, job.args))
            if gone:
                removed.append(Removal(job.id, "queue"))
    return removed
