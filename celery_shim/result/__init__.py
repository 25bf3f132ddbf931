"""Task results, at the path Celery code imports them from (``celery.result``).

``AsyncResult`` and ``EagerResult`` live in ``async_result``, ``ResultSet`` and ``GroupResult`` in
``result_set``, the "inside a task" guard in ``join_guard``.
"""

from __future__ import annotations

from ..gocraft.task_state import GocraftJobError
from .async_result import AsyncResult, EagerResult
from .join_guard import allow_join_result, assert_will_not_block, denied_join_result, task_join_will_block
from .result_set import GroupResult, ResultSet, result_from_tuple

__all__ = [
    "AsyncResult",
    "EagerResult",
    "GocraftJobError",
    "GroupResult",
    "ResultSet",
    "allow_join_result",
    "assert_will_not_block",
    "denied_join_result",
    "result_from_tuple",
    "task_join_will_block",
]
