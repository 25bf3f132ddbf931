"""Django-style settings under ``namespace='CELERY'``: keys that are both an old name and the
namespaced new one (``CELERY_RESULT_BACKEND``, ``CELERY_TIMEZONE``) read as Celery reads them."""

from __future__ import annotations

import celery
import pytest

from celery_shim import Celery
from celery_shim.exceptions import ImproperlyConfigured


class DjangoSettings:
    CELERY_BROKER_URL = "redis://broker:6379/0"
    CELERY_RESULT_BACKEND = "redis://results:6379/1"
    CELERY_TIMEZONE = "Europe/Paris"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_ACCEPT_CONTENT = ["json"]
    INSTALLED_APPS = ["orders"]


@pytest.mark.parametrize("setting", ["broker_url", "result_backend", "timezone", "task_always_eager", "accept_content"])
def test_the_cookiecutter_django_settings_read_as_celery_reads_them(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)
    shim = Celery("proj", set_as_current=False)
    shim.config_from_object(DjangoSettings, namespace="CELERY")
    real = celery.Celery("proj", set_as_current=False)
    real.config_from_object(DjangoSettings, namespace="CELERY")
    assert shim.conf[setting] == real.conf[setting]


def test_old_and_new_names_mixed_without_a_namespace_are_still_refused() -> None:
    class Mixed:
        BROKER_URL = "redis://a"
        result_backend = "redis://b"

    app = Celery("proj", set_as_current=False)
    with pytest.raises(ImproperlyConfigured, match="Cannot mix new and old setting keys"):
        app.config_from_object(Mixed)
