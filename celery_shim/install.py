"""``celery_shim.install()``: make ``import celery`` give celery_shim, for code you cannot edit.

A meta-path finder placed first on ``sys.meta_path`` answers every ``celery.*`` import with the
celery_shim module of the same path: celery_shim is laid out as Celery is, so ``celery.app.task`` is
``celery_shim.app.task`` and ``celery.exceptions.Retry is celery_shim.exceptions.Retry`` (``except``
clauses match). Call it before the code that imports celery: while it is installed it wins over a
real celery package, and real celery modules already imported are set aside (and put back by
``uninstall()``), so a process never mixes the two.

``celery`` itself is a small proxy package that reads its attributes from ``celery_shim``, so that
importing ``celery.x`` sets attributes on the proxy, never on celery_shim itself.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

__all__ = ["REFUSED", "install", "installed", "refused_attribute", "uninstall"]

logger = logging.getLogger(__name__)

ROOT = "celery"
SHIM = "celery_shim"

# The one Celery name that becomes a proxy package; every other celery.X is celery_shim.X itself.
PACKAGES = frozenset({ROOT})

# Celery modules that projects or their libraries import and that celery_shim refuses, with the reason
# (the module and everything below it): the message names the feature instead of a bare "no module".
REFUSED: dict[str, str] = {
    "celery.events": "Celery's event stream (Flower's EventReceiver and State): celery_shim's workers send no "
    "events; its dashboard, `celery-shim -A proj flower`, reads the state from Redis instead",
    "celery.bin.base": "Celery's click command classes (Flower's `celery flower` command): the celery-shim "
    "command line is not click; run the dashboard with `celery-shim -A proj flower`",
    "celery.worker.request": "the worker's Request class (OpenTelemetry's Celery instrumentation imports it): "
    "celery_shim's worker has none; trace tasks with the task_prerun/task_postrun/task_failure signals",
    "celery.concurrency": "Celery's pool classes: celery_shim's worker pools are prefork, threads and solo (-P)",
    "celery.apps": "Celery's worker and beat programs: use app.Worker(...), `celery-shim worker` or `beat`",
    "celery.loaders": "Celery's loaders: settings come from config_from_object and config_from_envvar",
    "celery.contrib.rdb": "Celery's telnet debugger for prefork children: run the task under the solo pool "
    "(-P solo) and use pdb or your IDE's debugger",
    "celery.decorators": "Celery 3's module, which Celery 5 no longer has either: use @app.task or @shared_task",
}


def refused_attribute(module: str, reasons: dict[str, str]) -> Any:
    """A module ``__getattr__`` that refuses the Celery names in ``reasons`` with an ImportError naming
    the feature (``from celery.app.trace import build_tracer``), and is AttributeError for the rest."""

    def __getattr__(name: str) -> Any:
        if name in reasons:
            raise ImportError(
                f"cannot import name {name!r} from {module!r} (celery_shim): {reasons[name]}", name=module
            )
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


def _is_alias(fullname: str) -> bool:
    return fullname == ROOT or fullname.startswith(ROOT + ".")


def target_of(fullname: str) -> str:
    """The celery_shim module that stands for Celery module ``fullname``: the same dotted path."""
    return SHIM + fullname[len(ROOT) :]


def _not_provided(alias: str) -> ModuleNotFoundError:
    for refused, reason in REFUSED.items():
        if alias == refused or alias.startswith(refused + "."):
            return ModuleNotFoundError(f"No module named {alias!r} in celery_shim: {reason}", name=alias)
    return ModuleNotFoundError(
        f"No module named {alias!r}: celery_shim.install() maps it to {target_of(alias)!r}, which celery_shim does "
        "not provide (only the parts of Celery's API that celery_shim implements are aliased)",
        name=alias,
    )


def _target_exists(alias: str) -> bool:
    """Whether the celery_shim module for ``alias`` exists (found, not imported)."""
    try:
        return importlib.util.find_spec(target_of(alias)) is not None
    except ModuleNotFoundError:
        return False  # its parent package does not exist either


def _import_target(alias: str) -> types.ModuleType:
    """The celery_shim module for ``alias``."""
    target = target_of(alias)
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as err:
        if err.name is None or not (target == err.name or target.startswith(err.name + ".")):
            raise  # the target exists but one of its own imports is missing
        raise _not_provided(alias) from None


class _AliasLoader(importlib.abc.Loader):
    """Puts the celery_shim module (a leaf) or a proxy package (a Celery package) in ``sys.modules``."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None  # a blank module, replaced or filled in by exec_module

    def exec_module(self, module: types.ModuleType) -> None:
        alias = module.__name__
        target = _import_target(alias)
        if alias in PACKAGES:
            _make_proxy(module, target)
            _finder.note(alias)
            return
        # The import system returns whatever sys.modules holds once exec_module is done.
        sys.modules[alias] = target
        _finder.note(alias)


