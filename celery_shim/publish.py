"""Publishing with Celery's publish retry policy (D7) through work_compat's Enqueuer."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from work_compat import Enqueuer, Job, RedisUnavailableError

__all__ = ["push_with_retries"]

logger = logging.getLogger(__name__)


def push_with_retries(enqueuer: Enqueuer, job: Job, run_at: int | None, policy: Mapping[str, Any] | None) -> None:
    """``enqueuer.enqueue_job`` retried on connection errors with Celery's publish retry policy.

    ``policy`` None means no retries; otherwise ``max_retries`` (None: forever), ``interval_start``,
    ``interval_step`` and ``interval_max`` in seconds.
    """
    if policy is None:
        enqueuer.enqueue_job(job, run_at=run_at)
        return
    max_retries = policy.get("max_retries", 3)
    interval = float(policy.get("interval_start", 0))
    step = float(policy.get("interval_step", 0.2))
    ceiling = float(policy.get("interval_max", 1))
    attempt = 0
    while True:
        try:
            enqueuer.enqueue_job(job, run_at=run_at)
            return
        except RedisUnavailableError as err:
            if max_retries is not None and attempt >= max_retries:
                raise
            attempt += 1
            logger.warning(
                "publish of job %s id %s failed (%s); retry %d in %.1fs", job.name, job.id, err, attempt, interval
            )
            time.sleep(interval)
            interval = min(interval + step, ceiling)
