"""Celery's ``celery.contrib`` helpers: the pytest plugin and the embedded test worker."""
