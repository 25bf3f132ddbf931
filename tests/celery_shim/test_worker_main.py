"""``python proj.py`` with ``app.worker_main([...])``: the command line's worker runs the module's app
until SIGTERM, then leaves after a warm shutdown (exit code 0, heartbeat removed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import redis

from celery_shim.worker.worker import HEARTBEAT_FIELD
from tests.redis_server import RedisServer
from tests.work_compat.conftest import wait_until
from work_compat import Keys

SCRIPT = """
import sys

from celery_shim import Celery

app = Celery("proj_main", broker=sys.argv[1], gocraft_namespace=sys.argv[2])


@app.task(name="hello")
def hello():
    return "hi"


if __name__ == "__main__":
    sys.exit(app.worker_main(["worker", "-P", "threads", "-c", "1", "-n", "main@test"]))
"""


def test_worker_main_runs_until_sigterm(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis, namespace: str
) -> None:
    script = tmp_path / "proj.py"
    script.write_text(textwrap.dedent(SCRIPT))
    root = Path(__file__).resolve().parents[2]
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    env = {**os.environ, "PYTHONPATH": str(root), "CELERY_BROKER_URL": ""}
    keys = Keys(namespace)
    proc = subprocess.Popen(
        [sys.executable, str(script), url, namespace], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        pools = wait_until(
            lambda: proc.poll() is None and [p.decode() for p in redis_client.smembers(keys.worker_pools())],
            timeout=30,
            what="the worker's heartbeat",
        )
        assert redis_client.hget(keys.heartbeat(pools[0]), HEARTBEAT_FIELD) == b"main@test"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert redis_client.smembers(keys.worker_pools()) == set()
