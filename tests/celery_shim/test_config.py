"""app.conf: Celery's names, old aliases, kwargs as settings, live config_from_object sources."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from celery_shim import Celery, EagerResult
from celery_shim.exceptions import ImproperlyConfigured
from tests.celery_shim import sample_config


def test_kwargs_and_named_arguments_become_settings() -> None:
    app = Celery(
        "proj", broker="redis://h:6379/0", backend="redis://h:6379/1", include=["a.tasks"], task_acks_late=True
    )
    assert app.conf.broker_url == "redis://h:6379/0"
    assert app.conf["result_backend"] == "redis://h:6379/1"
    assert app.conf.include == ("a.tasks",)
    assert app.conf.task_acks_late is True
    assert app.main == "proj"


def test_attribute_item_and_alias_access_are_one_setting() -> None:
    app = Celery("proj")
    assert app.conf.task_always_eager is False
    app.conf.CELERY_ALWAYS_EAGER = True
    assert app.conf.task_always_eager is True
    assert app.conf["CELERY_ALWAYS_EAGER"] is True
    app.conf["BROKER_URL"] = "redis://old:6379/0"
    assert app.conf.broker_url == "redis://old:6379/0"
    app.conf.update(task_eager_propagates=True, CELERY_DEFAULT_QUEUE="q")
    assert app.conf.task_eager_propagates is True
    assert app.conf.task_default_queue == "q"
    app.conf.my_own_setting = 7  # arbitrary user settings are kept
    assert app.conf["my_own_setting"] == 7
    assert "my_own_setting" in dict(app.conf)
    with pytest.raises(AttributeError):
        _ = app.conf.no_such_setting
    with pytest.raises(KeyError):
        _ = app.conf["no_such_setting"]


def test_config_from_module_path_and_attr() -> None:
    app = Celery("proj")
    app.config_from_object("tests.celery_shim.sample_config")
    assert app.conf.broker_url == "redis://config-module:6379/3"
    assert app.conf.task_default_queue == "from_module"

    django = Celery("proj")
    django.config_from_object("tests.celery_shim.sample_config:DjangoSettings", namespace="CELERY")
    assert django.conf.broker_url == "redis://django:6379/1"
    assert django.conf.task_eager_propagates is True
    assert "debug" not in dict(django.conf)

    with pytest.raises(ImproperlyConfigured):
        Celery("proj").config_from_object("tests.celery_shim.no_such_module")
    Celery("proj").config_from_object("tests.celery_shim.no_such_module", silent=True)


def test_config_from_object_is_live() -> None:
    """cookiecutter-django flips settings.CELERY_TASK_ALWAYS_EAGER after configuring the app."""

    class Settings:
        CELERY_BROKER_URL = "amqp://unused//"
        CELERY_TASK_ALWAYS_EAGER = False

    app = Celery("proj")
    app.config_from_object(Settings, namespace="CELERY")

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    with pytest.raises(ImproperlyConfigured):
        add.delay(1, 2)
    Settings.CELERY_TASK_ALWAYS_EAGER = True
    result = add.delay(1, 2)
    assert isinstance(result, EagerResult)
    assert result.get() == 3


def test_old_names_without_namespace_and_mixing_refused() -> None:
    class Old:
        BROKER_URL = "redis://old:6379/0"
        CELERY_ALWAYS_EAGER = True
        CELERY_EAGER_PROPAGATES_EXCEPTIONS = True

    app = Celery("proj")
    app.config_from_object(Old)
    assert app.conf.broker_url == "redis://old:6379/0"
    assert app.conf.task_always_eager is True
    assert app.conf.task_eager_propagates is True

    class Mixed:
        BROKER_URL = "redis://old:6379/0"
        task_always_eager = True

    with pytest.raises(ImproperlyConfigured, match="Cannot mix new and old setting keys"):
        Celery("proj").config_from_object(Mixed)


def test_set_values_win_over_sources_and_newer_sources_win() -> None:
    app = Celery("proj")
    app.config_from_object({"task_default_queue": "first"})
    app.config_from_object({"task_default_queue": "second"})
    assert app.conf.task_default_queue == "second"
    app.conf.task_default_queue = "set"
    assert app.conf.task_default_queue == "set"


def test_environment_overrides_broker_and_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://env:6379/0")
    app = Celery("proj", broker="redis://arg:6379/0")
    assert app.conf.broker_url == "redis://env:6379/0"


def test_unhonoured_settings_are_warned_once(caplog: pytest.LogCaptureFixture) -> None:
    app = Celery(
        "proj", task_always_eager=True, worker_prefetch_multiplier=1, task_compression="gzip", task_time_limit=5
    )

    @app.task
    def noop() -> None: ...

    with caplog.at_level(logging.WARNING, logger="celery_shim"):
        noop.delay()
        noop.delay()
    assert caplog.text.count("worker_prefetch_multiplier") == 1
    assert caplog.text.count("task_compression") == 1
    assert "task_time_limit" not in caplog.text  # honoured by the worker


@pytest.mark.parametrize("setting", [{"task_serializer": "pickle"}, {"CELERY_TASK_SERIALIZER": "yaml"}])
def test_non_json_serializers_are_refused(setting: dict[str, Any]) -> None:
    app = Celery("proj", task_always_eager=True, **setting)

    @app.task
    def noop() -> None: ...

    with pytest.raises(ImproperlyConfigured, match="json"):
        noop.delay()
    with pytest.raises(ImproperlyConfigured, match="json"):
        app.task(serializer="pickle")(lambda: None)


def test_module_level_names_import_like_celerys() -> None:
    import celery_shim

    assert {"Celery", "Task", "shared_task", "states", "exceptions"} <= set(celery_shim.__all__)
    assert sample_config.task_always_eager is True
