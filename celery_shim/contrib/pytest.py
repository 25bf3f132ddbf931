"""pytest fixtures with the names of Celery's ``celery.contrib.pytest``.

Enable with ``pytest_plugins = ("celery_shim.contrib.pytest",)`` in your root ``conftest.py`` (or
``-p celery_shim.contrib.pytest``). ``celery_app`` is a fresh app per test, built from
``celery_parameters`` and ``celery_config`` (plus ``@pytest.mark.celery(**overrides)``); by default
its broker is ``memory://`` and its backend ``cache+memory://``, both an in-process fake Redis,
with a namespace of its own. ``celery_worker`` runs an embedded worker (``solo`` unless
``celery_worker_pool`` says otherwise) for the test. Point ``broker_url`` at a real Redis in
``celery_config`` to test against it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from .. import _state as app_module
from ..app.base import Celery

__all__ = [
    "DEFAULT_TEST_CONFIG",
    "celery_app",
    "celery_class_tasks",
    "celery_config",
    "celery_enable_logging",
    "celery_includes",
    "celery_parameters",
    "celery_session_app",
    "celery_session_worker",
    "celery_worker",
    "celery_worker_parameters",
    "celery_worker_pool",
    "depends_on_current_app",
    "use_celery_app_trap",
]

DEFAULT_TEST_CONFIG: dict[str, Any] = {
    "worker_hijack_root_logger": False,
    "worker_log_color": False,
    "accept_content": ["json"],
    "enable_utc": True,
    "timezone": "UTC",
    "broker_url": "memory://",
    "result_backend": "cache+memory://",
    "broker_heartbeat": 0,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "celery(**overrides): override celery configuration for a test case")


class _Trap:
    """Stands in for the current app when ``use_celery_app_trap`` is on: any use raises."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("Test depends on current_app")


@contextmanager
def _create_app(
    enable_logging: bool = False,
    use_trap: bool = False,
    parameters: Mapping[str, Any] | None = None,
    **config: Any,
) -> Iterator[Celery]:
    """A test app with the test defaults; the current app is restored when the block ends."""
    settings = {**DEFAULT_TEST_CONFIG, **config}
    settings.setdefault("gocraft_namespace", f"celery-test-{uuid.uuid4().hex[:10]}")
    params = dict(parameters or {})
    params.setdefault("set_as_current", False)
    main = params.pop("main", "celery.tests")
    with app_module._lock:
        previous = app_module._current
        if use_trap:
            app_module._current = _Trap()  # type: ignore[assignment]
    test_app = Celery(main, **params)
    test_app.conf.update(settings)
    try:
        yield test_app
    finally:
        with app_module._lock:
            app_module._current = previous
        test_app.close()


def _marked(request: pytest.FixtureRequest, config: Mapping[str, Any]) -> dict[str, Any]:
    """The test's settings: ``celery_config`` with its ``@pytest.mark.celery(**overrides)``."""
    mark = request.node.get_closest_marker("celery")
    return dict(config, **(mark.kwargs if mark else {}))


def _include(app: Celery, modules: Sequence[str], class_tasks: Sequence[Any]) -> None:
    import importlib

    for module in modules:
        importlib.import_module(module)
    for task in class_tasks:
        app.register_task(task)


@pytest.fixture(scope="session")
def use_celery_app_trap() -> bool:
    """Override to return True: then using the current app (instead of ``celery_app``) raises."""
    return False


@pytest.fixture(scope="session")
def celery_enable_logging() -> bool:
    """Override to enable logging in the test app."""
    return False


@pytest.fixture(scope="session")
def celery_includes() -> Sequence[str]:
    """Override with module names the worker imports (task modules, signal receivers)."""
    return ()


@pytest.fixture(scope="session")
def celery_worker_pool() -> str:
    """Override to choose the test worker's pool (``solo`` by default)."""
    return "solo"


@pytest.fixture(scope="session")
def celery_config() -> Mapping[str, Any]:
    """Override with the settings of the test app."""
    return {}


@pytest.fixture(scope="session")
def celery_parameters() -> Mapping[str, Any]:
    """Override with the keyword arguments of the test app's ``Celery(...)``."""
    return {}


@pytest.fixture(scope="session")
def celery_worker_parameters() -> Mapping[str, Any]:
    """Override with keyword arguments of the test worker (``queues``, ``concurrency``, ...)."""
    return {}


@pytest.fixture(scope="session")
def celery_class_tasks() -> Sequence[Any]:
    """Override with Task classes to register with the test app."""
    return []


@pytest.fixture(scope="session")
def celery_session_app(
    request: pytest.FixtureRequest,
    celery_config: Mapping[str, Any],
    celery_parameters: Mapping[str, Any],
    celery_enable_logging: bool,
    use_celery_app_trap: bool,
) -> Iterator[Celery]:
    """One app for the whole session, made current (unless the trap is on)."""
    config = _marked(request, celery_config)
    with _create_app(celery_enable_logging, use_celery_app_trap, celery_parameters, **config) as app:
        if not use_celery_app_trap:
            app.set_current()
        yield app


@pytest.fixture(scope="session")
def celery_session_worker(
    request: pytest.FixtureRequest,
    celery_session_app: Celery,
    celery_includes: Sequence[str],
    celery_class_tasks: Sequence[Any],
    celery_worker_pool: str,
    celery_worker_parameters: Mapping[str, Any],
) -> Iterator[Any]:
    """A worker that runs for the whole session."""
    from .testing.worker import start_worker

    _include(celery_session_app, celery_includes, celery_class_tasks)
    with start_worker(celery_session_app, pool=celery_worker_pool, **celery_worker_parameters) as worker:
        yield worker


@pytest.fixture()
def celery_app(
    request: pytest.FixtureRequest,
    celery_config: Mapping[str, Any],
    celery_parameters: Mapping[str, Any],
    celery_enable_logging: bool,
    use_celery_app_trap: bool,
) -> Iterator[Celery]:
    """A fresh app for the test; ``@pytest.mark.celery(**overrides)`` changes its settings."""
    config = _marked(request, celery_config)
    with _create_app(celery_enable_logging, use_celery_app_trap, celery_parameters, **config) as app:
        yield app


@pytest.fixture()
def celery_worker(
    request: pytest.FixtureRequest,
    celery_app: Celery,
    celery_includes: Sequence[str],
    celery_worker_pool: str,
    celery_worker_parameters: Mapping[str, Any],
) -> Iterator[Any]:
    """An embedded worker for ``celery_app``, stopped when the test returns."""
    from .testing.worker import start_worker

    _include(celery_app, celery_includes, ())
    with start_worker(celery_app, pool=celery_worker_pool, **celery_worker_parameters) as worker:
        yield worker


@pytest.fixture()
def depends_on_current_app(celery_app: Celery) -> None:
    """Make ``celery_app`` the current app for the test."""
    celery_app.set_current()
