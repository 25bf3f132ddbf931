"""Publishing with Celery's publish retry policy (D7) through work_compat's Enqueuer.

``Publisher`` is what ``Celery.publish`` writes with: the Enqueuer itself, whose plain LPUSHes of
names it has already written go straight to a connection held for them (``work_compat.direct_push``),
so what lands in Redis, the errors raised and redis-py's retries are the Enqueuer's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from work_compat import Connection, Enqueuer, Job, OutcomeUnknownError, RedisUnavailableError

from ..exceptions import OperationalError

__all__ = ["Publisher", "push_with_retries"]

logger = logging.getLogger(__name__)


def push_with_retries(enqueuer: Any, job: Job, run_at: int | None, policy: Mapping[str, Any] | None) -> None:
    """``enqueuer.enqueue_job`` retried on connection errors with Celery's publish retry policy.

    ``enqueuer`` is an Enqueuer or a Publisher. ``policy`` None means no retries; otherwise
    ``max_retries`` (None: forever), ``interval_start``, ``interval_step`` and ``interval_max`` in seconds.
    Only a publish that reached no Redis is retried: one sent and unanswered (OutcomeUnknownError)
    is raised as an OperationalError whose message says so and names the task id.
    """
    if policy is None:
        try:
            enqueuer.enqueue_job(job, run_at=run_at)
        except (RedisUnavailableError, OutcomeUnknownError) as err:
            raise OperationalError(str(err)) from err
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
        except OutcomeUnknownError as err:
            # Sent, unanswered: it may be queued already, and sending it again could run it twice.
            raise OperationalError(str(err)) from err
        except RedisUnavailableError as err:
            if max_retries is not None and attempt >= max_retries:
                raise OperationalError(str(err)) from err
            attempt += 1
            logger.warning(
                "publish of job %s id %s failed (%s); retry %d in %.1fs", job.name, job.id, err, attempt, interval
            )
            time.sleep(interval)
            interval = min(interval + step, ceiling)


class Publisher:
    """``enqueue_job`` for ``Celery.publish``: the app's Enqueuer on the app's connection."""

    def __init__(self, enqueuer: Enqueuer, conn: Connection) -> None:
        self.enqueuer = enqueuer
        self.conn = conn

    def enqueue_job(self, job: Job, *, run_at: int | None = None) -> Job:
        return self.enqueuer.enqueue_job(job, run_at=run_at)

    def close(self) -> None:
        """Hand the Enqueuer's held connections back to the pool (the app closes the connection)."""
        self.enqueuer.release_held_connections()
