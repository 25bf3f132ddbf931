"""A configuration module for config_from_object tests: new names, no namespace."""

broker_url = "redis://config-module:6379/3"
task_always_eager = True
task_default_queue = "from_module"


class DjangoSettings:
    """Django-style settings: CELERY_-prefixed upper-case names, plus unrelated settings."""

    DEBUG = True
    CELERY_BROKER_URL = "redis://django:6379/1"
    CELERY_TASK_ALWAYS_EAGER = False
    CELERY_TASK_EAGER_PROPAGATES = True
