"""Logging for ``worker`` and ``beat``, with Celery's rule: a connected ``setup_logging`` receiver
means the project configures logging itself (cookiecutter-django does), so nothing is touched."""

from __future__ import annotations

import logging
import sys
from typing import Any

from .. import signals

__all__ = ["DEFAULT_FORMAT", "LEVELS", "setup_logging"]

# Celery's worker_log_format default.
DEFAULT_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "FATAL")


def setup_logging(conf: Any, loglevel: str, logfile: str | None) -> bool:
    """Configure the root logger at ``loglevel`` (to ``logfile`` or stderr); False when a
    ``setup_logging`` receiver took over instead."""
    level = logging.getLevelName(loglevel.upper())
    fmt = str(conf.get("worker_log_format") or DEFAULT_FORMAT)
    named: dict[str, Any] = {"loglevel": level, "logfile": logfile, "format": fmt, "colorize": False}
    if signals.setup_logging.receivers:
        signals.setup_logging.send(sender=None, **named)
        return False
    root = logging.getLogger()
    if conf.get("worker_hijack_root_logger", True):
        for handler in list(root.handlers):
            root.removeHandler(handler)
    if not root.handlers:
        out: logging.Handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stderr)
        out.setFormatter(logging.Formatter(fmt))
        root.addHandler(out)
    root.setLevel(level)
    signals.after_setup_logger.send(sender=None, logger=root, **named)
    signals.after_setup_task_logger.send(sender=None, logger=logging.getLogger("celery.task"), **named)
    return True