def _make_proxy(module: types.ModuleType, target: types.ModuleType) -> None:
    """Turn the blank ``module`` into a package whose missing attributes are read from ``target``."""
    module.__path__ = []  # a package: its submodules are found by the finder, not on disk
    module.__dict__["__celery_shim_target__"] = target
    if getattr(target, "__file__", None):
        module.__file__ = target.__file__  # a location on disk, which Django needs for 'celery' in INSTALLED_APPS
    names = getattr(target, "__all__", None)
    if names is not None:
        module.__dict__["__all__"] = list(names)
    module.__doc__ = target.__doc__

    def __getattr__(name: str) -> Any:
        try:
            return getattr(target, name)
        except AttributeError:
            raise AttributeError(f"module {module.__name__!r} (celery_shim) has no attribute {name!r}") from None

    def __dir__() -> list[str]:
        return sorted(set(module.__dict__) | set(dir(target)))

    module.__dict__["__getattr__"] = __getattr__
    module.__dict__["__dir__"] = __dir__


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Answers ``celery`` and ``celery.*`` while installed; every other name goes on down the path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._aliases: set[str] = set()
        self._set_aside: dict[str, types.ModuleType] = {}
        self.loader = _AliasLoader()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not _is_alias(fullname):
            return None
        if fullname not in PACKAGES and not _target_exists(fullname):
            # Raised here, not at load time, so "does celery have a submodule x?" probes (importlib.util.find_spec,
            # Django's module_has_submodule for 'celery' in INSTALLED_APPS) answer no instead of failing later.
            raise _not_provided(fullname)
        return importlib.machinery.ModuleSpec(
            fullname, self.loader, origin=f"alias of {target_of(fullname)}", is_package=fullname in PACKAGES
        )

    def note(self, alias: str) -> None:
        with self._lock:
            self._aliases.add(alias)

    def install(self) -> None:
        with self._lock:
            if self in sys.meta_path:
                return
            real = sorted(name for name in sys.modules if _is_alias(name))
            for name in real:
                self._set_aside[name] = sys.modules.pop(name)
            sys.meta_path.insert(0, self)
        if real:
            logger.warning(
                "celery_shim.install(): the real celery was already imported (%d modules, e.g. %s); they are set "
                "aside, but objects taken from them before now stay real celery: install earlier",
                len(real),
                real[0],
            )

    def uninstall(self) -> None:
        with self._lock:
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            for name in [n for n in sys.modules if _is_alias(n)]:
                del sys.modules[name]
            self._aliases.clear()
            sys.modules.update(self._set_aside)
            self._set_aside.clear()

    @property
    def installed(self) -> bool:
        return self in sys.meta_path


_finder = _AliasFinder()


class _Installer:
    """``celery_shim.install()`` itself, carrying ``uninstall()`` and ``installed`` beside it."""

    def __call__(self) -> None:
        """Make ``import celery`` (and ``celery.*``) import celery_shim from now on. Idempotent."""
        _finder.install()

    @staticmethod
    def uninstall() -> None:
        """Stop aliasing; forget the aliased modules and put back real celery modules set aside."""
        _finder.uninstall()

    @property
    def installed(self) -> bool:
        return _finder.installed

    def __repr__(self) -> str:
        return f"<celery_shim.install: {'installed' if _finder.installed else 'not installed'}>"


install = _Installer()
uninstall = _Installer.uninstall


def installed() -> bool:
    """True while ``import celery`` gives celery_shim."""
    return _finder.installed
