"""The live, mutable ``app.conf``: Celery's setting names, defaults and old upper-case aliases.

Lookup order for a setting: the environment overrides Celery itself honours (``CELERY_BROKER_URL``,
``CELERY_RESULT_BACKEND``), then values set on the conf (``conf.x = ...``, ``conf.update``,
``Celery(**settings)``), then the objects given to ``config_from_object`` — newest first, read
**live** on every lookup, so flipping ``settings.CELERY_TASK_ALWAYS_EAGER`` after configuration
works as it does in Celery — and finally Celery's defaults.

Hot paths (a worker's per-job checks, the broker and backend behind each publish) read a
``snapshot()`` instead: each setting read once per snapshot, and a new snapshot whenever a setting
is set or deleted on the conf or a source is added, and at least every ``LIVE_SOURCES_PERIOD``
seconds, so a change made inside a ``config_from_object`` object or the environment reaches them
within that period.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import time
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from ..exceptions import ImproperlyConfigured

__all__ = ["DEFAULTS", "LIVE_SOURCES_PERIOD", "NOT_YET_HONOURED", "OLD_TO_NEW", "Settings", "SettingsSnapshot"]

logger = logging.getLogger(__name__)

# Celery's defaults for the settings the shim reads or is likely to be handed, plus the shim's
# own gocraft_* keys (documented in the spec, §1.1 and D3/D11).
DEFAULTS: dict[str, Any] = {
    "accept_content": ["json"],
    "beat_schedule": {},
    "beat_scheduler": "celery.beat:PersistentScheduler",
    "broker_connection_max_retries": 100,
    "broker_pool_limit": 10,
    "broker_transport_options": {},
    "broker_url": None,
    "enable_utc": True,
    "imports": (),
    "include": (),
    "result_backend": None,
    "result_backend_transport_options": {},
    "result_expires": dt.timedelta(days=1),
    "result_extended": False,
    "result_failure_expires": None,
    "result_serializer": "json",
    "task_acks_late": False,
    "task_acks_on_failure_or_timeout": True,
    "task_store_errors_even_if_ignored": False,
    "task_always_eager": False,
    "task_annotations": None,
    "task_default_priority": None,
    "task_default_queue": "celery",
    "task_default_rate_limit": None,
    "task_eager_propagates": False,
    "task_ignore_result": False,
    "task_publish_retry": True,
    "task_publish_retry_policy": {"max_retries": 3, "interval_start": 0, "interval_max": 1, "interval_step": 0.2},
    "task_queues": None,
    "task_reject_on_worker_lost": None,
    "task_routes": None,
    "task_serializer": "json",
    "task_soft_time_limit": None,
    "task_store_eager_result": False,
    "task_time_limit": None,
    "task_track_started": False,
    "timezone": None,
    "worker_concurrency": None,
    "worker_pool": "prefork",
    "worker_max_tasks_per_child": None,
    "worker_disable_rate_limits": False,
    "worker_redirect_stdouts": True,
    "worker_redirect_stdouts_level": "WARNING",
    "gocraft_namespace": None,
    "gocraft_priority": None,
    "gocraft_max_concurrency": None,
}

# Celery 3's upper-case names (Celery's "New lowercase settings" table) for the settings above.
OLD_TO_NEW: dict[str, str] = {
    "BROKER_URL": "broker_url",
    "BROKER_TRANSPORT_OPTIONS": "broker_transport_options",
    "BROKER_POOL_LIMIT": "broker_pool_limit",
    "BROKER_CONNECTION_MAX_RETRIES": "broker_connection_max_retries",
    "CELERY_ACCEPT_CONTENT": "accept_content",
    "CELERY_ENABLE_UTC": "enable_utc",
    "CELERY_IMPORTS": "imports",
    "CELERY_INCLUDE": "include",
    "CELERY_TIMEZONE": "timezone",
    "CELERYBEAT_SCHEDULE": "beat_schedule",
    "CELERYBEAT_SCHEDULER": "beat_scheduler",
    "CELERY_RESULT_BACKEND": "result_backend",
    "CELERY_RESULT_SERIALIZER": "result_serializer",
    "CELERY_TASK_RESULT_EXPIRES": "result_expires",
    "CELERY_ALWAYS_EAGER": "task_always_eager",
    "CELERY_EAGER_PROPAGATES_EXCEPTIONS": "task_eager_propagates",
    "CELERY_IGNORE_RESULT": "task_ignore_result",
    "CELERY_TASK_SERIALIZER": "task_serializer",
    "CELERY_DEFAULT_QUEUE": "task_default_queue",
    "CELERY_DEFAULT_RATE_LIMIT": "task_default_rate_limit",
    "CELERY_ROUTES": "task_routes",
    "CELERY_QUEUES": "task_queues",
    "CELERY_ANNOTATIONS": "task_annotations",
    "CELERY_ACKS_LATE": "task_acks_late",
    "CELERY_TRACK_STARTED": "task_track_started",
    "CELERY_PUBLISH_RETRY": "task_publish_retry",
    "CELERY_PUBLISH_RETRY_POLICY": "task_publish_retry_policy",
    "CELERYD_TASK_TIME_LIMIT": "task_time_limit",
    "CELERYD_TASK_SOFT_TIME_LIMIT": "task_soft_time_limit",
    "CELERYD_CONCURRENCY": "worker_concurrency",
    "CELERY_REDIRECT_STDOUTS": "worker_redirect_stdouts",
    "CELERY_REDIRECT_STDOUTS_LEVEL": "worker_redirect_stdouts_level",
}
_NEW_TO_OLD = {new: old for old, new in OLD_TO_NEW.items()}

# Settings Celery honours that change behaviour but this slice does not implement yet: warned once
# per app when set to something other than the default (spec §1.2).
NOT_YET_HONOURED = (  # settings that change what Celery does but have no effect here (warned once)
    "worker_max_memory_per_child",  # child recycling by memory: not implemented
    "worker_prefetch_multiplier",  # gocraft workers fetch for themselves; nothing is prefetched
    "task_compression",  # Go peers read plain JSON
    "result_compression",
    "task_send_sent_event",  # no event stream: the dashboard reads Redis
    "worker_send_task_events",
    "task_inherit_parent_priority",  # priority is per job name (D11)
    "task_queue_max_priority",
)

# The environment variables Celery lets override two settings, and the same for the namespace
# (so that every process of a project can be pointed at one); the one place they are read.
_ENV_OVERRIDES = {
    "broker_url": "CELERY_BROKER_URL",
    "result_backend": "CELERY_RESULT_BACKEND",
    "gocraft_namespace": "CELERY_GOCRAFT_NAMESPACE",
}
_MISSING = object()

# The longest a snapshot() is used: changes made inside config_from_object sources (or the two
# environment variables) reach the hot paths that read snapshots within this many seconds.
LIVE_SOURCES_PERIOD = 1.0


class _Source:
    """One object handed to ``config_from_object``, read live through ``getattr``/``[]``."""

    def __init__(self, obj: Any, namespace: str | None) -> None:
        self.obj = obj
        self.prefix = f"{namespace}_" if namespace else ""

    def _raw(self, key: str) -> Any:
        if isinstance(self.obj, Mapping):
            return self.obj.get(key, _MISSING)
        return getattr(self.obj, key, _MISSING)

    def names(self) -> list[str]:
        if isinstance(self.obj, Mapping):
            return [k for k in self.obj if isinstance(k, str)]
        return [k for k in dir(self.obj) if not k.startswith("_")]

    def get(self, name: str) -> Any:
        """The value of new-style ``name``: the prefixed upper-case key, else the old alias."""
        if self.prefix:
            value = self._raw(self.prefix + name.upper())
        else:
            value = self._raw(name)
        if value is _MISSING and name in _NEW_TO_OLD:
            value = self._raw(_NEW_TO_OLD[name])
        return value

    def check_not_mixed(self) -> None:
        """Celery refuses an object that mixes old upper-case and new names; so do we.

        Not under a namespace: there Celery reads the namespaced new names and still honours old
        ones (a Django settings file with BROKER_URL beside CELERY_RESULT_BACKEND loads in Celery).
        """
        if self.prefix:
            return
        present = set(self.names())
        old = sorted(k for k in present if k in OLD_TO_NEW)
        new = sorted(k for k in present if k in DEFAULTS)
        if old and new:
            raise ImproperlyConfigured(
                f"Cannot mix new and old setting keys: old {old[:3]} with new {new[:3]}; "
                f"rename the old ones, e.g. {old[0]} -> {OLD_TO_NEW[old[0]]}"
            )


def _canonical(key: str) -> str:
    """The new lower-case name of ``key``; old upper-case aliases are translated."""
    return OLD_TO_NEW.get(key, key)


def _load(obj: Any) -> Any:
    """A module path (``"pkg.mod"``), ``"pkg.mod:attr"``, a class or any object."""
    if not isinstance(obj, str):
        return obj
    module_name, _, attr = obj.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ImproperlyConfigured(f"cannot import configuration module {module_name!r}: {err}") from err
    if not attr:
        return module
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise ImproperlyConfigured(f"module {module_name!r} has no attribute {attr!r}") from err


class SettingsSnapshot:
    """Settings as first read since the snapshot was made (see the module docstring)."""

    __slots__ = ("_conf", "_values", "until", "version")

    def __init__(self, conf: Settings, version: int, until: float) -> None:
        self._conf = conf
        self._values: dict[str, Any] = {}
        self.version = version
        self.until = until

    def get(self, name: str, default: Any = None) -> Any:
        try:
            value = self._values[name]
        except KeyError:
            try:
                value = self._conf[name]
            except KeyError:
                value = _MISSING
            self._values[name] = value
        return default if value is _MISSING else value

    def __getitem__(self, name: str) -> Any:
        value = self.get(name, _MISSING)
        if value is _MISSING:
            raise KeyError(name)
        return value


class Settings(MutableMapping[str, Any]):
    """``app.conf``: a mapping with attribute access, Celery's names and the old aliases.

    Keys are stored under their new lower-case names; ``conf['CELERY_ALWAYS_EAGER']`` and
    ``conf.task_always_eager`` are the same setting. Unknown keys are kept as given (Celery
    allows arbitrary user settings).
    """

    def __init__(self, changes: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_changes", {})
        object.__setattr__(self, "_sources", [])
        object.__setattr__(self, "_version", 0)
        object.__setattr__(self, "_snapshot", None)
        if changes:
            self.update(changes)

    # -- mapping ----------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        name = _canonical(key)
        env = _ENV_OVERRIDES.get(name)
        if env is not None and os.environ.get(env):
            return os.environ[env]
        changes: dict[str, Any] = self._changes
        if name in changes:
            return changes[name]
        sources: list[_Source] = self._sources
        for source in reversed(sources):
            value = source.get(name)
            if value is not _MISSING:
                return value
        if name in DEFAULTS:
            return DEFAULTS[name]
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self._changes[_canonical(key)] = value
        self._changed()

    def __delitem__(self, key: str) -> None:
        del self._changes[_canonical(key)]
        self._changed()

    def _changed(self) -> None:
        object.__setattr__(self, "_version", self._version + 1)

    def __iter__(self) -> Iterator[str]:
        names: dict[str, None] = dict.fromkeys(DEFAULTS)
        for source in self._sources:
            for raw in source.names():
                if source.prefix:
                    if raw.startswith(source.prefix):
                        names.setdefault(raw[len(source.prefix) :].lower())
                elif raw in OLD_TO_NEW or raw.islower():
                    names.setdefault(_canonical(raw))
        names.update(dict.fromkeys(self._changes))
        return iter(names)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    # -- attribute access -------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no setting {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    # -- loading ----------------------------------------------------------------------------------
    def config_from_object(self, obj: Any, namespace: str | None = None) -> None:
        """Add ``obj`` (module path, ``"mod:attr"``, class, object or mapping) as a live source.

        With ``namespace='CELERY'`` the keys are ``CELERY_`` plus the upper-cased new name
        (``CELERY_BROKER_URL``, ``CELERY_TASK_ALWAYS_EAGER``), as in Django settings.
        """
        source = _Source(_load(obj), namespace)
        source.check_not_mixed()
        self._sources.append(source)
        self._changed()

    # -- snapshots for hot paths --------------------------------------------------------------------
    def snapshot(self) -> SettingsSnapshot:
        """The current snapshot: the same object until a setting is set or deleted, a source is
        added, or LIVE_SOURCES_PERIOD seconds pass."""
        snap: SettingsSnapshot | None = self._snapshot
        now = time.monotonic()
        if snap is None or snap.version != self._version or now >= snap.until:
            snap = SettingsSnapshot(self, self._version, now + LIVE_SOURCES_PERIOD)
            object.__setattr__(self, "_snapshot", snap)
        return snap

    def is_set(self, name: str) -> bool:
        """True when ``name`` has a value other than Celery's default."""
        try:
            value = self[name]
        except KeyError:
            return False
        return bool(value != DEFAULTS.get(name))

    def __repr__(self) -> str:
        return f"<Settings: {len(self._changes)} changed, {len(self._sources)} sources>"
