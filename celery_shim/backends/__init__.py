"""Result backends (Celery's ``celery.backends``): Celery's Redis result layout, the disabled backend,
the stored bytes (kombu's JSON) and the in-process Redis behind ``memory://``."""
