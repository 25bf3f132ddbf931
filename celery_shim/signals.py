"""Signals with Celery's names, arguments and connect/send API (Celery's ``celery.signals``).

A receiver is called as ``receiver(signal=sig, sender=sender, **named)``. A receiver that raises
is logged and does not stop the others or the task, as in Celery. Receivers are held weakly by
default (``weak=True``), so connecting a local closure needs ``weak=False`` — the same rule Celery
users already follow.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = [
    "Signal",
    "after_setup_logger",
    "after_setup_task_logger",
    "after_task_publish",
    "beat_embedded_init",
    "beat_init",
    "before_task_publish",
    "celeryd_after_setup",
    "celeryd_init",
    "heartbeat_sent",
    "import_modules",
    "setup_logging",
    "task_failure",
    "task_internal_error",
    "task_postrun",
    "task_prerun",
    "task_received",
    "task_rejected",
    "task_retry",
    "task_revoked",
    "task_sent",
    "task_success",
    "task_unknown",
    "worker_init",
    "worker_process_init",
    "worker_process_shutdown",
    "worker_ready",
    "worker_shutdown",
    "worker_shutting_down",
]

logger = logging.getLogger(__name__)

Receiver = Callable[..., Any]


def _ref(receiver: Receiver, weak: bool) -> Callable[[], Receiver | None]:
    if not weak:
        return lambda: receiver
    try:
        if hasattr(receiver, "__self__") and hasattr(receiver, "__func__"):
            return weakref.WeakMethod(receiver)
        return weakref.ref(receiver)
    except TypeError:  # not weakly referenceable (a builtin, a partial): keep it
        return lambda: receiver


def _sender_matches(wanted: Any, sender: Any) -> bool:
    if wanted is None:
        return True
    if wanted is sender:
        return True
    name = getattr(sender, "name", None)
    return bool(wanted == sender or (isinstance(wanted, str) and wanted == name))


class Signal:
    """A named hook: ``@sig.connect``, ``@sig.connect(sender=...)``, ``sig.send(sender, **kw)``."""

    def __init__(self, name: str | None = None, providing_args: Any = None, use_caching: bool = False) -> None:
        self.name = name or "Signal"
        self._lock = threading.Lock()
        self._receivers: list[tuple[Any, Callable[[], Receiver | None], Any]] = []

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        """Connect a receiver; usable as ``@sig.connect`` or ``@sig.connect(sender=..., weak=False)``."""
        if args and callable(args[0]):
            return self._connect(args[0], **kwargs)

        def decorate(fun: Receiver) -> Receiver:
            return self._connect(fun, **kwargs)

        return decorate

    def _connect(
        self,
        receiver: Receiver,
        sender: Any = None,
        weak: bool = True,
        dispatch_uid: Any = None,
        retry: bool = False,
    ) -> Receiver:
        key = dispatch_uid if dispatch_uid is not None else (id(receiver), id(sender) if sender is not None else None)
        with self._lock:
            if not any(k == key for k, _, _ in self._receivers):
                self._receivers.append((key, _ref(receiver, weak), sender))
        return receiver

    def disconnect(self, receiver: Receiver | None = None, sender: Any = None, dispatch_uid: Any = None) -> bool:
        """Remove a receiver; True if one was connected."""
        with self._lock:
            before = len(self._receivers)
            self._receivers = [
                (k, ref, s)
                for k, ref, s in self._receivers
                if not (
                    (dispatch_uid is not None and k == dispatch_uid)
                    or (receiver is not None and ref() is receiver and (sender is None or s is sender))
                )
            ]
            return len(self._receivers) != before

    @property
    def receivers(self) -> list[Receiver]:
        """The live receivers, in connection order."""
        with self._lock:
            entries = list(self._receivers)
        return [r for _, ref, _ in entries if (r := ref()) is not None]

    def has_receivers(self) -> bool:
        """Whether anything may be connected (no lock, no sender check): lets a hot path skip
        building what only a receiver would read."""
        return bool(self._receivers)

    def has_listeners(self, sender: Any = None) -> bool:
        return bool(self._live(sender))

    def _live(self, sender: Any) -> list[Receiver]:
        with self._lock:
            entries = list(self._receivers)
            self._receivers = [e for e in entries if e[1]() is not None]
        out = []
        for _, ref, wanted in entries:
            r = ref()
            if r is not None and _sender_matches(wanted, sender):
                out.append(r)
        return out

    def send(self, sender: Any, **named: Any) -> list[tuple[Receiver, Any]]:
        """Call every receiver for ``sender``; a receiver's exception is logged and returned as its reply."""
        if not self._receivers:  # the common case in a worker: nothing connected, nothing to build
            return []
        replies: list[tuple[Receiver, Any]] = []
        for receiver in self._live(sender):
            try:
                replies.append((receiver, receiver(signal=self, sender=sender, **named)))
            except Exception as exc:
                logger.exception("signal %s: receiver %r raised", self.name, receiver)
                replies.append((receiver, exc))
        return replies

    send_robust = send

    def __repr__(self) -> str:
        return f"<Signal: {self.name}>"


# -- task signals ----------------------------------------------------------------------------------
before_task_publish = Signal("before_task_publish")
after_task_publish = Signal("after_task_publish")
task_sent = Signal("task_sent")
task_received = Signal("task_received")
task_prerun = Signal("task_prerun")
task_postrun = Signal("task_postrun")
task_success = Signal("task_success")
task_retry = Signal("task_retry")
task_failure = Signal("task_failure")
task_internal_error = Signal("task_internal_error")
task_revoked = Signal("task_revoked")
task_rejected = Signal("task_rejected")
task_unknown = Signal("task_unknown")

# -- worker, beat and logging signals --------------------------------------------------------------
celeryd_init = Signal("celeryd_init")
celeryd_after_setup = Signal("celeryd_after_setup")
import_modules = Signal("import_modules")
worker_init = Signal("worker_init")
worker_process_init = Signal("worker_process_init")
worker_process_shutdown = Signal("worker_process_shutdown")
worker_ready = Signal("worker_ready")
worker_shutting_down = Signal("worker_shutting_down")
worker_shutdown = Signal("worker_shutdown")
heartbeat_sent = Signal("heartbeat_sent")
beat_init = Signal("beat_init")
beat_embedded_init = Signal("beat_embedded_init")
setup_logging = Signal("setup_logging")
after_setup_logger = Signal("after_setup_logger")
after_setup_task_logger = Signal("after_setup_task_logger")
