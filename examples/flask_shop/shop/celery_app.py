"""The Celery app of the shop (what ``celery -A shop.celery_app worker`` loads)."""

from celery_shim import Celery  # was: from celery import Celery

celery = Celery("shop", include=["shop.tasks"])
celery.config_from_object("shop.celeryconfig")
