"""Logging for ``worker`` and ``beat``, with Celery's rule: a connected ``setup_logging`` receiver
means the project configures logging itself (cookiecutter-django does), so nothing is touched."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from .. import signals
from ..utils.log import TaskFormatter  # where Celery code also imports it from

__all__ = ["DEFAULT_FORMAT", "LEVELS", "LoggingProxy", "TaskFormatter", "redirect_stdouts", "setup_logging"]

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


class LoggingProxy:
    """A text stream whose lines become log records: what a task prints reaches the worker's log,
    with its level, time and process, as Celery's worker does (``worker_redirect_stdouts``)."""

    def __init__(self, logger: logging.Logger, level: int, fallback: Any) -> None:
        self.logger = logger
        self.level = level
        self.fallback = fallback  # the real stream, for what logging itself writes while we log
        self._local = threading.local()
        self._partial = threading.local()

    def write(self, text: str) -> int:
        if getattr(self._local, "busy", False):  # a handler (or logging's last resort) writing here
            return int(self.fallback.write(text))
        buffered = getattr(self._partial, "text", "") + text
        *lines, rest = buffered.split("\n")
        self._partial.text = rest
        self._local.busy = True
        try:
            for line in lines:
                if line.strip():
                    self.logger.log(self.level, line.rstrip())
        finally:
            self._local.busy = False
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        rest = getattr(self._partial, "text", "")
        if rest.strip():
            self._partial.text = ""
            self.write(rest + "\n")

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return str(getattr(self.fallback, "encoding", "utf-8") or "utf-8")


def redirect_stdouts(conf: Any) -> None:
    """With ``worker_redirect_stdouts`` (default True), send ``print()`` output and other writes to
    stdout and stderr to the ``celery.redirected`` logger at ``worker_redirect_stdouts_level``.
    Call it after logging is set up: the handlers keep the real streams."""
    if not conf.get("worker_redirect_stdouts", True):
        return
    if isinstance(sys.stdout, LoggingProxy):
        return
    name = str(conf.get("worker_redirect_stdouts_level") or "WARNING").upper()
    level = logging.getLevelName(name)
    proxy = LoggingProxy(
        logging.getLogger("celery.redirected"), level if isinstance(level, int) else logging.WARNING, sys.__stderr__
    )
    sys.stdout.flush()
    sys.stdout = sys.stderr = proxy
