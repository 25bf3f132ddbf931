"""The README's first command, ``./dev.sh demo``, runs to the end: every step, Go included, on the
test Redis, with the dashboard checked instead of served (stdin is not a terminal)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_runs_every_step(redis_server: RedisServer) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/4"
    redis.Redis.from_url(url).flushdb()
    env = {**os.environ, "PATH": os.environ.get("PATH", "") + os.pathsep + "/usr/local/go/bin"}
    proc = subprocess.run(
        [sys.executable, "examples/demo.py", "--redis", url],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=110,
        env=env,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    for line in (
        "go worker ran send_email",  # 3: Go runs Python's jobs
        "python pool ran generate_report",  # 5: Python runs Go's jobs
        "invoice  SUCCESS 'INVOICE",  # 6: the Celery project's chain
        "go worker ran send_sms",  # 6: Go runs the project's declared job
        "-> '/img/cat.png resized to 320px'",  # 6: Python runs Go's call of a Celery task
        "GET /                  -> 200",  # 7: the dashboard
        "Done.",
    ):
        assert line in out, f"{line!r} missing from the demo's output:\n{out[-3000:]}"
    redis.Redis.from_url(url).flushdb()
