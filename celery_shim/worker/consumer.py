"""The handler a worker's pool calls for each fetched job: the checks Celery's consumer makes, then
the run (here, or in a prefork child).

In order, as Celery's worker: an unknown name goes dead; an expired job (D9) or a revoked id (D17)
is discarded with a REVOKED state and ``task_revoked`` (the id is looked up in the worker's copy of
the revoked set, see ``revoked``: no Redis round trip per job); a rate-limited name (D14) puts the job
back; then ``task_received`` fires and the task runs. A prefork child that was killed at the hard
time limit, or died, is a failure decided here (D12): TimeLimitExceeded or WorkerLostError is
stored and the job goes dead, or back to its queue when ``acks_late`` asks for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Container
from typing import TYPE_CHECKING, Any

from work_compat import DeadNow, Discard, Job, JobFate, PutBack, RetryAt
from work_compat.job_options import JobType
from work_compat.runner import OK, Outcome

from .. import signals, states
from ..app.trace import Call, ExceptionInfo, Trace, ignore_result_of, job_meta, task_setting
from ..exceptions import TaskRevokedError, TimeLimitExceeded, WorkerLostError
from ..gocraft.keys import ShimKeys
from .ratelimit import RateLimits
from .revoked import RevokedIds
from .timelimits import Limits, effective_limits

if TYPE_CHECKING:
    from ..app.base import Celery
    from ..app.task import Task
    from .prefork import PreforkPool

__all__ = ["TaskConsumer"]

logger = logging.getLogger(__name__)


class TaskConsumer:
    """Called by the WorkerPool with each job of the worker's tasks."""

    def __init__(
        self,
        app: Celery,
        trace: Trace,
        *,
        sender: Any,
        rate_limits: RateLimits,
        worker_limits: Limits,
        runtime_limits: Callable[[str], Limits | None],
        prefork: PreforkPool | None = None,
        revoked: Container[str] | None = None,
        hard_limit: Callable[[float | None], None] | None = None,
        terminated: Callable[[str], int | None] | None = None,
    ) -> None:
        self.app = app
        self.trace = trace
        self.sender = sender
        self.rate_limits = rate_limits
        self.worker_limits = worker_limits
        self.runtime_limits = runtime_limits
        self.prefork = prefork
        self.hard_limit = hard_limit  # set in a prefork child that fetches its own jobs
        self._terminated = terminated or (prefork.terminated if prefork is not None else None)
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        if revoked is None:  # no worker keeping a copy: read the set itself
            conn, keys = app._connection()
            revoked = RevokedIds(conn, ShimKeys(keys.namespace).revoked())
            revoked.refresh()
        self.revoked = revoked

    def __call__(self, job: Job) -> None:
        try:
            task = self.app.tasks.get(job.name)
        except Exception:
            task = None
        if task is None:
            logger.error("job %s %s: no task of that name in this worker's app; moved to dead", job.name, job.id)
            raise DeadNow(f"task {job.name!r} is not registered with the worker's app")
        try:
            fate = self._handle(task, job)
        except JobFate:
            raise
        except Exception as err:  # a bug or an outage here must not lose the job
            logger.exception("job %s %s: the worker failed to run it; moved to dead", job.name, job.id)
            raise DeadNow(f"worker error: {type(err).__name__}: {err}") from err
        if fate is not None:
            raise fate

    def _handle(self, task: Task, job: Job) -> JobFate | None:
        meta = job_meta(job)
        expires = meta.get("expires")
        if (
            expires is not None
            and isinstance(expires, (int, float))
            and not isinstance(expires, bool)
            and expires < self.app.now()
        ):
            return self._revoke(task, job, meta, "expired", expired=True)
        if job.id in self.revoked:
            return self._revoke(task, job, meta, "revoked", expired=False)
        if not self.rate_limits.take(job.name):
            logger.debug("job %s %s: rate limit reached; back to its queue", job.name, job.id)
            return PutBack("rate limited")
        call: Call | None = None
        if signals.task_received.has_receivers():  # the request is built only for someone to see it
            call = self.trace.call_of(task, job, meta)
            signals.task_received.send(sender=self.sender, request=self.trace.request_of(task, job, meta, call))
        logger.info("Task %s[%s] received", task.name, job.id)
        limits = effective_limits(
            self.app, task, meta, runtime=self.runtime_limits(job.name), worker=self.worker_limits
        )
        if self.prefork is None:
            if self.hard_limit is not None:  # a prefork child: its parent kills it past the limit
                self.hard_limit(limits.hard)
            elif limits.hard:
                self._warn_once(
                    f"hard:{task.name}",
                    "task %s has a hard time limit of %ss, which a threads or solo pool cannot enforce "
                    "(use the prefork pool); only its soft limit applies",
                    task.name,
                    limits.hard,
                )
            return self.trace.run(task, job, meta, soft_seconds=limits.soft, call=call)
        return self._from_child(task, job, meta, self.prefork.run(job, limits), limits)

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        logger.warning(message, *args)

    def _revoke(
        self,
        task: Task,
        job: Job,
        meta: dict[str, Any],
        reason: str,
        *,
        expired: bool,
        terminated: bool = False,
        signum: int | None = None,
    ) -> JobFate:
        """Celery's discard of a revoked or expired task: REVOKED stored, ``task_revoked`` fired."""
        request = self.trace.request_of(task, job, meta)
        logger.info("Discarding revoked task: %s[%s] (%s)", task.name, job.id, reason)
        if self._store_errors(task):
            try:
                task.backend.store_result(job.id, TaskRevokedError(reason), states.REVOKED, request=request)
            except Exception as err:
                logger.error("Task %s[%s]: storing REVOKED failed: %s", task.name, job.id, err)
        self.trace._canvas("on_revoked", request)  # celery-canvas: a revoked chord member still counts
        signals.task_revoked.send(sender=task, request=request, terminated=terminated, signum=signum, expired=expired)
        job.last_err = reason
        return Discard(reason)

    @staticmethod
    def _store_errors(task: Task) -> bool:
        return not ignore_result_of(task) or bool(
            task_setting(task, "store_errors_even_if_ignored", "task_store_errors_even_if_ignored", False)
        )

    # -- prefork outcomes --------------------------------------------------------------------------
    def lost(self, job_type: JobType, job: Job, outcome: Outcome) -> Outcome:
        """The parent's decision on a job whose prefork child died, was terminated or overran its
        hard limit (``WorkerPool.set_lost_job_handler``): Celery's failure or revoke, stored here."""
        task = self.app.tasks.get(job.name)
        if task is None:
            return outcome
        meta = job_meta(job)
        limits = effective_limits(
            self.app, task, meta, runtime=self.runtime_limits(job.name), worker=self.worker_limits
        )
        fate = self._from_child(task, job, meta, outcome, limits)
        return OK if fate is None else Outcome.from_fate(fate)

    def _from_child(
        self, task: Task, job: Job, meta: dict[str, Any], outcome: Outcome, limits: Limits
    ) -> JobFate | None:
        kind = outcome.kind
        if kind == "ok":
            return None
        if kind == "retry_at":
            return RetryAt(outcome.at, new_args=outcome.args, reason=outcome.message, extra=outcome.extra)
        if kind == "dead":
            return DeadNow(outcome.message)
        if kind == "put_back":
            return PutBack(outcome.message)
        if kind == "discard":
            fate = Discard(outcome.message)
            fate.history_status = outcome.history_status
            return fate
        if kind == "abandoned":  # the worker stopped and killed the child: another run will come
            return PutBack("the worker stopped while the task ran")
        signum = self._terminated(job.id) if self._terminated is not None else None
        if signum is not None:  # app.control.revoke(terminate=True) killed it
            return self._revoke(task, job, meta, "terminated", expired=False, terminated=True, signum=signum)
        if outcome.message.startswith("TimeLimitExceeded"):
            return self._child_lost(task, job, meta, TimeLimitExceeded(limits.hard), timeout=True)
        if outcome.message.startswith("WorkerLost"):
            lost = WorkerLostError(f"Worker exited prematurely: {outcome.message.split(': ', 1)[-1]}")
            return self._child_lost(task, job, meta, lost, timeout=False)
        return DeadNow(outcome.message)

    def _child_lost(self, task: Task, job: Job, meta: dict[str, Any], exc: Exception, *, timeout: bool) -> JobFate:
        """D12, as Celery's worker decides: a hard time limit is a FAILURE (and the job goes back
        with ``acks_late`` and not ``acks_on_failure_or_timeout``); a lost child is a FAILURE unless
        ``acks_late`` and ``reject_on_worker_lost`` put the job back."""
        acks_late = bool(task_setting(task, "acks_late", "task_acks_late", False))
        if timeout:  # Celery stores the failure first, whatever happens to the message
            limit = _seconds_text(exc.args[0] if exc.args else "?")
            logger.error("Task handler raised error: %s(%s)", type(exc).__name__, limit)  # Celery's two lines
            logger.error("Hard time limit (%ss) exceeded for %s[%s]", limit, task.name, job.id)
            self._report_failure(task, job, meta, exc, timeout=True)
            ack = bool(task_setting(task, "acks_on_failure_or_timeout", "task_acks_on_failure_or_timeout", True))
            if acks_late and not ack:
                return PutBack("TimeLimitExceeded: put back (acks_late, not acks_on_failure_or_timeout)")
            return DeadNow(f"TimeLimitExceeded: hard time limit ({exc.args[0] if exc.args else '?'}s) exceeded")
        logger.error("Task %s[%s]: %s", task.name, job.id, exc)
        if acks_late and bool(task_setting(task, "reject_on_worker_lost", "task_reject_on_worker_lost", False)):
            return PutBack("WorkerLostError: put back (acks_late, reject_on_worker_lost)")
        self._report_failure(task, job, meta, exc, timeout=False)
        return DeadNow(f"WorkerLostError: {exc}")

    def _report_failure(self, task: Task, job: Job, meta: dict[str, Any], exc: Exception, *, timeout: bool) -> None:
        try:
            raise exc
        except Exception as raised:
            einfo = ExceptionInfo(raised)
        request = self.trace.request_of(task, job, meta)
        with _pushed_request(task, request):  # the child that ran it is gone; its handlers run here
            self.trace.report_failure(
                task, request, exc, einfo, store_errors=self._store_errors(task), after_return=timeout
            )


def _seconds_text(value: Any) -> str:
    """A limit as Celery prints it: ``1`` for one second, ``1.5`` for one and a half."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _pushed_request:
    """``task.request`` is the lost job's request while its failure handlers run (as Celery does)."""

    def __init__(self, task: Task, request: Any) -> None:
        self.stack = task._stack()
        self.request = request

    def __enter__(self) -> None:
        self.stack.append(self.request)

    def __exit__(self, *exc: object) -> None:
        self.stack.pop()
