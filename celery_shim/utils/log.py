"""Task logging (Celery's ``celery.utils.log``): loggers whose records name the running task.

``get_task_logger(__name__)`` gives a logger under ``celery.task`` whose records carry
``task_name`` and ``task_id`` (``"???"`` outside a task), so ``worker_task_log_format``
(``%(task_name)s[%(task_id)s]``) works with any handler. ``TaskFormatter`` fills the same fields
for records of other loggers.
"""

from __future__ import annotations

import logging

__all__ = ["TaskFormatter", "get_logger", "get_task_logger", "task_logger"]

RESERVED_LOGGER_NAMES = frozenset({"celery", "celery.task"})
UNKNOWN = "???"

task_logger = logging.getLogger("celery.task")


def _task_fields(record: logging.LogRecord) -> None:
    from .._state import current_task

    task = current_task()
    if task is not None:
        record.__dict__.setdefault("task_name", task.name)
        record.__dict__.setdefault("task_id", task.request.id)
    else:
        record.__dict__.setdefault("task_name", UNKNOWN)
        record.__dict__.setdefault("task_id", UNKNOWN)


class _TaskFields(logging.Filter):
    """Adds ``task_name``/``task_id`` to every record of a task logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        _task_fields(record)
        return True


_FILTER = _TaskFields()


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)``, as Celery's helper."""
    return logging.getLogger(name)


def get_task_logger(name: str) -> logging.Logger:
    """A logger for a task module; its records carry ``task_name`` and ``task_id``."""
    if name in RESERVED_LOGGER_NAMES:
        raise RuntimeError(f"Logger name {name!r} is reserved!")
    logger = logging.getLogger(name)
    if not _descends(logger, task_logger):  # as Celery: task loggers propagate through celery.task
        logger.parent = task_logger
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def _descends(logger: logging.Logger, ancestor: logging.Logger) -> bool:
    node: logging.Logger | None = logger
    while node is not None:
        if node is ancestor:
            return True
        node = node.parent
    return False


class TaskFormatter(logging.Formatter):
    """A formatter for ``worker_task_log_format``: fills ``task_name``/``task_id`` on any record."""

    def format(self, record: logging.LogRecord) -> str:
        _task_fields(record)
        return super().format(record)
