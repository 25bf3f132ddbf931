"""Task results: EagerResult for eager runs, AsyncResult as a handle on a published job.

No result backend exists yet, so an AsyncResult knows only its id; everything else raises
NotImplementedError (D5 lookups through the gocraft structures come later).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import states

if TYPE_CHECKING:
    from .app import Celery

__all__ = ["AsyncResult", "EagerResult"]

_NO_BACKEND = "no result backend is configured"


class AsyncResult:
    """A handle on a task by id. Without a result backend only ``id`` works."""

    def __init__(self, id: str, backend: Any = None, task_name: str | None = None, app: Celery | None = None) -> None:
        self.id = id
        self.name = task_name
        self.app = app

    @property
    def task_id(self) -> str:
        return self.id

    def _unsupported(self) -> NotImplementedError:
        return NotImplementedError(_NO_BACKEND)

    @property
    def state(self) -> str:
        raise self._unsupported()

    status = state

    @property
    def result(self) -> Any:
        raise self._unsupported()

    info = result

    def get(self, timeout: float | None = None, propagate: bool = True, **kwargs: Any) -> Any:
        raise self._unsupported()

    def ready(self) -> bool:
        raise self._unsupported()

    def successful(self) -> bool:
        raise self._unsupported()

    def failed(self) -> bool:
        raise self._unsupported()

    def __repr__(self) -> str:
        return f"<AsyncResult: {self.id}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AsyncResult):
            return other.id == self.id
        if isinstance(other, str):
            return other == self.id
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)


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
        self.retries = retries

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

    def successful(self) -> bool:
        return self._state == states.SUCCESS

    def failed(self) -> bool:
        return self._state == states.FAILURE

    def get(self, timeout: float | None = None, propagate: bool = True, **kwargs: Any) -> Any:
        """The return value; re-raises the task's exception for FAILURE/REVOKED when ``propagate``."""
        if self.successful():
            return self._result
        if self._state in states.PROPAGATE_STATES and propagate:
            if isinstance(self._result, BaseException):
                raise self._result
            raise Exception(self._result)
        return self._result

    wait = get

    def forget(self) -> None:
        """Nothing is stored for an eager result."""

    def __repr__(self) -> str:
        return f"<EagerResult: {self.id}>"
