"""ResultSet and GroupResult: several task results handled together, and a group saved under
its id (``celery-taskset-meta-<id>``) for ``GroupResult.restore(id)``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..exceptions import TimeoutError
from .async_result import AsyncResult, Callback, ResultHandle, resolve_app
from .join_guard import assert_will_not_block

if TYPE_CHECKING:
    from ..app.base import Celery

__all__ = ["GroupResult", "ResultSet", "result_from_tuple"]


class ResultSet(ResultHandle):
    """Several results handled together: ``ready()``, ``completed_count()``, ``join()``."""

    def __init__(self, results: Iterable[AsyncResult] | None = None, app: Celery | None = None, **kwargs: Any) -> None:
        self._app = app
        self.results: list[Any] = list(results or [])

    def _task_ids(self) -> list[str]:
        return [r.id for r in self.results]

    @property
    def backend(self) -> Any:
        return self.app.backend

    def add(self, result: AsyncResult) -> None:
        if result not in self.results:
            self.results.append(result)

    def remove(self, result: AsyncResult | str) -> None:
        """Remove a member; KeyError when it is not one."""
        try:
            self.results.remove(result)
        except ValueError:
            raise KeyError(result) from None

    def discard(self, result: AsyncResult | str) -> None:
        try:
            self.remove(result)
        except KeyError:
            pass

    def update(self, results: Iterable[AsyncResult]) -> None:
        self.results.extend(r for r in results if r not in self.results)

    def clear(self) -> None:
        self.results[:] = []

    def successful(self) -> bool:
        return all(r.successful() for r in self.results)

    def failed(self) -> bool:
        return any(r.failed() for r in self.results)

    def waiting(self) -> bool:
        return any(not r.ready() for r in self.results)

    def ready(self) -> bool:
        return all(r.ready() for r in self.results)

    def completed_count(self) -> int:
        """How many members finished successfully."""
        return sum(1 for r in self.results if r.successful())

    def maybe_throw(self, callback: Callback | None = None, propagate: bool = True) -> None:
        for r in self.results:
            r.maybe_throw(callback=callback, propagate=propagate)

    maybe_reraise = maybe_throw

    def forget(self) -> None:
        for r in self.results:
            r.forget()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.results)

    def __getitem__(self, index: int) -> Any:
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ResultSet):
            return other.results == self.results
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: [{', '.join(r.id for r in self.results)}]>"

    def join(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        interval: float = 0.5,
        callback: Callback | None = None,
        no_ack: bool = True,
        on_message: Any = None,
        disable_sync_subtasks: bool = True,
        on_interval: Callable[[], Any] | None = None,
    ) -> list[Any]:
        """Wait for every member in order; ``timeout`` bounds the whole join, not each member.

        With ``callback``, it is called as ``callback(id, value)`` per member and the list is empty.
        """
        if disable_sync_subtasks:
            assert_will_not_block()
        start = time.monotonic()
        values: list[Any] = []
        for r in self.results:
            remaining = None
            if timeout is not None:
                remaining = timeout - (time.monotonic() - start)
                if remaining <= 0:
                    raise TimeoutError("join operation timed out")
            value = r.get(
                timeout=remaining,
                propagate=propagate,
                interval=interval,
                on_interval=on_interval,
                disable_sync_subtasks=disable_sync_subtasks,
            )
            if callback is not None:
                callback(r.id, value)
            else:
                values.append(value)
        return values

    get = join  # Celery's ResultSet.get is a join (no_ack and on_message change nothing here)
    join_native = join


class GroupResult(ResultSet):
    """The results of a group, with an id under which it can be saved and restored.

    ``app.GroupResult`` is a subclass bound to the app (``bound_app``), so
    ``app.GroupResult.restore(id)`` reads through that app's backend, as in Celery.
    """

    bound_app: Celery | None = None

    def __init__(
        self,
        id: str | None = None,
        results: Iterable[AsyncResult] | None = None,
        parent: AsyncResult | None = None,
        app: Celery | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(results, app=app or self.bound_app)
        self.id = id
        self.parent = parent

    def as_tuple(self) -> tuple[tuple[str | None, Any], list[Any]]:
        return (self.id, self.parent.as_tuple() if self.parent is not None else None), [
            r.as_tuple() for r in self.results
        ]

    @property
    def children(self) -> list[Any]:
        return self.results

    def save(self, backend: Any = None) -> GroupResult:
        """Store the group (``celery-taskset-meta-<id>``) for ``GroupResult.restore(id)``."""
        if self.id is None:
            raise ValueError("a GroupResult needs an id to be saved")
        (backend or self.app.backend).save_group(self.id, self.as_tuple())
        return self

    def delete(self, backend: Any = None) -> None:
        if self.id is not None:
            (backend or self.app.backend).delete_group(self.id)

    @classmethod
    def restore(cls, id: str, backend: Any = None, app: Celery | None = None) -> GroupResult | None:
        """The saved group of this id (None when none is saved)."""
        resolved = resolve_app(app or cls.bound_app)
        stored = (backend or resolved.backend).restore_group(id)
        if stored is None:
            return None
        found = result_from_tuple(stored, resolved)
        return found if isinstance(found, GroupResult) else None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GroupResult):
            return other.id == self.id and other.results == self.results and other.parent == self.parent
        if isinstance(other, str):
            return other == self.id
        return NotImplemented

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self.id)

    def __bool__(self) -> bool:
        return bool(self.id or self.results)

    def __repr__(self) -> str:
        return f"<GroupResult: {self.id} [{', '.join(r.id for r in self.results)}]>"

    def __str__(self) -> str:
        return str(self.id)


def result_from_tuple(value: Any, app: Celery | None = None) -> Any:
    """Rebuild an AsyncResult or GroupResult from its ``as_tuple()`` form (lists from JSON too)."""
    if isinstance(value, (AsyncResult, ResultSet)):
        return value
    head, nodes = value
    if isinstance(head, (list, tuple)):
        task_id, parent_tuple = head
    else:
        task_id, parent_tuple = head, None
    parent = result_from_tuple(parent_tuple, app) if parent_tuple else None
    if nodes is not None:
        return GroupResult(task_id, [result_from_tuple(n, app) for n in nodes], parent=parent, app=app)
    return AsyncResult(task_id, app=app, parent=parent)
