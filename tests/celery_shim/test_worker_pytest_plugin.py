"""celery_shim.contrib.pytest used as a user would: a project's test module enables the plugin with
``pytest_plugins`` and uses ``celery_app``/``celery_worker``; it runs in its own pytest process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.redis_server import RedisServer

USER_CONFTEST = """
pytest_plugins = ("celery_shim.contrib.pytest",)
"""

USER_TESTS = '''
import os

import pytest

from celery_shim import shared_task, states
from celery_shim.contrib.testing.worker import start_worker


@shared_task(name="proj.mul")
def mul(x, y):
    return x * y


def test_fixtures_on_the_memory_broker(celery_app, celery_worker):
    @celery_app.task
    def add(x, y):
        return x + y

    celery_worker.reload()
    assert add.delay(4, 4).get(timeout=10) == 8
    assert celery_app.conf.broker_url == "memory://"
    assert "celery.ping" in celery_app.tasks


@pytest.mark.celery(result_backend=None)
def test_marker_overrides_config(celery_app):
    assert celery_app.conf.result_backend is None
    assert celery_app.conf.task_always_eager is False


def test_shared_task_runs_on_the_current_test_app(celery_app, celery_worker, depends_on_current_app):
    assert mul.delay(6, 7).get(timeout=10) == 42


def test_start_worker_on_a_real_redis(celery_app):
    url = os.environ["TEST_REDIS_URL"]
    celery_app.conf.update(broker_url=url, result_backend=url)

    @celery_app.task(bind=True, max_retries=0)
    def fails(self):
        raise ValueError("nope")

    with start_worker(celery_app, pool="threads", concurrency=2) as worker:
        assert worker.hostname.startswith("testworker-")
        result = fails.delay()
        with pytest.raises(ValueError, match="nope"):
            result.get(timeout=10)
        assert result.state == states.FAILURE


@pytest.fixture(scope="session")
def celery_config():
    return {"task_default_queue": "tests"}


def test_celery_config_fixture(celery_app):
    assert celery_app.conf.task_default_queue == "tests"
    assert celery_app.conf.result_backend == "cache+memory://"
'''


def test_user_test_module_with_the_plugin(tmp_path: Path, redis_server: RedisServer) -> None:
    (tmp_path / "conftest.py").write_text(textwrap.dedent(USER_CONFTEST))
    (tmp_path / "test_user_tasks.py").write_text(textwrap.dedent(USER_TESTS))
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "TEST_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
        "CELERY_BROKER_URL": "",
        "CELERY_RESULT_BACKEND": "",
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", "test_user_tasks.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 passed" in run.stdout
