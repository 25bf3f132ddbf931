"""Finding objects by name (Celery's ``celery.utils.imports``), and finding where an app lives.

The app layer names what sits above it (the worker, the command line, Django's task class) by
``"module:attr"`` and imports it when first asked, as Celery does (``celery.apps.worker:Worker``):
that keeps the core free of imports from the layers built on it.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from ..exceptions import ImproperlyConfigured
from ..local import Proxy

if TYPE_CHECKING:
    from ..app.base import Celery

__all__ = ["instantiate", "locate_app", "symbol_by_name"]


def symbol_by_name(name: str) -> Any:
    """The object ``"package.module:attr"`` (or ``"package.module.attr"``) names, imported now."""
    module, colon, attr = name.partition(":")
    if not colon:
        module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def instantiate(name: Any, *args: Any, **kwargs: Any) -> Any:
    """An instance of the class ``name`` names (or of ``name`` itself when it is a class)."""
    cls = symbol_by_name(name) if isinstance(name, str) else name
    return cls(*args, **kwargs)


def locate_app(app: Celery) -> tuple[str, str]:
    """``(module, attribute)`` of a loaded module that holds ``app``, for a spawned child to import."""
    candidates = []
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.startswith(("celery_shim", "work_compat")):
            continue
        try:
            names = vars(module)
        except TypeError:
            continue
        for attr, value in list(names.items()):
            if attr.startswith("_"):
                continue
            # `celery = current_app` (the default app used as the project's app) counts, after direct references.
            proxied = isinstance(value, Proxy) and value._get_current_object() is app
            if value is app or proxied:
                candidates.append((proxied, module_name == "__main__", module_name.count("."), module_name, attr))
    if not candidates:
        raise ImproperlyConfigured(
            f"the prefork pool needs {app!r} as a module attribute (such as proj.celery:app) so that its "
            "child processes can import it; use pool='threads' or 'solo' for an app built inside a function"
        )
    candidates.sort()
    _, _, _, module_name, attr = candidates[0]
    return module_name, attr
