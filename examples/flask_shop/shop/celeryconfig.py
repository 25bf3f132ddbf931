"""Celery settings, read with ``config_from_object`` like any Celery project's config module."""

import os

from celery_shim.schedules import crontab  # was: from celery.schedules import crontab

broker_url = os.environ.get("SHOP_REDIS_URL", "redis://localhost:6379/0")
result_backend = os.environ.get("SHOP_REDIS_URL", "redis://localhost:6379/0")
result_expires = 3600
timezone = "Europe/Paris"
enable_utc = True
task_default_queue = "default"
task_routes = {"shop.tasks.resize_image": {"queue": "images"}}
task_track_started = True

beat_schedule = {
    "purge-abandoned-carts": {
        "task": "shop.tasks.purge_abandoned_carts",
        "schedule": 30.0,
    },
    "nightly-sales-report": {
        "task": "shop.tasks.sales_report",
        "schedule": crontab(hour=2, minute=30),
        "kwargs": {"period": "day"},
    },
}
