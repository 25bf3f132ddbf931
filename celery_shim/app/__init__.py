"""The app layer (Celery's ``celery.app``): the Celery object, tasks, registry, routes, settings,
publishing, ``app.control`` and the task trace. It imports backends, result, canvas and gocraft, never worker or bin."""

from __future__ import annotations

from ..local import Proxy
from . import base as _base
from .base import Celery
from .taskdef import shared_task

App = Celery  # Celery's other name for the class
current_app = Proxy(_base.current_app, calls_get=True)  # current_app.conf, as in Celery

__all__ = ["App", "Celery", "current_app", "shared_task"]
