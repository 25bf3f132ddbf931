"""The gocraft job a Celery call becomes: its args object, id and ``"celery"`` metadata.

``Celery.publish``, beat, the backlog importer and the dashboard's send-task write the same job for
the same call: the args object (D1, encoded by D2's rules), an id, and the call's options as the
``"celery"`` metadata beside the args (D4), so they build it here. Writing it (and retrying the
write) is ``publish``'s part.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from work_compat import Job

from .arguments import encode_args, unbound_args
from .options import PublishPlan, plan_publish

__all__ = ["celery_meta", "job_for", "unbound_call"]


def celery_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The ``"celery"`` metadata object (D4), JSON-ready (headers go through D2's encoding)."""
    out = dict(meta)
    if "headers" in out:
        out["headers"] = encode_args(out["headers"])
    return out


def job_for(name: str, encoded_args: dict[str, Any], plan: PublishPlan, job_id: str | None = None) -> Job:
    """The job for one call: ``job_id``, else the plan's ``task_id``, else a new UUID; enqueued at
    the plan's now; the plan's metadata beside the (already encoded) args."""
    job = Job(name, job_id or plan.job_id or str(uuid.uuid4()), int(plan.now), encoded_args)
    if plan.meta:
        job.extra["celery"] = celery_meta(plan.meta)
    return job


def unbound_call(
    name: str, args: Sequence[Any], kwargs: Mapping[str, Any], options: Mapping[str, Any], now: float
) -> tuple[Job, PublishPlan]:
    """``send_task``'s job for a name with no local task: positionals under ``"*args"`` (D1), the
    options through the option table; TypeError or ValueError for what cannot be sent."""
    plan = plan_publish(options, now)
    return job_for(name, encode_args(unbound_args(args, kwargs)), plan), plan
