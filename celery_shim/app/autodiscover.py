"""Finding task modules: ``app.autodiscover_tasks()`` imports ``<package>.tasks`` for each package.

As in Celery, the import is lazy by default (when the worker imports its modules, or when the app is
finalized), because packages are often only known once Django has loaded its settings; a package
without the module is skipped, while an error *inside* the module is raised, not hidden.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["discover_task_modules", "django_app_names"]

logger = logging.getLogger(__name__)

Packages = Iterable[str] | Callable[[], Iterable[str]] | None


def django_app_names() -> list[str]:
    """The installed Django apps' package names, or [] when Django is absent or not set up."""
    try:
        from django.apps import apps  # type: ignore[import-untyped]
    except ImportError:
        return []
    try:
        from ..fixups.django import applies, setup_django

        if applies():
            setup_django()  # a worker process: the app registry is not loaded yet
        return [config.name for config in apps.get_app_configs()]
    except Exception:  # AppRegistryNotReady, ImproperlyConfigured: Django is not set up here
        logger.debug("autodiscover_tasks: Django apps are not loaded; no packages", exc_info=True)
        return []


def discover_task_modules(packages: Packages, related_name: str | None = "tasks") -> list[str]:
    """Import ``<package>.<related_name>`` for each package; return the modules imported.

    ``packages`` may be a callable (evaluated now) or None (Django's installed apps).
    """
    names: Iterable[Any] = (
        packages() if callable(packages) else packages if packages is not None else django_app_names()
    )
    found: list[str] = []
    for package in names:
        module = f"{package}.{related_name}" if related_name else str(package)
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name is not None and (module == err.name or module.startswith(err.name + ".")):
                continue  # the package has no such module (or is not there at all): nothing to find
            raise
        found.append(module)
    if found:
        logger.debug("autodiscover_tasks imported %s", ", ".join(found))
    return found
