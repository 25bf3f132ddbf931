"""``app.control.inspect()``: Celery's inspect replies, answered from Redis instead of a broadcast.

Every worker pool, Go's included, keeps a heartbeat hash (job names, concurrency, host, pid,
worker ids) and per-worker observations of the job it runs, so the replies need no worker to
answer: a node is a pool whose heartbeat is fresh, named by the Celery node name a Python worker
registered (``<ns>:celery:nodes``) or else by its host. Replies are keyed by node name, as
Celery's; a method with no matching node returns None, as Celery's does when nobody replies.
"""

from __future__ import annotations

import datetime as dt
import inspect as pyinspect
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from work_compat import Client, DecodeError, Job, Keys, WorkerPoolHeartbeat, decode_job, gojson

from ..gocraft.arguments import VAR_ARGS_KEY, call_from_args
from ..gocraft.keys import ShimKeys

if TYPE_CHECKING:
    from .base import Celery

__all__ = ["ONLINE_WITHIN", "Inspect", "Node", "call_of"]

logger = logging.getLogger(__name__)

ONLINE_WITHIN = 10  # seconds: a heartbeat older than this is not an online node (Go's reaper uses 10 s too)


@dataclass
class Node:
    """One live pool as an inspect node."""

    name: str
    pool: WorkerPoolHeartbeat
    is_python: bool = False
    observations: list[dict[str, str]] = field(default_factory=list)


def call_of(app: Celery, name: str, args: Any) -> tuple[list[Any], dict[str, Any]]:
    """The Celery ``(args, kwargs)`` of a job's args object: through the task's signature when the
    app has the task (D1), else ``"*args"`` as positionals and the rest as keywords."""
    job_args = args if isinstance(args, dict) else {}
    task = app.tasks.get(name)
    if task is not None:
        try:
            call_args, call_kwargs = call_from_args(pyinspect.signature(task.run), job_args)
            return list(call_args), dict(call_kwargs)
        except (TypeError, ValueError):
            pass
    rest = dict(job_args)
    positional = rest.pop(VAR_ARGS_KEY, [])
    return list(positional) if isinstance(positional, list) else [positional], rest


def _text(v: bytes | str | None) -> str:
    if v is None:
        return ""
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def _iso(epoch: float | int | None) -> str | None:
    if not epoch:
        return None
    return dt.datetime.fromtimestamp(float(epoch), dt.timezone.utc).isoformat()


