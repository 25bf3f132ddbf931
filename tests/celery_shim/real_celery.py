"""A real Celery 5.7 worker for side-by-side tests: the same project files, run by ``python -m celery``
(no alias, so ``from celery import Celery`` is the real one) on the same Redis as the shim's worker.

Celery's messages go to kombu's lists (``celery``, ``_kombu.*``) and the shim's jobs to the gocraft
namespace, so both workers share one Redis database without seeing each other's work; results of
both are ``celery-task-meta-<id>`` keys, which either client reads.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tests.work_compat.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]


class RealWorker:
    """The running real worker: ``app`` is a real Celery app on its broker and backend (for sending
    tasks and broadcasts), ``output()`` what the worker printed so far."""

    def __init__(self, app: Any, out: IO[str]) -> None:
        self.app = app
        self._out = out

    def output(self) -> str:
        self._out.seek(0)
        return self._out.read()


@contextlib.contextmanager
def real_celery_worker(root: Path, module: str, url: str, *options: str) -> Iterator[RealWorker]:
    """``celery -A module worker -P solo`` (real Celery) running for the block (options after the defaults)."""
    import celery

    out: IO[str] = tempfile.TemporaryFile("w+")
    environ = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    argv = ["-A", module, "-b", url, "--result-backend", url, "worker", "-P", "solo", "-n", "real@%h"]
    argv += ["--without-gossip", "--without-mingle", *options]
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", *argv],
        cwd=root,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
        env={**environ, "PYTHONPATH": str(root)},  # not ROOT: the real celery, never celery_shim
    )
    app = celery.Celery("caller", broker=url, backend=url, set_as_current=False)
    worker = RealWorker(app, out)
    try:
        wait_until(lambda: app.control.ping(timeout=0.5) or proc.poll() is not None, 60, "the real worker")
        assert proc.poll() is None, worker.output()
        yield worker
    finally:
        app.close()
        # The real kombu leaves the Redis sockets of its pidbox reply channels (ping, broadcast with
        # replies) to the garbage collector; collect them here, where they belong, rather than in
        # whichever later test the collector happens to run (the suite turns warnings into errors).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            out.close()
