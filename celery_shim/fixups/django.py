"""The Django fixup: what a Celery app in a Django project does differently.

Applied when ``DJANGO_SETTINGS_MODULE`` is set and Django is importable, as Celery applies its own:
tasks default to ``DjangoTask`` (``delay_on_commit``); a worker sets Django up before importing
task modules, so ``autodiscover_tasks()`` sees the installed apps; and each task closes database
connections that went stale or broken before and after it runs, so a long-lived worker does not
keep a connection the database has dropped.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import TYPE_CHECKING, Any

from .. import signals

if TYPE_CHECKING:
    from ..app.base import Celery

__all__ = ["applies", "install"]

logger = logging.getLogger(__name__)


def applies() -> bool:
    """True in a Django project: the settings module is named and Django is installed."""
    return bool(os.environ.get("DJANGO_SETTINGS_MODULE")) and importlib.util.find_spec("django") is not None


def setup_django() -> None:
    """``django.setup()`` unless the app registry is already loaded."""
    import django  # type: ignore[import-untyped]
    from django.apps import apps  # type: ignore[import-untyped]

    if not apps.ready:
        django.setup()


def _close_old_connections(**_: Any) -> None:
    try:
        from django.db import close_old_connections  # type: ignore[import-untyped]

        close_old_connections()
    except Exception:  # a broken connection must not fail the task it surrounds
        logger.warning("closing old Django database connections failed", exc_info=True)


def _setup_before_imports(**_: Any) -> None:
    try:
        setup_django()
    except Exception:
        logger.exception("django.setup() failed before importing the task modules")
        raise


def install(app: Celery) -> None:
    """Connect the fixup's receivers for ``app`` (once per app)."""
    uid = id(app)
    signals.task_prerun.connect(_close_old_connections, weak=False, dispatch_uid=("django-prerun", uid))
    signals.task_postrun.connect(_close_old_connections, weak=False, dispatch_uid=("django-postrun", uid))
    signals.import_modules.connect(_setup_before_imports, weak=False, dispatch_uid=("django-setup", uid))
