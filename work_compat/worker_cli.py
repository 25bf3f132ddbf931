"""The ``worker`` and ``fakedata`` subcommands: run a pool from ``module:attribute``, and fill a
namespace with lively fake jobs (like Go's ``workfakedata``) for trying a dashboard."""

from __future__ import annotations

import importlib
import logging
import os
import random
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from .enqueue import Enqueuer
from .errors import ConfigurationError, RedisUnavailableError
from .job import Job
from .job_options import JobOptions
from .worker_pool import WorkerPool

__all__ = ["load_pool", "run_fakedata", "run_worker"]

logger = logging.getLogger(__name__)


def load_pool(spec: str) -> WorkerPool:
    """The WorkerPool named by ``module:attribute`` (an instance, or a callable that returns one)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigurationError(f"expected module:attribute, got {spec!r}")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does, so a project's own modules load
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigurationError(f"cannot import {module_name!r}: {err}") from err
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigurationError(f"{module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, WorkerPool) and callable(obj):
        obj = obj()
    if not isinstance(obj, WorkerPool):
        raise ConfigurationError(f"{spec} is a {type(obj).__name__}, not a work_compat.WorkerPool")
    return obj


def run_worker(pool: WorkerPool) -> int:
    """Start the pool; the first SIGTERM/SIGINT stops it gracefully, a second one at once."""
    stop = threading.Event()
    signals = 0
    first_at = 0.0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal signals, first_at
        # One keypress or `kill` can arrive twice (a terminal signals the whole process group, and
        # so does `timeout`): a second signal counts only a moment after the first.
        if signals and time.monotonic() - first_at < 1.0:
            return
        signals += 1
        if signals == 1:
            first_at = time.monotonic()
            logger.warning("signal %d: finishing in-flight jobs (send it again to stop at once)", signum)
            stop.set()
        else:
            logger.warning("signal %d again: stopping now; a reaper will requeue in-flight jobs", signum)
            pool.abort()
            os._exit(1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if not _wait_for_redis(pool, stop):
        return 0
    pool.start()
    print(
        f"work-compat worker: pool {pool.pool_id}, {pool.concurrency} "
        f"{'processes' if pool.processes else 'threads'}, namespace {pool.namespace!r}, "
        f"jobs {', '.join(sorted(pool.job_types))}",
        flush=True,
    )
    while not stop.wait(0.5):
        pass
    pool.stop()
    return 0


def _wait_for_redis(pool: WorkerPool, stop: threading.Event) -> bool:
    """Wait until Redis answers (a worker often starts before its Redis, as in docker compose);
    False if told to stop meanwhile."""
    delay = 0.5
    while not stop.is_set():
        try:
            pool.ping()
            return True
        except RedisUnavailableError as err:
            logger.warning("%s; retrying in %.1fs", err, delay)
            stop.wait(delay)
            delay = min(delay * 2, 10.0)
    return False


FAKE_JOBS = ("foobar", "lobster", "wat", "bad", "slow")


def _fake_handler(job: Job) -> None:
    if job.name == "bad" and random.random() < 0.7:
        raise RuntimeError("fake failure, as workfakedata makes")
    if job.name == "slow":
        for step in range(3):
            job.checkin(f"step {step + 1} of 3")
            time.sleep(random.uniform(0.5, 2.0))
        return
    time.sleep(random.uniform(0.01, 0.3))


def run_fakedata(redis: str, namespace: str, seconds: float, rate: float) -> int:
    """Enqueue fake jobs at ``rate`` per second and run a pool that works them, for ``seconds``."""
    enq = Enqueuer(namespace, redis)
    pool = WorkerPool(10, namespace, redis)
    for name in FAKE_JOBS:
        pool.job_with_options(name, JobOptions(max_fails=3 if name == "bad" else 4), _fake_handler)
    pool.start()
    deadline = time.monotonic() + seconds
    count = 0
    try:
        while time.monotonic() < deadline:
            name = random.choice(FAKE_JOBS)
            if random.random() < 0.2:
                enq.enqueue_in(name, random.randint(5, 120), {"n": count, "fake": True})
            else:
                enq.enqueue(name, {"n": count, "fake": True})
            count += 1
            time.sleep(1 / rate)
    except KeyboardInterrupt:
        pass
    finally:
        pool.stop()
        enq.close()
    print(f"work-compat fakedata: enqueued {count} fake jobs into {namespace!r}")
    return 0
