"""``app.control``: revoke, purge, runtime limits and inspection, done in Redis (spec D17, §1.13).

Celery broadcasts control commands to workers and collects their replies. Here the state those
commands change lives in Redis, where every pool (Go's too) sees it: ``revoke`` deletes the job
from wherever it waits and records the id in a persistent revoked set that Python workers check
after each fetch; ``rate_limit``/``time_limit`` are stored for live and late-starting Python
workers. Each command is also published on ``<ns>:celery:control`` for running Python workers
(``terminate`` needs it; the message format is in ``control_core``, which also holds the revoke
itself, shared with the dashboard). Inspection reads heartbeats and observations (``inspection``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from work_compat import Client, Keys

from ..backends.redis import RedisBackend
from ..gocraft.keys import ShimKeys
from ..utils.ids import new_task_id
from . import continuation as canvas_driver
from .inspect import Inspect
from .revoke import REVOKE_EXPIRES, REVOKES_MAX, publish_control, revoke_ids

if TYPE_CHECKING:
    from .base import Celery

__all__ = ["REVOKES_MAX", "REVOKE_EXPIRES", "Control"]

logger = logging.getLogger(__name__)


def _ids(task_id: str | Iterable[str]) -> list[str]:
    if isinstance(task_id, str):
        return [task_id]
    return [str(getattr(t, "id", t)) for t in task_id]


def _destination(destination: str | Sequence[str] | None) -> list[str] | None:
    if destination is None:
        return None
    return [destination] if isinstance(destination, str) else list(destination)


class Control:
    """``app.control``. ``revokes_max`` and ``revoke_expires`` bound the revoked set."""

    revokes_max = REVOKES_MAX
    revoke_expires = REVOKE_EXPIRES

    def __init__(self, app: Celery) -> None:
        self.app = app

    def _ns(self) -> tuple[Any, Keys, ShimKeys]:
        conn, keys = self.app._connection()
        return conn, keys, ShimKeys(keys.namespace)

    # -- inspection ---------------------------------------------------------------------------------
    def inspect(self, destination: str | Sequence[str] | None = None, timeout: float = 1.0, **kwargs: Any) -> Inspect:
        """Replies keyed by node name, read from Redis (``active``, ``scheduled``, ``stats``, ...)."""
        return Inspect(self.app, destination=destination, timeout=timeout, **kwargs)

    def ping(
        self, destination: str | Sequence[str] | None = None, timeout: float = 1.0, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """``[{node: {"ok": "pong"}}, ...]`` for every online node (fresh heartbeat)."""
        return [{n.name: {"ok": "pong"}} for n in Inspect(self.app, destination=destination).nodes()]

    # -- revoke -------------------------------------------------------------------------------------
    def revoke(
        self,
        task_id: str | Iterable[str],
        destination: str | Sequence[str] | None = None,
        terminate: bool = False,
        signal: str = "SIGTERM",
        **kwargs: Any,
    ) -> None:
        """Revoke one id or a list of ids (D17, ``control_core.revoke_ids``).

        The ids go into the revoked set, which Python workers check after every fetch and which
        survives their restarts; each job is deleted from ``scheduled``, ``retry`` and its queue
        list, so no pool, Go's included, runs it; a job deleted gets a REVOKED result when a
        backend is set, and still counts for its chord. ``terminate=True`` asks the Python worker
        running the task to kill it with ``signal`` (Go workers cannot be asked). A task already
        running without ``terminate`` finishes.
        """
        ids = _ids(task_id)
        if not ids:
            return
        conn, keys, _shim = self._ns()
        backend = self.app.backend
        removed = revoke_ids(
            Client(keys.namespace, conn),
            ids,
            float(self.app.now()),
            terminate=terminate,
            signal=signal,
            destination=_destination(destination),
            backend=backend if isinstance(backend, RedisBackend) else None,
            revokes_max=self.revokes_max,
            revoke_expires=self.revoke_expires,
        )
        deleted = list(dict.fromkeys(r.job_id for r in removed))
        for job_id in deleted:  # celery-canvas: a deleted chord member still counts, so the chord ends
            canvas_driver.on_revoked(self.app, job_id, None)
        logger.info("revoked %s (%d deleted from queues)", ", ".join(ids), len(deleted))

    def terminate(
        self,
        task_id: str | Iterable[str],
        destination: str | Sequence[str] | None = None,
        signal: str = "SIGTERM",
        **kwargs: Any,
    ) -> None:
        """``revoke(task_id, terminate=True)``."""
        self.revoke(task_id, destination=destination, terminate=True, signal=signal)

    # -- queues -------------------------------------------------------------------------------------
    def purge(
        self, connection: Any = None, queues: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> int:
        """Delete every waiting job of the app's tasks (``jobs:<name>``); returns how many.

        ``queues``/``exclude`` restrict it to task names routed to those queues (``purge -Q/-X``).
        Job names the app does not declare, Go's own, are never touched; scheduled and retrying
        jobs are not waiting messages and stay, as in Celery.
        """
        if queues is None and exclude is None:
            names = sorted(self.app.tasks.keys())
        else:
            from .routes import tasks_in_queues

            names = tasks_in_queues(self.app, queues, exclude)
        if not names:
            return 0
        conn, keys, _shim = self._ns()
        with conn.errors():
            pipe = conn.client.pipeline(transaction=True)
            for name in names:
                pipe.llen(keys.jobs(name))
            for name in names:
                pipe.delete(keys.jobs(name))
            replies = pipe.execute()
        return sum(int(n) for n in replies[: len(names)])

    discard_all = purge

    # -- runtime limits -----------------------------------------------------------------------------
    def rate_limit(
        self, task_name: str, rate_limit: Any, destination: str | Sequence[str] | None = None, **kwargs: Any
    ) -> None:
        """Set a task's rate limit (``"10/s"``, ``"100/m"``, ``"2/h"``, a number per second; 0 or
        None for none) for running Python workers and those that start later (D14)."""
        from ..utils.time import parse_rate

        parse_rate(rate_limit)  # ValueError now, rather than an ignored setting in each worker
        value = "0" if rate_limit is None else str(rate_limit)
        conn, _keys, shim = self._ns()
        with conn.errors():
            conn.client.hset(shim.rate_limits(), task_name, value)
        self._publish("rate_limit", {"task_name": task_name, "rate_limit": value}, destination, conn, shim)

    def time_limit(
        self,
        task_name: str,
        soft: float | None = None,
        hard: float | None = None,
        destination: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Set a task's soft and hard time limits in seconds (None: none) for Python workers (D13)."""
        for label, value in (("soft", soft), ("hard", hard)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"{label} time limit must be a number of seconds, not {value!r}")
        if soft is not None and hard is not None and soft > hard:
            raise ValueError(f"soft time limit ({soft}) is above the hard time limit ({hard})")
        arguments = {"task_name": task_name, "soft": soft, "hard": hard}
        conn, _keys, shim = self._ns()
        with conn.errors():
            conn.client.hset(shim.time_limits(), task_name, json.dumps({"soft": soft, "hard": hard}))
        self._publish("time_limit", arguments, destination, conn, shim)

    # -- other broadcasts ---------------------------------------------------------------------------
    def broadcast(
        self,
        command: str,
        arguments: dict[str, Any] | None = None,
        destination: str | Sequence[str] | None = None,
        connection: Any = None,
        reply: bool = False,
        timeout: float = 1.0,
        limit: int | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]] | None:
        """Publish ``command`` to running Python workers; Go workers do not listen. With ``reply``, the
        answers of the workers that run it as a custom command (``celery.worker.control``) within
        ``timeout`` seconds, or until ``limit`` came: ``[{hostname: reply}, ...]``, as Celery gives."""
        conn, _keys, shim = self._ns()
        if not reply:
            self._publish(command, arguments or {}, destination, conn, shim)
            return None
        ticket = new_task_id()
        pubsub = conn.client.pubsub(ignore_subscribe_messages=True)
        try:
            with conn.errors():
                pubsub.subscribe(shim.control_reply(ticket))  # before publishing: no reply is missed
                self._publish(command, arguments or {}, destination, conn, shim, reply_to=ticket)
                return _collect(pubsub, timeout, limit)
        finally:
            pubsub.close()

    def shutdown(self, destination: str | Sequence[str] | None = None, **kwargs: Any) -> None:
        self.broadcast("shutdown", destination=destination)

    def pool_grow(self, n: int = 1, destination: str | Sequence[str] | None = None, **kwargs: Any) -> None:
        self.broadcast("pool_grow", {"n": n}, destination)

    def pool_shrink(self, n: int = 1, destination: str | Sequence[str] | None = None, **kwargs: Any) -> None:
        self.broadcast("pool_shrink", {"n": n}, destination)

    def autoscale(self, max: int, min: int, destination: str | Sequence[str] | None = None, **kwargs: Any) -> None:
        self.broadcast("autoscale", {"max": max, "min": min}, destination)

    def add_consumer(self, queue: str, destination: str | Sequence[str] | None = None, **kwargs: Any) -> None:
        self.broadcast("add_consumer", {"queue": queue}, destination)

    def cancel_consumer(self, queue: str, destination: str | Sequence[str] | None = None, **kwargs: Any) -> None:
        self.broadcast("cancel_consumer", {"queue": queue}, destination)

    def enable_events(self, destination: str | Sequence[str] | None = None, **kwargs: Any) -> None:
        self.broadcast("enable_events", destination=destination)

    def disable_events(self, destination: str | Sequence[str] | None = None, **kwargs: Any) -> None:
        self.broadcast("disable_events", destination=destination)

    def pool_restart(self, destination: str | Sequence[str] | None = None, **kwargs: Any) -> None:
        self.broadcast("pool_restart", destination=destination)

    def heartbeat(self, destination: str | Sequence[str] | None = None, **kwargs: Any) -> None:
        self.broadcast("heartbeat", destination=destination)

    def _publish(
        self,
        command: str,
        arguments: dict[str, Any],
        destination: str | Sequence[str] | None,
        conn: Any,
        shim: ShimKeys,
        reply_to: str | None = None,
    ) -> int:
        return publish_control(
            conn, shim, command, arguments, _destination(destination), float(self.app.now()), reply_to=reply_to
        )


def _collect(pubsub: Any, timeout: float, limit: int | None) -> list[dict[str, Any]]:
    """The replies heard on ``pubsub`` until ``timeout`` seconds passed or ``limit`` came."""
    replies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0 and (limit is None or len(replies) < limit):
        message = pubsub.get_message(timeout=min(left, 0.1))
        if message is None or message.get("type") != "message":
            continue
        try:
            answer = json.loads(message["data"])
        except ValueError:
            continue
        if isinstance(answer, dict):
            replies.append(answer)
    return replies
