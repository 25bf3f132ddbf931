"""Worker pools as Flower's ``/api/workers`` shows workers: one entry per pool heartbeat.

Flower names a worker ``celery@host`` and fills the entry from remote-control inspect replies
(stats, registered, active_queues, active, scheduled, reserved, revoked, conf). A gocraft pool
answers no inspect; its heartbeat hash and its workers' observations say the same things, for Go
and Python pools alike. The worker name is the pool id (what ``worker_pools`` holds, unique per
pool start); ``stats.hostname`` and ``stats.pid`` carry the host and process.
"""

from __future__ import annotations

from typing import Any

from work_compat import WorkerPoolHeartbeat

from .taskstore import Sighting
from .taskview import VAR_ARGS_KEY

__all__ = ["ONLINE_SECONDS", "flower_workers", "is_online"]

# A pool beats every 5 s; the reaper calls it dead once its heartbeat is 10 s old (protocol §5.4.2).
ONLINE_SECONDS = 10


def is_online(pool: WorkerPoolHeartbeat, now: float) -> bool:
    """Whether the pool's last heartbeat is recent enough for the reaper to leave it alone."""
    return now - pool.heartbeat_at < ONLINE_SECONDS


def _active(s: Sighting, pool: WorkerPoolHeartbeat) -> dict[str, Any]:
    """One running job as Celery's ``inspect active`` lists a request."""
    args = dict(s.job.args or {})
    positional = args.pop(VAR_ARGS_KEY, [])
    return {
        "id": s.job.id,
        "name": s.job.name,
        "args": positional if isinstance(positional, list) else [positional],
        "kwargs": args,
        "type": s.job.name,
        "hostname": pool.host,
        "time_start": float(s.at) if s.at else None,
        "acknowledged": True,
        "delivery_info": {"routing_key": s.job.name},
        "worker_pid": pool.pid,
        "checkin": s.checkin or None,
    }


def flower_workers(pools: list[WorkerPoolHeartbeat], running: list[Sighting], now: float) -> dict[str, dict[str, Any]]:
    """Flower's ``{name: info}`` for every pool; ``online`` is added (Flower's ``?status=true``)."""
    out: dict[str, dict[str, Any]] = {}
    for pool in pools:
        names = pool.job_names or []
        active = [_active(s, pool) for s in running if s.pool == pool.worker_pool_id]
        out[pool.worker_pool_id] = {
            "stats": {
                "hostname": pool.host,
                "pid": pool.pid,
                "pool": {"max-concurrency": pool.concurrency, "worker_ids": pool.worker_ids or []},
                "prefetch_count": 0,  # gocraft workers fetch one job at a time
                "started_at": pool.started_at,
                "heartbeat_at": pool.heartbeat_at,
                "uptime": max(0, int(now) - pool.started_at) if pool.started_at else 0,
            },
            "registered": list(names),
            "active_queues": [{"name": n, "routing_key": n} for n in names],
            "active": active,
            "scheduled": [],
            "reserved": [],
            "revoked": [],
            "conf": {},
            "timestamp": float(pool.heartbeat_at),
            "online": is_online(pool, now),
        }
    return out
