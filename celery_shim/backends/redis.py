"""The Redis result backend: Celery's own Redis result layout (spec D5).

``RedisBackend`` writes ``celery-task-meta-<id>`` as Celery 5's Redis backend does (JSON with
``status, result, traceback, children, date_done, task_id``, the extended request fields with
``result_extended``, SETEX with ``result_expires``, PUBLISH of the same bytes on the key's name),
so a stock Celery client on the same Redis reads what the shim wrote, and the shim reads what
Celery wrote.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from work_compat import Connection

from .. import states
from ..exceptions import TimeoutError
from ..gocraft.keys import ResultKeys
from .codec import decode_meta, dumps, exception_to_dict, loads

__all__ = ["RedisBackend", "nap_before", "request_field"]

logger = logging.getLogger(__name__)

DEFAULT_EXPIRES = 86400.0


def _pending(task_id: str) -> dict[str, Any]:
    return {"status": states.PENDING, "result": None, "traceback": None, "children": None, "task_id": task_id}


def _as_tuple(child: Any) -> Any:
    as_tuple = getattr(child, "as_tuple", None)
    return as_tuple() if callable(as_tuple) else child


def request_field(request: Any, name: str) -> Any:
    """A field of a task request, which callers hold as a Context or as a plain dict (None: none)."""
    if request is None:
        return None
    if isinstance(request, Mapping):
        return request.get(name)
    return getattr(request, name, None)


class RedisBackend:
    """Celery's Redis result layout on one Redis connection.

    ``expires`` is the TTL of a stored result in seconds (None or 0: kept forever);
    ``failure_expires`` the TTL of FAILURE results (None: ``expires``, Celery 5.7's
    ``result_failure_expires``); ``extended`` adds the request's name, args, kwargs, worker,
    retries and queue (``result_extended``).
    """

    def __init__(
        self,
        conn: Connection,
        *,
        keys: ResultKeys | None = None,
        expires: float | None = DEFAULT_EXPIRES,
        failure_expires: float | None = None,
        extended: bool = False,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.conn = conn
        self.keys = keys or ResultKeys()
        self.expires = expires
        self.failure_expires = failure_expires
        self.extended = extended
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def _redis(self) -> Any:
        return self.conn.client

    def __repr__(self) -> str:
        return f"<RedisBackend {self.conn.address}>"

    # -- writing ----------------------------------------------------------------------------------
    def meta_for(
        self, task_id: str, result: Any, state: str, traceback: str | None = None, request: Any = None
    ) -> dict[str, Any]:
        """The JSON-ready document Celery stores for this state (exceptions as Celery's dicts)."""
        if state in states.EXCEPTION_STATES and isinstance(result, BaseException):
            result = exception_to_dict(result)
        else:
            # A task returning chord(...)() or x.delay(): Celery stores a result handle's as_tuple() (duck-typed,
            # since the result package sits above the backends).
            result = _as_tuple(result)
        children = None if request is None else [_as_tuple(c) for c in request_field(request, "children") or ()]
        meta: dict[str, Any] = {
            "status": state,
            "result": result,
            "traceback": traceback,
            "children": children,
            "date_done": self._now().isoformat() if state in states.READY_STATES else None,
        }
        group = request_field(request, "group")
        if group:
            meta["group_id"] = group
        parent = request_field(request, "parent_id")
        if parent:
            meta["parent_id"] = parent
        if self.extended and request is not None:
            delivery = request_field(request, "delivery_info") or {}
            meta.update(
                name=request_field(request, "task") or request_field(request, "name"),
                args=request_field(request, "args"),
                kwargs=request_field(request, "kwargs"),
                worker=request_field(request, "hostname"),
                retries=request_field(request, "retries"),
                queue=delivery.get("routing_key") if isinstance(delivery, Mapping) else None,
            )
        meta["task_id"] = task_id
        return meta

    def store_result(
        self, task_id: str, result: Any, state: str, traceback: str | None = None, request: Any = None
    ) -> None:
        """Write the task's state and result, and publish it for waiting ``get()`` calls.

        As in Celery, a stored SUCCESS is final: a late duplicate run (at-least-once delivery)
        does not overwrite it.
        """
        meta = self.meta_for(task_id, result, state, traceback, request)
        try:
            payload = dumps(meta)
        except (TypeError, ValueError) as err:
            raise TypeError(f"result of task {task_id} cannot be stored as JSON: {err}") from err
        key = self.keys.task(task_id)
        ttl = self.expires
        if state == states.FAILURE and self.failure_expires is not None:
            ttl = self.failure_expires
        with self.conn.errors():
            current = self._redis.get(key)
            if current is not None and _status_of(current) == states.SUCCESS:
                logger.debug("task %s already has a SUCCESS result; %s not stored", task_id, state)
                return
            pipe = self._redis.pipeline(transaction=False)
            pipe.set(key, payload, ex=max(1, int(ttl)) if ttl else None)
            pipe.publish(key, payload)
            pipe.execute()

    def mark_as_started(self, task_id: str, request: Any = None, **meta: Any) -> None:
        """STARTED with ``meta`` (Celery's worker stores ``pid`` and ``hostname``) as the result."""
        self.store_result(task_id, meta, states.STARTED, request=request)

    def forget(self, task_id: str) -> None:
        """Delete the stored result."""
        with self.conn.errors():
            self._redis.delete(self.keys.task(task_id))

    # -- reading ----------------------------------------------------------------------------------
    def raw_meta(self, task_id: str) -> dict[str, Any] | None:
        """The stored document as JSON values (exceptions still dicts), or None when absent."""
        with self.conn.errors():
            data = self._redis.get(self.keys.task(task_id))
        return _parse(task_id, data)

    def get_task_meta(self, task_id: str) -> dict[str, Any]:
        """The stored meta with exceptions rebuilt; ``{"status": "PENDING", "result": None, ...}``
        when nothing is stored."""
        meta = self.raw_meta(task_id)
        if meta is None:
            return _pending(task_id)
        return decode_meta(meta)

    def raw_metas(self, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored documents of several tasks in one round trip, as ``raw_meta`` reads one;
        tasks with nothing (readable) stored are left out."""
        ids = list(dict.fromkeys(task_ids))
        if not ids:
            return {}
        with self.conn.errors():
            values = self._redis.mget([self.keys.task(i) for i in ids])
        return {i: meta for i, data in zip(ids, values) if (meta := _parse(i, data)) is not None}

    def get_many(self, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Metas of several tasks in one round trip (PENDING for those absent)."""
        ids = list(task_ids)
        stored = self.raw_metas(ids)
        return {i: decode_meta(stored[i]) if i in stored else _pending(i) for i in ids}

    def exists(self, task_id: str) -> bool:
        """Whether a result (of any state) is stored for ``task_id``."""
        with self.conn.errors():
            return bool(self._redis.exists(self.keys.task(task_id)))

    def wait_for(self, task_id: str, timeout: float | None = None, interval: float = 0.5) -> dict[str, Any]:
        """Block until the task's stored state is ready; returns its meta.

        Listens on the key's channel so a PUBLISH wakes it at once, and re-reads the key every
        ``interval`` seconds as well (a message can be missed across a reconnect, and Celery
        writers on other setups may not publish). TimeoutError after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = max(0.01, float(interval))
        with self.listen(task_id) as listener:
            while True:
                meta = self.get_task_meta(task_id)
                if meta["status"] in states.READY_STATES:
                    return meta
                listener.wait(nap_before(deadline, interval))

    @contextlib.contextmanager
    def listen(self, task_id: str) -> Iterator[Listener]:
        """Subscribe to the task's result channel for the duration of the block (subscribe
        before the first read, so a result stored in between still wakes the reader)."""
        listener = Listener(self._redis, self.keys.task(task_id))
        try:
            yield listener
        finally:
            listener.close()

    # -- groups -----------------------------------------------------------------------------------
    def save_group(self, group_id: str, result_tuple: Any) -> None:
        """Store a GroupResult as Celery does: ``{"result": <as_tuple()>}`` with the result TTL."""
        payload = dumps({"result": result_tuple})
        key = self.keys.group(group_id)
        with self.conn.errors():
            self._redis.set(key, payload, ex=max(1, int(self.expires)) if self.expires else None)

    def restore_group(self, group_id: str) -> Any:
        """The stored ``as_tuple()`` of a group, or None."""
        with self.conn.errors():
            data = self._redis.get(self.keys.group(group_id))
        if data is None:
            return None
        try:
            doc = loads(data)
        except ValueError:
            logger.warning("stored group %s is not JSON; ignored", group_id)
            return None
        return doc.get("result") if isinstance(doc, dict) else None

    def delete_group(self, group_id: str) -> None:
        with self.conn.errors():
            self._redis.delete(self.keys.group(group_id))


def nap_before(deadline: float | None, interval: float) -> float:
    """How long a waiter sleeps before its next read: ``interval``, cut short at ``deadline`` (a
    ``time.monotonic()`` value; None: none); Celery's TimeoutError once the deadline has passed."""
    if deadline is None:
        return interval
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("The operation timed out.")
    return min(interval, left)


def _parse(task_id: str, data: bytes | str | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        meta = loads(data)
    except ValueError:
        logger.warning("stored result of task %s is not JSON; read as PENDING", task_id)
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("status"), str):
        logger.warning("stored result of task %s has no status; read as PENDING", task_id)
        return None
    return meta


def _status_of(data: bytes | str) -> str | None:
    try:
        meta = loads(data)
    except ValueError:
        return None
    return meta.get("status") if isinstance(meta, dict) else None


class Listener:
    """A subscription to one result channel; ``wait(seconds)`` returns early on a message.

    Without pub/sub (a Cluster client, a dropped connection) it degrades to sleeping, so the
    caller's re-reads every interval still see the result.
    """

    def __init__(self, client: Any, channel: str) -> None:
        self.channel = channel
        self._pubsub: Any = None
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(channel)
            self._pubsub = pubsub
        except Exception as err:  # no pub/sub here: poll instead
            logger.debug("cannot subscribe to %s (%s); polling", channel, err)

    def wait(self, seconds: float) -> None:
        """Return when a message arrives on the channel or ``seconds`` pass."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            if self._pubsub is None:
                time.sleep(left)
                return
            try:
                if self._pubsub.get_message(timeout=left) is not None:
                    return
            except Exception as err:  # the subscription dropped: fall back to polling
                logger.debug("result subscription %s lost (%s); polling", self.channel, err)
                self.close()

    def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # closing a broken connection must not hide the real outcome
                pass
