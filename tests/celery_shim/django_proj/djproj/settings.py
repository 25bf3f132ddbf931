import os

SECRET_KEY = "test-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "orders"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DJPROJ_DB"]}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

CELERY_BROKER_URL = os.environ["DJPROJ_REDIS"]
CELERY_RESULT_BACKEND = os.environ["DJPROJ_REDIS"]
CELERY_GOCRAFT_NAMESPACE = os.environ["DJPROJ_NAMESPACE"]
