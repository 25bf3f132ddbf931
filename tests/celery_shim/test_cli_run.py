"""``celery-shim --celery-alias run``: an unmodified project's own program (its web process, a
manage.py command) publishes through celery_shim, as a script or as ``-m module``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import redis

from tests.redis_server import RedisServer
from work_compat import Keys

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _run(argv: list[str], url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{HERE / 'run_proj'}{os.pathsep}{ROOT}"}
    return subprocess.run(
        [sys.executable, "-m", "celery_shim", "--celery-alias", "-b", url, *argv],
        cwd=HERE / "run_proj",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_script_and_a_module_publish_gocraft_jobs(redis_server: RedisServer) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/6"
    r = redis.Redis.from_url(url)
    r.flushdb()
    queue = Keys("webapp").jobs("webapp.greet")  # the app's main name is its namespace
    script = _run(["run", "webapp.py", "ada"], url)
    assert script.returncode == 0, script.stderr
    module = _run(["run", "-m", "webapp", "grace", "--exit-3"], url)
    assert module.returncode == 3, module.stderr  # the program's exit status is the command's
    assert script.stdout.split()[0] == "celery_shim.app.base"  # `from celery import Celery` gave the shim's
    jobs = [json.loads(raw) for raw in reversed(r.lrange(queue, 0, -1))]
    assert [j["args"] for j in jobs] == [{"name": "ada"}, {"name": "grace"}]
    assert [j["id"] for j in jobs] == [script.stdout.split()[1], module.stdout.split()[1]]
    r.flushdb()
