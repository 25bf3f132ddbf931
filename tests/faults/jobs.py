"""The pool the fault suite's worker processes run: ``python -m work_compat worker tests.faults.jobs:pool``.

Handlers record every run in Redis under the key prefix the job carries in ``args["rec"]``
(``<rec>:started`` and ``<rec>:done`` are hashes job index -> runs), on the server named by
``WORK_COMPAT_REDIS`` (the variable the ``worker`` command reads too). Everything else (cadences,
backoffs) is fixed here, so a test controls a worker only through its flags.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import redis

from work_compat import Job, JobOptions, PoolSettings, WorkerPool

# Short cadences: a killed pool is found dead 3 s after its last beat and reaped within 2 s more.
# dead_after must stay above the heartbeat period, or live pools would be reaped.
SETTINGS = PoolSettings(
    heartbeat_period=1,
    reaper_first_delay=1,
    reaper_period=2,
    reaper_jitter=0,
    dead_after=3,
    requeue_period=0.5,
    stop_timeout=15,
)
# ms between fetches after 1, 2, 3, 4+ empty ones (Go's go up to 5 s; a test cannot wait that long)
FAST_BACKOFFS = (0, 5, 20, 50, 100)

_client: redis.Redis | None = None
_client_lock = threading.Lock()


def recorder() -> redis.Redis:
    """One client per process (worker parent or child) for the handlers' records."""
    global _client
    with _client_lock:
        if _client is None:
            _client = redis.Redis.from_url(os.environ["WORK_COMPAT_REDIS"], socket_timeout=10)
        return _client


def one_second(job: Job) -> int:
    """Retry after 1 s. Module-level, because a process pool pickles its job options
    (``work_compat.fixed_backoff(1)`` is a closure and cannot be pickled)."""
    return 1


def work(job: Job) -> None:
    """Record the start, sleep ``ms``, record the end."""
    rec, i = job.arg_string("rec"), job.arg_int64("i")
    r = recorder()
    r.hincrby(rec + ":started", str(i), 1)
    time.sleep(job.arg_int64("ms") / 1000)
    r.hincrby(rec + ":done", str(i), 1)


def proc(job: Job) -> None:
    """``work`` for process pools: also records the child's pid, and the err of a retried run."""
    rec, i = job.arg_string("rec"), job.arg_int64("i")
    r = recorder()
    r.sadd(rec + ":pids", os.getpid())
    if job.fails:
        r.rpush(rec + ":errs", f"{i}|{job.last_err}")
    work(job)


def suicide(job: Job) -> None:
    """The first run (the ``flag`` key is set once) SIGKILLs its own process; later runs record."""
    rec, i = job.arg_string("rec"), job.arg_int64("i")
    r = recorder()
    if r.set(job.arg_string("flag"), "1", nx=True):
        os.kill(os.getpid(), signal.SIGKILL)
    r.rpush(rec + ":errs", f"{i}|{job.last_err}")
    r.hincrby(rec + ":done", str(i), 1)


pool = WorkerPool(2, "faults", "redis://127.0.0.1:6379/0", settings=SETTINGS, sleep_backoffs=FAST_BACKOFFS)
pool.job("work", work)
pool.job_with_options("proc", JobOptions(max_fails=25, backoff=one_second), proc)
pool.job_with_options("suicide", JobOptions(backoff=one_second), suicide)


def hang(job: Job) -> None:
    """Record this process's pid under ``args["flag"]``, then sleep ``args["s"]`` seconds."""
    recorder().set(job.arg_string("flag"), os.getpid())
    time.sleep(job.arg_int64("s"))


def default_reaper_pool() -> WorkerPool:
    """``work`` on the library's default cadences (Go's 5 s beat and 10 s dead_after; the reaper
    passes at start, dead_after + 1 s later, then every 10 minutes): a lone pool restarted after a
    crash, with no other pool's reaper to help."""
    p = WorkerPool(2, "faults", "redis://127.0.0.1:6379/0", settings=PoolSettings(), sleep_backoffs=FAST_BACKOFFS)
    p.job("work", work)
    return p
