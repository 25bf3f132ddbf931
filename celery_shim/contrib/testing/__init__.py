"""Testing helpers (Celery's ``celery.contrib.testing``): ``worker.start_worker``."""
