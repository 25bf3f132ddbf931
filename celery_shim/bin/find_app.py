"""``-A/--app``: find the app the way Celery's command line does, so the same ``-A`` value works.

``module:attr`` names it exactly. Otherwise the value is a dotted path to an attribute or a module;
for a module the app is its ``app`` attribute, else its ``celery`` attribute, else (for a package)
the ``celery`` submodule searched the same way, else the first Celery instance among the module's
globals. The current directory is importable, as with Celery.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from typing import Any

from ..app.base import Celery
from ..exceptions import CeleryShimError
from ..local import Proxy

__all__ = ["AppNotFound", "find_app", "import_task_modules"]


class AppNotFound(CeleryShimError):
    """``-A`` does not name a celery_shim app; the message says what was found instead."""


def _import(name: str) -> types.ModuleType:
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(name)


def _symbol(spec: str) -> Any:
    """``mod:attr.attr`` or ``mod.attr``; AttributeError when the last part is not an attribute."""
    module_name, sep, attr = spec.partition(":")
    if not sep:
        module_name, _, attr = spec.rpartition(".")
        if not module_name:
            return _import(spec)
    obj: Any = _import(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _unproxied(obj: Any) -> Any:
    """What a proxy such as ``current_app`` stands for (``celery = current_app`` in a module), else ``obj``."""
    return obj._get_current_object() if isinstance(obj, Proxy) else obj


def _from_module(module: types.ModuleType, spec: str) -> Any:
    for attr in ("app", "celery"):
        found = _unproxied(getattr(module, attr, None))
        if isinstance(found, Celery) or _is_real_celery_app(found):
            return found
    if getattr(module, "__path__", None):
        try:
            return _resolve(f"{spec}.celery")
        except ModuleNotFoundError as err:
            if err.name != f"{spec}.celery":
                raise
    for value in map(_unproxied, vars(module).values()):
        if isinstance(value, Celery) or _is_real_celery_app(value):
            return value
    raise AppNotFound(f"-A {spec}: module {module.__name__!r} has no 'app' or 'celery' attribute and no Celery app")


def _resolve(spec: str) -> Any:
    try:
        sym = _symbol(spec)
    except AttributeError:
        if ":" in spec:
            raise
        sym = _import(spec)  # the last part is a module not imported yet, not an attribute
    if isinstance(sym, types.ModuleType) and ":" not in spec:
        return _from_module(sym, spec)
    return _unproxied(sym)


def _is_real_celery_app(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "Celery" and cls.__module__.split(".")[0] == "celery"


def find_app(spec: str) -> Celery:
    """The celery_shim app ``-A spec`` names; AppNotFound (with the reason) otherwise."""
    try:
        found = _resolve(spec)
    except ModuleNotFoundError as err:
        raise AppNotFound(f"-A {spec}: cannot import {err.name or spec!r}: {err}") from err
    except AttributeError as err:
        raise AppNotFound(f"-A {spec}: {err}") from err
    if isinstance(found, Celery):
        return found
    if _is_real_celery_app(found):
        raise AppNotFound(
            f"-A {spec} is an app of the real celery package ({type(found).__module__}.Celery): change the import "
            "to 'from celery_shim import Celery', or run with --celery-alias so 'import celery' gives celery_shim"
        )
    raise AppNotFound(f"-A {spec} is a {type(found).__name__}, not a celery_shim.Celery app")


def import_task_modules(app: Celery, extra: list[str] | None = None) -> None:
    """Import the modules named by ``include``/``imports`` (and ``-I``) so their tasks register."""
    names = [*(app.conf.get("imports") or ()), *(app.conf.get("include") or ()), *(extra or [])]
    if extra:
        app.conf.include = (*(app.conf.get("include") or ()), *extra)
    for name in dict.fromkeys(names):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name is None or not (name == err.name or name.startswith(err.name + ".")):
                raise
            raise AppNotFound(f"cannot import task module {name!r} (include/imports/-I): {err}") from err
