"""The example pool the docker-compose worker runs: ``work-compat worker examples.python_worker.jobs:pool``.

One job of each kind a dashboard shows differently: quick jobs, an async job, a slow job that checks
in (a busy worker), a job that fails a set number of times (the retry list, then the dead list when
it gives up), a job refused for bad input (dead at once), and a periodic job. The pool's Redis and
namespace are defaults; the worker command's ``--redis`` (or ``WORK_COMPAT_REDIS``) and ``--ns`` win.
"""

from __future__ import annotations

import asyncio
import logging
import time

from work_compat import DeadNow, Job, JobOptions, WorkerPool
from work_compat.backoff import linear_backoff

__all__ = ["NAMESPACE", "pool"]

NAMESPACE = "demo"
logger = logging.getLogger(__name__)


def send_email(job: Job) -> None:
    """Quick. A job without an address can never succeed, so it goes dead now instead of retrying."""
    address = job.arg_string("address")
    if job.arg_error() is not None or "@" not in address:
        raise DeadNow(f"no valid address in {job.args!r}")
    logger.info("email to %s: %s", address, (job.args or {}).get("subject", ""))


async def resize_image(job: Job) -> None:
    """An ``async def`` handler: the pool runs it on its own event loop."""
    await asyncio.sleep(0.2)
    logger.info("resized %s to %dpx", job.arg_string("path"), job.arg_int64("width") or 640)


def generate_report(job: Job) -> None:
    """Slow, with a check-in per step: the dashboard lists it among the busy workers meanwhile."""
    steps = job.arg_int64("steps") or 3
    for step in range(1, steps + 1):
        job.checkin(f"report {job.arg_string('report_id')}: step {step} of {steps}")
        time.sleep(1.0)
    logger.info("report %s done", job.arg_string("report_id"))


def sync_account(job: Job) -> None:
    """Fails its first ``fail_times`` runs (``job.fails`` counts the runs that failed before this one)."""
    if job.fails < job.arg_int64("fail_times"):
        raise RuntimeError(f"upstream for {job.arg_string('account')} unavailable (run {job.fails + 1})")


def cleanup(job: Job) -> None:
    """Periodic: every Python pool running this module enqueues each instant once between them."""
    logger.info("periodic cleanup %s", job.id)


pool = WorkerPool(4, NAMESPACE, "redis://localhost:6379/0")
pool.job("send_email", send_email)
pool.job("resize_image", resize_image)
pool.job_with_options("generate_report", JobOptions(max_concurrency=2), generate_report)
# Retries 5 s, 10 s, 15 s after each failure, so the demo reaches the dead list within a minute.
pool.job_with_options("sync_account", JobOptions(max_fails=4, backoff=linear_backoff(5)), sync_account)
pool.job("cleanup", cleanup)
pool.every("cleanup", 60)
