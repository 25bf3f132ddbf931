"""The worker node (Celery's ``celery.worker``): WorkController, the consumer's checks, the prefork
pool, time and rate limits, the revoked set and remote control. It sits on the app; the core never imports it."""

from __future__ import annotations

from .worker import WorkController

__all__ = ["WorkController"]
