"""``autodiscover_tasks`` and ``config_from_envvar``, as Celery projects call them."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from celery_shim import Celery
from celery_shim.exceptions import ImproperlyConfigured
from celery_shim.worker.worker import WorkController


@pytest.fixture
def packages(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Three packages on sys.path: one with a tasks module, one without, one whose tasks module is broken."""
    tag = uuid.uuid4().hex[:8]
    names = {"with": f"shop_{tag}", "without": f"blog_{tag}", "broken": f"crm_{tag}"}
    for kind, name in names.items():
        pkg = tmp_path / name
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        if kind == "with":
            (pkg / "tasks.py").write_text(
                textwrap.dedent(
                    f"""
                    from celery_shim import shared_task

                    @shared_task(name="{name}.refund")
                    def refund(order):
                        return order
                    """
                )
            )
        if kind == "broken":
            (pkg / "tasks.py").write_text("import a_module_that_does_not_exist_anywhere\n")
    sys.path.insert(0, str(tmp_path))
    try:
        yield names
    finally:
        sys.path.remove(str(tmp_path))
        for name in list(sys.modules):
            if any(name == n or name.startswith(n + ".") for n in names.values()):
                del sys.modules[name]


def test_discovery_is_lazy_then_imports_each_packages_tasks(packages: dict[str, str]) -> None:
    app = Celery("proj", set_as_current=False)
    app.autodiscover_tasks([packages["with"], packages["without"]])
    # Nothing is imported until the app is finalized (a worker or beat starting does it)
    assert f"{packages['with']}.tasks" not in sys.modules
    app.finalize()
    assert f"{packages['with']}.refund" in app.tasks
    assert f"{packages['with']}.tasks" in app.conf.include  # so prefork children import it too


def test_a_worker_runs_discovered_tasks(packages: dict[str, str]) -> None:
    app = Celery("proj", broker="memory://", set_as_current=False)
    app.autodiscover_tasks(lambda: [packages["with"]])  # a callable, as Django projects pass
    worker = WorkController(app, pool="solo", concurrency=1)
    assert f"{packages['with']}.refund" in worker.job_names


def test_an_error_inside_a_tasks_module_is_raised_not_hidden(packages: dict[str, str]) -> None:
    app = Celery("proj", set_as_current=False)
    with pytest.raises(ModuleNotFoundError, match="a_module_that_does_not_exist_anywhere"):
        app.autodiscover_tasks([packages["broken"]], force=True)


def test_config_from_envvar(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "envconf_settings.py").write_text("task_default_queue = 'from-env'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    app = Celery("proj", set_as_current=False)
    assert app.config_from_envvar("SHOP_CELERY_SETTINGS", silent=True) is False
    with pytest.raises(ImproperlyConfigured, match="SHOP_CELERY_SETTINGS"):
        app.config_from_envvar("SHOP_CELERY_SETTINGS")
    monkeypatch.setenv("SHOP_CELERY_SETTINGS", "envconf_settings")
    assert app.config_from_envvar("SHOP_CELERY_SETTINGS") is True
    assert app.conf.task_default_queue == "from-env"
