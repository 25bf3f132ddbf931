"""AsyncResult over the result backend and the gocraft structures (spec D5), and EagerResult.

An AsyncResult reads the stored result first (``celery-task-meta-<id>``). When none is stored,
or there is no result backend, the state comes from where the job is in the gocraft namespace
(``task_state``): a job run by a Go pool, or by a Python pool without a backend, still reports
SUCCESS, FAILURE, RETRY, STARTED, RECEIVED or PENDING. Values (``result``, ``get()``) need a
backend, as in Celery; a Go-run job's value is None.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import _state, states
from ..backends.base import DisabledBackend, UnusableBackend
from ..backends.codec import decode_meta
from ..backends.redis import RedisBackend, nap_before
from ..gocraft.task_state import GocraftJobError, StateLookup
from .join_guard import assert_will_not_block

if TYPE_CHECKING:
    from ..app.base import Celery

__all__ = ["AsyncResult", "Callback", "EagerResult", "ResultHandle", "resolve_app"]

# While waiting, the stored result and the history log are read at every wake-up (pub/sub or
# ``interval``); the whole gocraft search (z-set scans) runs at most this often.
FULL_LOOKUP_EVERY = 2.0

Callback = Callable[[str, Any], Any]

# -- lookups shared by every AsyncResult of one app -----------------------------------------------
_lookups: weakref.WeakKeyDictionary[Celery, tuple[Any, StateLookup]] = weakref.WeakKeyDictionary()
_lookups_lock = threading.Lock()


def _state_lookup(app: Celery) -> StateLookup:
    """A StateLookup on the app's broker and namespace (remade when either changes)."""
    conn, keys = app._connection()
    with _lookups_lock:
        cached = _lookups.get(app)
        if cached is not None and cached[0] == (id(conn), keys.namespace):
            return cached[1]
        lookup = StateLookup(conn, keys.namespace)
        _lookups[app] = ((id(conn), keys.namespace), lookup)
        return lookup


def resolve_app(app: Celery | None) -> Celery:
    if app is not None:
        return app
    return _state.current_app()


