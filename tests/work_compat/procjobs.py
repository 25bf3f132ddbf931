"""Handlers for process-pool tests: module-level, so that spawned children can import them.

Each reports to Redis (the URL and key come in the job's args), the only channel a child shares
with the test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import redis

from work_compat import Job, pool_child


def _redis(job: Job) -> redis.Redis:
    return redis.Redis.from_url(job.arg_string("url"))


def record_pid(job: Job) -> None:
    """RPUSH this process's pid to the job's ``key``."""
    with _redis(job) as r:
        r.rpush(job.arg_string("key"), os.getpid())


def sleep_then_record(job: Job) -> None:
    """Sleep ``seconds``, then record the pid (a job that overruns a time limit never records)."""
    time.sleep(job.arg_float64("seconds"))
    record_pid(job)


def die(job: Job) -> None:
    """End the child process at once, as a segfault or an OOM kill would."""
    os._exit(1)


def checkin_and_wait(job: Job) -> None:
    """Check in, then wait (at most 10 s) until the test pushes to ``go``."""
    job.checkin("from the child")
    with _redis(job) as r:
        r.blpop([job.arg_string("go")], timeout=10)


class Context:
    """A pool context: each job gets a fresh one."""

    def __init__(self) -> None:
        self.trail: list[str] = []


def tag_middleware(ctx: Context, job: Job, next: Callable[[], Any]) -> Any:
    ctx.trail.append("middleware")
    return next()


def record_context(ctx: Context, job: Job) -> None:
    """RPUSH the context's trail, joined, to ``key``."""
    ctx.trail.append("handler")
    with _redis(job) as r:
        r.rpush(job.arg_string("key"), ",".join(ctx.trail))


def fail(job: Job) -> None:
    raise ValueError(f"failed in {os.getpid()}")


def count_runs(job: Job) -> None:
    """HINCRBY ``key`` ``i`` 1 and HSET ``key``:by ``i`` pid, then sleep ``ms`` if given; a job
    with ``slow`` set first records its pid under ``key``:pid and sleeps 60 s (the test SIGKILLs
    that child); its retry runs at once."""
    with _redis(job) as r:
        r.hincrby(job.arg_string("key"), str(job.arg_int64("i")), 1)
        r.hset(job.arg_string("key") + ":by", str(job.arg_int64("i")), os.getpid())
        if "ms" in job.args:
            time.sleep(job.arg_int64("ms") / 1000)
        if job.arg_bool("slow") and not job.fails:
            r.set(job.arg_string("key") + ":pid", os.getpid())
            time.sleep(60)


def no_backoff(job: Job) -> int:
    """Retry at once (module-level, so that children can load the job options)."""
    return 0


def limit_then_sleep(job: Job) -> None:
    """Set this job's hard time limit to ``limit`` seconds from the handler, then sleep 60 s."""
    pool_child.set_time_limit(job.arg_float64("limit"))
    time.sleep(60)


def record_pid_and_retire(job: Job) -> None:
    """Record the pid, then ask for this child to be replaced once the job is done."""
    record_pid(job)
    pool_child.retire()


def listen_then_wait(job: Job) -> None:
    """RPUSH what the parent tells the children to ``key``:told; record the pid under ``key``:pid
    and sleep 60 s (the test signals the child)."""
    url, key = job.arg_string("url"), job.arg_string("key")

    def heard(payload: Any) -> None:
        with redis.Redis.from_url(url) as r:
            r.rpush(key + ":told", repr(payload))

    pool_child.on_tell(heard)
    with _redis(job) as r:
        r.set(key + ":pid", os.getpid())
    time.sleep(60)
