"""Django support, as Celery's ``celery.contrib.django``."""
