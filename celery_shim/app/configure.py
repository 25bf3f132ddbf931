"""Configuring an app: its settings sources, task discovery, finalizing and periodic tasks.

A base of the Celery class (``app.config_from_object``, ``app.autodiscover_tasks``, ``app.finalize``,
``app.add_periodic_task``), kept apart from the publishing and the handles in ``app.base``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from .. import _state, signals
from ..canvas import Signature
from ..exceptions import ImproperlyConfigured
from ..signals import Signal
from .autodiscover import discover_task_modules
from .config import Settings

if TYPE_CHECKING:
    from .base import Celery

__all__ = ["Configuring"]

logger = logging.getLogger(__name__)


class Configuring:
    """The configuration half of ``Celery``; the attributes below are set by ``Celery.__init__``."""

    conf: Settings
    configured: bool
    finalized: bool
    on_configure: Signal
    on_after_configure: Signal
    on_after_finalize: Signal
    _pending_discovery: list[tuple[Any, str | None]]

    def config_from_object(
        self, obj: Any, silent: bool = False, force: bool = False, namespace: str | None = None
    ) -> None:
        """Read settings live from a module path, ``"mod:attr"``, class or object (see Settings)."""
        try:
            self.conf.config_from_object(obj, namespace=namespace)
        except ImproperlyConfigured:
            if silent:
                return
            raise

    def config_from_envvar(self, variable_name: str, silent: bool = False, force: bool = False) -> bool:
        """Read settings from the module named by the environment variable ``variable_name``."""
        module = os.environ.get(variable_name)
        if not module:
            if silent:
                return False
            raise ImproperlyConfigured(
                f"the environment variable {variable_name!r} is not set; it should name a settings module"
            )
        self.config_from_object(module, silent=silent, force=force)
        return True

    def autodiscover_tasks(self, packages: Any = None, related_name: str | None = "tasks", force: bool = False) -> None:
        """Import ``<package>.tasks`` for each package (Django's installed apps when None).

        Lazy unless ``force``: done when the worker imports its modules or the app is finalized.
        The modules found join ``include``, so prefork children import them too.
        """
        if force:
            self._discover(packages, related_name)
            return
        self._pending_discovery.append((packages, related_name))
        signals.import_modules.connect(
            self._discover_pending, sender=self, weak=False, dispatch_uid=("autodiscover", id(self))
        )

    def _discover_pending(self, **_: Any) -> None:
        pending, self._pending_discovery = self._pending_discovery, []
        for packages, related_name in pending:
            self._discover(packages, related_name)

    def _discover(self, packages: Any, related_name: str | None) -> None:
        found = discover_task_modules(packages, related_name)
        include = tuple(self.conf.get("include") or ())
        extra = tuple(m for m in found if m not in include)
        if extra:
            self.conf.include = (*include, *extra)

    def finalize(self, auto: bool = False) -> None:
        """Send ``on_configure``, ``on_after_configure`` and ``on_after_finalize``, once each.

        Celery sends them when the configuration is first read and when the registry is finalized;
        here the beat and the worker call this before reading ``beat_schedule`` or the registry, so
        ``add_periodic_task`` calls made in an ``on_after_configure`` receiver are seen.
        """
        with _state._lock:
            if self.finalized:
                return
            self.finalized = True
        self._discover_pending()
        self.on_configure.send(sender=self)
        self.configured = True
        self.on_after_configure.send(sender=self, source=self.conf)
        self.on_after_finalize.send(sender=self)

    def add_periodic_task(
        self, schedule: Any, sig: Any, args: Sequence[Any] = (), kwargs: Any = (), name: str | None = None, **opts: Any
    ) -> str:
        """Add a ``beat_schedule`` entry that runs ``sig`` on ``schedule``; returns its key.

        The key is ``name``, else ``repr(sig)``; adding the same key again replaces the entry, as
        in Celery. ``sig`` is a signature (``add.s(2, 2)``) or a task; ``opts`` are call options.
        """
        if isinstance(sig, Signature):
            sig = sig.clone(args, dict(kwargs or {}))
        else:
            sig = Signature(sig, args, dict(kwargs or {}), app=cast("Celery", self))  # a task, or a task name
        key = name or repr(sig)
        entry = {"schedule": schedule, "task": sig.task, "args": sig.args, "kwargs": sig.kwargs}
        entry["options"] = {**sig.options, **opts}
        schedules = self.conf.beat_schedule
        if name is None and key in schedules:
            logger.warning("periodic task key %r replaced an unnamed entry; pass name= to keep both", key)
        if self.conf.is_set("beat_schedule") and isinstance(schedules, MutableMapping):
            schedules[key] = entry  # in place, as Celery does: a live settings dict sees it too
        else:
            self.conf.beat_schedule = {**schedules, key: entry}
        return key