class Inspect:
    """``app.control.inspect(destination=None, timeout=1.0)``; ``timeout`` is accepted and unused
    (nothing is broadcast, so nothing is waited for)."""

    def __init__(
        self,
        app: Celery,
        destination: str | Sequence[str] | None = None,
        timeout: float = 1.0,
        callback: Any = None,
        limit: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.app = app
        self.destination = [destination] if isinstance(destination, str) else destination
        self.timeout = timeout
        self.callback = callback
        self.limit = limit

    # -- reading the namespace ----------------------------------------------------------------------
    def _client(self) -> tuple[Client, Keys, Any]:
        conn, keys = self.app._connection()
        return Client(keys.namespace, conn), keys, conn

    def nodes(self) -> list[Node]:
        """Online pools (fresh heartbeat) matching ``destination``, by node name."""
        client, keys, conn = self._client()
        now = self.app.now()
        pools = [hb for hb in client.worker_pool_heartbeats() if now - hb.heartbeat_at < ONLINE_WITHIN]
        with conn.errors():
            named = {_text(k): _text(v) for k, v in conn.client.hgetall(ShimKeys(keys.namespace).nodes()).items()}
        bases = [named.get(hb.worker_pool_id) or hb.host or hb.worker_pool_id for hb in pools]
        out = []
        for hb, base in zip(pools, bases):
            name = base if bases.count(base) == 1 else f"{base}:{hb.worker_pool_id}"
            out.append(Node(name, hb, hb.worker_pool_id in named))
        if self.destination is not None:
            wanted = set(self.destination)
            out = [n for n in out if n.name in wanted]
        if out:
            self._observe(conn, keys, out)
        return sorted(out, key=lambda n: n.name)

    @staticmethod
    def _observe(conn: Any, keys: Keys, nodes: list[Node]) -> None:
        pairs = [(n, w) for n in nodes for w in (n.pool.worker_ids or [])]
        if not pairs:
            return
        with conn.errors():
            pipe = conn.client.pipeline(transaction=False)
            for _node, wid in pairs:
                pipe.hgetall(keys.worker_observation(wid))
            rows = pipe.execute()
        for (node, wid), row in zip(pairs, rows):
            if row:
                obs = {_text(k): _text(v) for k, v in row.items()}
                obs["worker_id"] = wid
                node.observations.append(obs)

    def _reply(self, build: Any) -> dict[str, Any] | None:
        nodes = self.nodes()
        if not nodes:
            return None
        reply = {n.name: build(n) for n in nodes}
        if self.callback is not None:
            for name, value in reply.items():
                self.callback({name: value})
        return reply

    # -- Celery's inspect methods ---------------------------------------------------------------------
    def ping(self, destination: Sequence[str] | None = None) -> dict[str, Any] | None:
        """``{node: {"ok": "pong"}}`` for every online node."""
        return self._reply(lambda n: {"ok": "pong"})

    def registered(self, *taskinfoitems: str) -> dict[str, Any] | None:
        """The job names each node fetches (its heartbeat's ``job_names``; Go pools' too)."""
        return self._reply(lambda n: sorted(n.pool.job_names or []))

    registered_tasks = registered

    def active(self, safe: bool | None = None) -> dict[str, Any] | None:
        """The jobs each node runs now, from its workers' observations."""
        return self._reply(lambda n: [self._request(n, o) for o in n.observations])

    def _request(self, node: Node, obs: dict[str, str]) -> dict[str, Any]:
        name = obs.get("job_name", "")
        try:
            # gojson: a Go pool's observation may nest deeper than Python's json.loads recurses
            args = gojson.loads(obs.get("args") or "null")
        except ValueError:
            args = None
        call_args, call_kwargs = call_of(self.app, name, args)
        try:
            started = float(obs.get("started_at") or 0)
        except ValueError:
            started = 0.0
        return {
            "id": obs.get("job_id", ""),
            "name": name,
            "args": call_args,
            "kwargs": call_kwargs,
            "type": name,
            "hostname": node.name,
            "time_start": started or None,
            "acknowledged": True,
            "delivery_info": {"exchange": "", "routing_key": self._queue(name), "priority": None, "redelivered": False},
            "worker_pid": node.pool.pid,
            "checkin": obs.get("checkin") or None,
        }

    def _queue(self, name: str) -> str:
        """The queue label of a job name: the app's route for its tasks, the name itself otherwise
        (in gocraft every job name is its own list)."""
        task = self.app.tasks.get(name)
        if task is None:
            return name
        from .routes import queue_of

        return queue_of(self.app, task)

    def reserved(self, safe: bool | None = None) -> dict[str, Any] | None:
        """Jobs a node fetched (in its in-progress lists) but no worker runs yet."""
        _client, keys, conn = self._client()

        def build(node: Node) -> list[dict[str, Any]]:
            running = {o.get("job_id") for o in node.observations}
            names = node.pool.job_names or []
            with conn.errors():
                pipe = conn.client.pipeline(transaction=False)
                for name in names:
                    pipe.lrange(keys.jobs_in_progress(name, node.pool.worker_pool_id), 0, -1)
                lists = pipe.execute() if names else []
            out = []
            for raw in (r for members in lists for r in members):
                job = _decode(raw)
                if job is not None and job.id not in running:
                    out.append(self._job_request(node, job))
            return out

        return self._reply(build)

    def _job_request(self, node: Node | None, job: Job) -> dict[str, Any]:
        call_args, call_kwargs = call_of(self.app, job.name, job.args)
        return {
            "id": job.id,
            "name": job.name,
            "args": call_args,
            "kwargs": call_kwargs,
            "type": job.name,
            "hostname": node.name if node is not None else None,
            "time_start": None,
            "acknowledged": False,
            "delivery_info": {"exchange": "", "routing_key": self._queue(job.name), "priority": None},
            "worker_pid": None,
        }

    def scheduled(self, safe: bool | None = None) -> dict[str, Any] | None:
        """Jobs waiting for their time (``scheduled``) or for a retry (``retry``), for the app's task
        names. The sorted sets are shared, so each job is listed under the first node (by name)
        that fetches its name, and not at all when no online node does."""
        _client, keys, conn = self._client()
        names = set(self.app.tasks.keys())
        waiting = self._waiting(conn, keys, names)

        nodes = self.nodes()
        if not nodes:
            return None
        owner: dict[str, Node] = {}
        for node in nodes:
            for name in node.pool.job_names or []:
                owner.setdefault(name, node)
        reply: dict[str, Any] = {n.name: [] for n in nodes}
        for score, job in waiting:
            holder = owner.get(job.name)
            if holder is not None:
                reply[holder.name].append(
                    {"eta": _iso(score), "priority": None, "request": self._job_request(holder, job)}
                )
        return reply

    @staticmethod
    def _waiting(conn: Any, keys: Keys, names: set[str]) -> list[tuple[float, Job]]:
        out = []
        for key in (keys.scheduled(), keys.retry()):
            with conn.errors():
                members = conn.client.zrangebyscore(key, "-inf", "+inf", withscores=True)
            for raw, score in members:
                job = _decode(raw)
                if job is not None and job.name in names:
                    out.append((float(score), job))
        return sorted(out, key=lambda pair: pair[0])

    def revoked(self) -> dict[str, Any] | None:
        """The revoked ids; the set is shared, so every node honours (and lists) all of them."""
        _client, keys, conn = self._client()
        with conn.errors():
            ids = sorted(_text(x) for x in conn.client.zrange(ShimKeys(keys.namespace).revoked(), 0, -1))
        return self._reply(lambda n: list(ids))

    def stats(self) -> dict[str, Any] | None:
        """Heartbeat figures per node, with the history log's count per job name under ``total``
        (counted over the namespace: the history does not record which pool ran a job)."""
        _client, keys, conn = self._client()
        now = self.app.now()

        def build(node: Node) -> dict[str, Any]:
            names = node.pool.job_names or []
            with conn.errors():
                pipe = conn.client.pipeline(transaction=False)
                for name in names:
                    pipe.zcard(keys.history_for(name))
                counts = pipe.execute() if names else []
            return {
                "pid": node.pool.pid,
                "uptime": max(0, int(now - node.pool.started_at)) if node.pool.started_at else 0,
                "clock": str(node.pool.heartbeat_at),
                "pool": {
                    "max-concurrency": node.pool.concurrency,
                    "processes": [node.pool.pid],
                    "implementation": "celery_shim" if node.is_python else "gocraft",
                },
                "prefetch_count": 0,
                "total": {name: int(c) for name, c in zip(names, counts) if int(c)},
                "broker": {"transport": "redis", "hostname": conn.address, "virtual_host": keys.namespace},
                "gocraft": {
                    "worker_pool_id": node.pool.worker_pool_id,
                    "host": node.pool.host,
                    "started_at": node.pool.started_at,
                    "heartbeat_at": node.pool.heartbeat_at,
                    "worker_ids": node.pool.worker_ids or [],
                    "busy": len(node.observations),
                },
            }

        return self._reply(build)

    def active_queues(self) -> dict[str, Any] | None:
        """The queues each node consumes: the labels of the job names it fetches (D10)."""

        def build(node: Node) -> list[dict[str, Any]]:
            queues = sorted({self._queue(name) for name in node.pool.job_names or []})
            return [
                {
                    "name": q,
                    "routing_key": q,
                    "exchange": {"name": q, "type": "direct"},
                    "durable": True,
                    "exclusive": False,
                    "auto_delete": False,
                    "no_ack": False,
                }
                for q in queues
            ]

        return self._reply(build)

    def query_task(self, *ids: str | Iterable[str]) -> dict[str, Any] | None:
        """``{node: {id: [state, request]}}`` for the ids a node runs (``active``), has fetched
        (``reserved``) or that wait for its names (``scheduled``)."""
        wanted: set[str] = set()
        for item in ids:
            wanted.update([item] if isinstance(item, str) else item)
        active = self.active() or {}
        reserved = self.reserved() or {}
        scheduled = self.scheduled() or {}
        if not (active or reserved or scheduled):
            return None
        reply: dict[str, dict[str, Any]] = {}
        for state, listing in (("scheduled", scheduled), ("reserved", reserved), ("active", active)):
            for node, entries in listing.items():
                found = reply.setdefault(node, {})
                for entry in entries:
                    request = entry.get("request", entry)
                    if request.get("id") in wanted:
                        found[request["id"]] = [state, request]
        return reply

    def conf(self, with_defaults: bool = False) -> dict[str, Any] | None:
        """The app's settings under each node (workers of this app share them)."""
        settings = {k: _plain(v) for k, v in self.app.conf.items() if with_defaults or self.app.conf.is_set(k)}
        return self._reply(lambda n: dict(settings))


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _decode(raw: bytes) -> Job | None:
    try:
        return decode_job(raw)
    except DecodeError as err:
        logger.warning("job cannot be decoded: %s", err.reason)
        return None
