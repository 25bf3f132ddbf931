"""celery_shim.install(): ``import celery`` gives celery_shim, even with the real celery installed.

Each case runs in a fresh interpreter, since an import hook changes the whole process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_real_celery_is_installed_here() -> None:
    # The precedence cases below mean something only if `import celery` would find the real one.
    out = run("import celery, celery.app.task; print(celery.__file__, celery.app.task.Task.__module__)")
    assert "site-packages/celery/__init__.py" in out and "celery.app.task" in out


def test_celery_imports_resolve_to_celery_shims_modules_and_objects() -> None:
    out = run(
        """
        import celery_shim
        celery_shim.install()
        import celery
        from celery import Celery, shared_task, Task, states
        from celery.exceptions import Retry, MaxRetriesExceededError
        from celery.result import AsyncResult
        from celery.signals import task_success
        from celery.states import SUCCESS
        from celery.app.task import Task as AppTask
        from celery.schedules import crontab
        from celery.utils.log import get_task_logger
        from celery.contrib.pytest import celery_app
        from celery.contrib.testing.worker import start_worker
        import celery.exceptions, celery_shim.exceptions, celery_shim.schedules, celery_shim.signals
        import celery_shim.utils.log, celery_shim.contrib.pytest, celery_shim.contrib.testing.worker

        assert Celery is celery_shim.Celery and shared_task is celery_shim.shared_task
        assert Task is AppTask is celery_shim.Task
        assert celery.exceptions is celery_shim.exceptions and Retry is celery_shim.exceptions.Retry
        assert AsyncResult is celery_shim.AsyncResult and SUCCESS == "SUCCESS"
        assert task_success is celery_shim.signals.task_success and crontab is celery_shim.schedules.crontab
        assert get_task_logger is celery_shim.utils.log.get_task_logger
        assert celery_app is celery_shim.contrib.pytest.celery_app
        assert start_worker is celery_shim.contrib.testing.worker.start_worker
        assert celery_shim.install.installed
        # An except clause written against celery catches what celery_shim raises.
        try:
            raise celery_shim.exceptions.Retry("again")
        except celery.exceptions.Retry:
            pass
        # A project's app built through the alias is a celery_shim app, tasks and all.
        app = Celery("proj", broker="memory://")
        @app.task(name="proj.add")
        def add(x, y):
            return x + y
        assert isinstance(app, celery_shim.Celery) and app.tasks["proj.add"].name == "proj.add"
        print(repr(celery), celery.__version__ == celery_shim.__version__)
        """
    )
    assert out.strip() == "<module 'celery' (alias of celery_shim)> True"


def test_submodules_of_celery_packages_import_by_either_spelling() -> None:
    run(
        """
        import celery_shim
        celery_shim.install()
        import celery.app.task
        from celery.app import task, Celery
        import celery_shim.app.task, celery_shim.app
        assert task is celery_shim.app.task and celery.app.task is celery_shim.app.task
        assert Celery is celery_shim.Celery
        # Aliasing never rebinds celery_shim's own attributes.
        assert celery_shim.app.__name__ == "celery_shim.app"
        """
    )


def test_a_celery_module_celery_shim_lacks_fails_with_a_clear_message() -> None:
    out = run(
        """
        import celery_shim
        celery_shim.install()
        try:
            import celery.backends.amqp
        except ModuleNotFoundError as err:
            print(err.name, "|", err)
        """
    )
    name, message = out.strip().split(" | ")
    assert name == "celery.backends.amqp"
    assert "celery_shim.backends.amqp" in message and "does not provide" in message


def test_real_celery_imported_first_is_set_aside_and_uninstall_brings_it_back() -> None:
    out = run(
        """
        import logging
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        import celery as real
        import celery.exceptions as real_exc
        import celery_shim
        from celery_shim.install import uninstall

        celery_shim.install()
        import celery
        from celery.exceptions import Retry
        assert celery is not real and Retry is celery_shim.exceptions.Retry
        uninstall()
        assert not celery_shim.install.installed
        import celery as again
        import celery.exceptions
        assert again is real and celery.exceptions is real_exc
        print(again.__file__)
        """
    )
    assert "site-packages/celery/__init__.py" in out


def test_install_is_idempotent_and_uninstall_lets_the_real_celery_import() -> None:
    out = run(
        """
        import sys, celery_shim
        celery_shim.install()
        celery_shim.install()
        import celery
        assert sum(type(f).__name__ == "_AliasFinder" for f in sys.meta_path) == 1
        celery_shim.install.uninstall()
        assert not any(n == "celery" or n.startswith("celery.") for n in sys.modules)
        import celery
        from celery import Celery
        print(celery.__file__, Celery.__module__)
        """
    )
    assert "site-packages/celery/__init__.py" in out and "celery.app.base" in out
