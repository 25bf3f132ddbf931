"""Celery's ``celery.contrib`` helpers: the pytest plugin and the embedded test worker, Django's
DjangoTask and abortable tasks."""

from __future__ import annotations

from ..install import REFUSED, refused_attribute

__getattr__ = refused_attribute(__name__, {"rdb": REFUSED["celery.contrib.rdb"]})
