"""A Django project laid out as Celery's Django guide has it (``djproj/celery.py`` with
``config_from_object('django.conf:settings', namespace='CELERY')`` and ``autodiscover_tasks()``)
runs on celery_shim with only its imports changed: ``delay_on_commit`` waits for the commit, and
the worker finds the app's tasks and runs them against the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import redis

from celery_shim import Celery
from tests.redis_server import RedisServer

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "django_proj"
ROOT = HERE.parents[1]


def test_delay_on_commit_and_a_worker_with_autodiscovered_tasks(
    redis_server: RedisServer, namespace: str, tmp_path: Path
) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/5"
    env = {
        **os.environ,
        "PYTHONPATH": f"{PROJECT}{os.pathsep}{ROOT}",
        "DJPROJ_DB": str(tmp_path / "db.sqlite3"),
        "DJPROJ_REDIS": url,
        "DJPROJ_NAMESPACE": namespace,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    # When a view creates an order and calls ship.delay_on_commit inside its transaction
    placed = subprocess.run(
        [sys.executable, "place_order.py"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )
    assert placed.returncode == 0, placed.stderr
    doc = json.loads(placed.stdout.strip().splitlines()[-1])
    # Then the job is written only once the transaction has committed, by a DjangoTask
    assert (doc["queued_inside"], doc["queued_after"]) == (0, 1)
    assert doc["task_class"] == "DjangoTask" and doc["task"] == "orders.tasks.ship"
    assert doc["namespace"] == namespace  # CELERY_GOCRAFT_NAMESPACE, read through the CELERY_ namespace

    # When the project's worker starts (its tasks module found by autodiscover_tasks())
    caller = Celery("caller", broker=url, backend=url, gocraft_namespace=namespace, set_as_current=False)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery_shim", "-A", "djproj", "worker", "-P", "solo", "-l", "INFO"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # Then it ships the order, reading and writing the database
        result = caller.AsyncResult(_the_job_id(url, namespace) or "")
        assert result.get(timeout=30) == {"order": doc["order"], "customer": "ada"}
    finally:
        worker.terminate()
        out, _ = worker.communicate(timeout=30)
        caller.close()
    assert "orders.tasks.ship" in out


def _the_job_id(url: str, namespace: str) -> str | None:
    """The id of the job place_order.py wrote (still queued: the worker starts after it)."""
    from work_compat import Keys

    raw = redis.Redis.from_url(url).lindex(Keys(namespace).jobs("orders.tasks.ship"), 0)
    return json.loads(raw)["id"] if raw else None