class ResultHandle:
    """What AsyncResult and ResultSet share: the app they read through (the one given, else the
    current app at the time of use), and revoking their tasks through that app's control."""

    _app: Celery | None

    @property
    def app(self) -> Celery:
        return resolve_app(self._app)

    @app.setter
    def app(self, app: Celery) -> None:
        self._app = app

    def _task_ids(self) -> list[str]:
        raise NotImplementedError

    def revoke(
        self,
        connection: Any = None,
        terminate: bool = False,
        signal: str | None = None,
        wait: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Revoke the task(s) through ``app.control.revoke`` (D17)."""
        self.app.control.revoke(self._task_ids(), terminate=terminate, signal=signal or "SIGTERM")


class AsyncResult(ResultHandle):
    """A handle on a task by id: ``state``, ``result``, ``get()``, ``forget()``, ``revoke()``."""

    def __init__(
        self,
        id: str,
        backend: Any = None,
        task_name: str | None = None,
        app: Celery | None = None,
        parent: AsyncResult | None = None,
    ) -> None:
        if id is None:
            raise ValueError(f"AsyncResult requires valid id, not {type(id)}")
        self.id = id
        self._app = app
        self._backend = backend
        self._task_name = task_name
        self.parent = parent
        self._cache: dict[str, Any] | None = None
        self._callbacks: list[tuple[Callable[[Any], Any], Callable[[BaseException], Any] | None]] = []

    # -- identity ---------------------------------------------------------------------------------
    def _task_ids(self) -> list[str]:
        return [self.id]

    @property
    def backend(self) -> Any:
        return self._backend if self._backend is not None else self.app.backend

    @property
    def task_id(self) -> str:
        return self.id

    def as_tuple(self) -> tuple[tuple[str, Any], None]:
        """``((id, parent tuple), None)``: how results nest in stored children and groups."""
        return (self.id, self.parent.as_tuple() if self.parent is not None else None), None

    def as_list(self) -> list[str]:
        """This id followed by its parents' ids."""
        out = [self.id]
        if self.parent is not None:
            out.extend(self.parent.as_list())
        return out

    # -- the meta ---------------------------------------------------------------------------------
    def _stored(self) -> dict[str, Any] | None:
        """The stored result's meta, or None (also None without a backend)."""
        backend = self.backend
        if isinstance(backend, UnusableBackend):
            raise backend.error
        if isinstance(backend, DisabledBackend):
            return None
        raw = backend.raw_meta(self.id)
        return None if raw is None else decode_meta(raw)

    def _lookup(self, full: bool = True) -> dict[str, Any] | None:
        """The current meta: stored result, else gocraft (all of it, or only the history log)."""
        meta = self._stored()
        if meta is not None:
            return meta
        lookup = _state_lookup(self.app)
        found: dict[str, Any] | None
        if full:
            found = lookup.locate(self.id, self._task_name).meta(self.id)
        else:
            verdict = lookup.finished(self.id)
            found = verdict.meta(self.id) if verdict is not None else None
        if found is not None and found.get("status") in states.READY_STATES:
            # A worker stores the result before it completes the job: when the job finished
            # between the two reads, the stored result is there now, and it is the answer.
            stored = self._stored()
            if stored is not None:
                return stored
        return found

    def _get_task_meta(self) -> dict[str, Any]:
        if self._cache is not None:
            return self._cache
        meta = self._lookup() or {"status": states.PENDING, "result": None, "task_id": self.id}
        self._maybe_set_cache(meta)
        return meta

    def _maybe_set_cache(self, meta: dict[str, Any]) -> None:
        if meta.get("status") in states.READY_STATES:
            children = meta.get("children")
            if children:
                meta["children"] = self._results_of(children)
            self._cache = meta
            self._fire()

    def _fire(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for on_ready, on_error in callbacks:
            try:
                on_ready(self)
            except BaseException as err:
                if on_error is None:
                    raise
                on_error(err)

    def _needs_backend(self) -> None:
        """Values come only from a result backend (Celery raises the same without one)."""
        backend = self.backend
        if isinstance(backend, DisabledBackend):
            backend.get_task_meta(self.id)  # raises NotImplementedError or ImproperlyConfigured

    @property
    def state(self) -> str:
        """PENDING, RECEIVED, STARTED, RETRY, SUCCESS, FAILURE, REVOKED, or a custom state."""
        return str(self._get_task_meta()["status"])

    status = state

    @property
    def result(self) -> Any:
        """The return value; the exception for FAILURE and RETRY; a custom state's meta."""
        self._needs_backend()
        return self._get_task_meta()["result"]

    info = result

    @property
    def traceback(self) -> str | None:
        self._needs_backend()
        tb = self._get_task_meta().get("traceback")
        return None if tb is None else str(tb)

    @property
    def date_done(self) -> dt.datetime | None:
        """When the task finished (UTC), for ready states."""
        value = self._get_task_meta().get("date_done")
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                return None
        return value if isinstance(value, dt.datetime) else None

    @property
    def children(self) -> list[Any] | None:
        children = self._get_task_meta().get("children")
        return children if children is None else self._results_of(children)

    def _results_of(self, children: list[Any]) -> list[Any]:
        """Stored ``as_tuple()`` forms as result handles (handles are kept as they are)."""
        from .result_set import result_from_tuple  # result_set builds on this module

        return [result_from_tuple(c, self._app) for c in children]

    @property
    def name(self) -> str | None:
        value = self._get_task_meta().get("name")
        return value if value is not None else self._task_name

    @property
    def args(self) -> Any:
        return self._get_task_meta().get("args")

    @property
    def kwargs(self) -> Any:
        return self._get_task_meta().get("kwargs")

    @property
    def worker(self) -> str | None:
        return self._get_task_meta().get("worker")

    @property
    def retries(self) -> int | None:
        return self._get_task_meta().get("retries")

    @property
    def queue(self) -> str | None:
        return self._get_task_meta().get("queue")

    # -- predicates -------------------------------------------------------------------------------
    def ready(self) -> bool:
        """True once the task finished: SUCCESS, FAILURE or REVOKED."""
        return self.state in states.READY_STATES

    def successful(self) -> bool:
        return self.state == states.SUCCESS

    def failed(self) -> bool:
        return self.state == states.FAILURE

    def exists(self) -> bool:
        """Whether anything knows this id: a stored result, the revoked set, or any gocraft
        structure (queues included, read in chunks). Tells a queued task from an unknown id."""
        backend = self.backend
        if isinstance(backend, RedisBackend) and backend.exists(self.id):
            return True
        lookup = _state_lookup(self.app)
        return lookup.locate(self.id, self._task_name, scan_queues=True).exists

    # -- waiting ----------------------------------------------------------------------------------
    def maybe_throw(self, propagate: bool = True, callback: Callback | None = None) -> Any:
        """Raise the task's exception if it failed or was revoked (with ``propagate``); else
        return its result, after calling ``callback(id, result)``."""
        meta = self._cache if self._cache is not None else self._get_task_meta()
        value = meta.get("result")
        if meta.get("status") in states.PROPAGATE_STATES and propagate:
            if isinstance(value, BaseException):
                raise value
            raise GocraftJobError(str(value))
        if callback is not None:
            callback(self.id, value)
        return value

    maybe_reraise = maybe_throw

    def _maybe_reraise_parent_error(self) -> None:
        parents = []
        node = self.parent
        while node is not None:
            parents.append(node)
            node = node.parent
        for node in reversed(parents):
            node.maybe_throw()

    def get(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        interval: float = 0.5,
        no_ack: bool = True,
        follow_parents: bool = True,
        callback: Callback | None = None,
        on_message: Any = None,
        on_interval: Callable[[], Any] | None = None,
        disable_sync_subtasks: bool = True,
    ) -> Any:
        """Wait until the task is ready and return its result (re-raising its exception).

        Wakes at once on the result key's PUBLISH; ``interval`` is how often the stored result
        and the history log are re-read meanwhile. TimeoutError after ``timeout`` seconds.
        Inside a task it raises RuntimeError unless ``disable_sync_subtasks=False``.
        """
        if disable_sync_subtasks:
            assert_will_not_block()
        if follow_parents and propagate and self.parent is not None:
            self._maybe_reraise_parent_error()
        if self._cache is not None:
            if propagate:
                self.maybe_throw(callback=callback)
            return self._cache.get("result")
        backend = self.backend
        if isinstance(backend, DisabledBackend):
            backend.wait_for(self.id)  # raises: values need a result backend
        if on_message is not None:
            raise NotImplementedError("on_message is not supported by celery_shim's result backend")
        self._wait(backend, timeout, interval, on_interval, follow_parents and propagate)
        return self.maybe_throw(propagate=propagate, callback=callback)

    wait = get

    def _wait(
        self,
        backend: RedisBackend,
        timeout: float | None,
        interval: float,
        on_interval: Callable[[], Any] | None,
        check_parents: bool,
    ) -> None:
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        interval = max(0.01, float(interval))
        with backend.listen(self.id) as listener:
            meta = self._get_task_meta()
            last_full = time.monotonic()
            while meta.get("status") not in states.READY_STATES:
                listener.wait(nap_before(deadline, interval))
                if on_interval is not None:
                    on_interval()
                if check_parents and self.parent is not None:
                    self._maybe_reraise_parent_error()
                full = time.monotonic() - last_full >= FULL_LOOKUP_EVERY
                if full:
                    last_full = time.monotonic()
                found = self._lookup(full=full)
                if found is not None:
                    meta = found
                    self._maybe_set_cache(meta)

    def then(
        self, callback: Callable[[Any], Any], on_error: Callable[[BaseException], Any] | None = None, weak: bool = False
    ) -> AsyncResult:
        """Call ``callback(result_handle)`` once this handle sees the task ready (at once if it
        already is). Nothing watches in the background: ``get()``, ``ready()`` or ``state``
        notice it, as with Celery's synchronous backends."""
        self._callbacks.append((callback, on_error))
        if self._cache is not None:
            self._fire()
        return self

    # -- changing it ------------------------------------------------------------------------------
    def forget(self) -> None:
        """Delete the stored result (and this handle's cached copy)."""
        self._cache = None
        if self.parent is not None:
            self.parent.forget()
        self.backend.forget(self.id)  # without a backend this raises, as in Celery

    # -- plumbing ---------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.id}>"

    def __str__(self) -> str:
        return str(self.id)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AsyncResult):
            return other.id == self.id
        if isinstance(other, str):
            return other == self.id
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__class__, (self.id, None, self._task_name, None, self.parent)


class EagerResult(AsyncResult):
    """The outcome of a task run in this process (``apply()``, or ``delay()`` when eager)."""

    def __init__(
        self,
        id: str,
        ret_value: Any,
        state: str,
        traceback: str | None = None,
        name: str | None = None,
        retries: int = 0,
    ) -> None:
        super().__init__(id, task_name=name)
        self._result = ret_value
        self._state = state
        self._traceback = traceback
        self._retries = retries

    def _get_task_meta(self) -> dict[str, Any]:
        return {
            "status": self._state,
            "result": self._result,
            "traceback": self._traceback,
            "task_id": self.id,
            "name": self._task_name,
            "retries": self._retries,
        }

    def _needs_backend(self) -> None:
        return None

    @property
    def retries(self) -> int:
        return self._retries

    @property
    def state(self) -> str:
        return self._state

    status = state

    @property
    def result(self) -> Any:
        return self._result

    info = result

    @property
    def traceback(self) -> str | None:
        return self._traceback

    def ready(self) -> bool:
        return True

    def exists(self) -> bool:
        return True

    def get(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        interval: float = 0.5,
        no_ack: bool = True,
        follow_parents: bool = True,
        callback: Callback | None = None,
        on_message: Any = None,
        on_interval: Callable[[], Any] | None = None,
        disable_sync_subtasks: bool = True,
    ) -> Any:
        """The return value; re-raises the task's exception for FAILURE/REVOKED when ``propagate``."""
        if self.successful():
            return self._result
        if self._state in states.PROPAGATE_STATES and propagate:
            if isinstance(self._result, BaseException):
                raise self._result
            raise Exception(self._result)
        return self._result

    wait = get

    def then(
        self, callback: Callable[[Any], Any], on_error: Callable[[BaseException], Any] | None = None, weak: bool = False
    ) -> AsyncResult:
        callback(self)
        return self

    def forget(self) -> None:
        """Nothing is stored for an eager result."""

    def revoke(self, *args: Any, **kwargs: Any) -> None:
        """An eager task already ran; revoking marks this handle REVOKED, as in Celery."""
        self._state = states.REVOKED

    def __repr__(self) -> str:
        return f"<EagerResult: {self.id}>"
