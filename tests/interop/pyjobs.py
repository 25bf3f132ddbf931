"""A pool for ``python -m work_compat worker tests.interop.pyjobs:pool`` in the interop tests.

Its ``py_crash`` handler sleeps far longer than any test waits, so the process is killed with its
jobs in progress; ``held`` records each run in Redis (``HELD_REDIS``) and sleeps as long for the
job whose ``args["slow"]`` is true. ``--redis``, ``--ns`` and ``-c`` on the command line replace
the values here.
"""

from __future__ import annotations

import os
import time

import redis

from work_compat import Job, WorkerPool

SLOW_JOB = "py_crash"
HELD_JOB = "held"


def _slow(job: Job) -> None:
    time.sleep(300)


def _held(job: Job) -> None:
    """RPUSH ``i`` to ``args["rec"]`` at the start; the job marked slow then sleeps."""
    with redis.Redis.from_url(os.environ["HELD_REDIS"]) as r:
        r.rpush(job.arg_string("rec"), job.arg_int64("i"))
    if job.arg_bool("slow"):
        time.sleep(300)


pool = WorkerPool(1, "pyjobs", "redis://127.0.0.1:6379/0", sleep_backoffs=(0, 10, 50))
pool.job(SLOW_JOB, _slow).job(HELD_JOB, _held)
