"""One job's path once fetched (gocraft ``worker.go``, protocol §4.7-4.11):
decode -> release the unique lock -> look up the handler -> run -> decide the fate.

``process`` returns a Completion, which the worker writes with its next ``work_step`` call (or the
pool's flusher writes sooner, when the worker's next job runs long).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from .backoff import job_backoff
from .clock import Clock
from .errors import DecodeError
from .job import Job, decode_job, make_identifier
from .job_options import DEFAULT_MAX_FAILS, JobType
from .keys import Keys
from .pool_settings import PoolSettings, Semantics
from .runner import Outcome, error_text

__all__ = ["STRAY_JOB_ERROR", "Completion", "Fetched", "JobProcessor"]

logger = logging.getLogger(__name__)

STRAY_JOB_ERROR = "stray job: no handler"  # Go's words, kept for tools that match on them


@dataclass(frozen=True)
class Fetched:
    """What the fetch script returned for one job."""

    raw: bytes
    queue_key: str
    inprogress_key: str
    queue_name: str


@dataclass
class Completion:
    """How one fetched job ends. ``kind``: success, retry, dead, discard, put_back, or abandoned
    (left in progress for a reaper: the pool killed the process running it while stopping)."""

    fetched: Fetched
    kind: str
    job: Job | None = None
    score: int = 0
    history_status: str | None = None
    completed_at: int = 0


class JobProcessor:
    """Runs fetched jobs through a runner and turns what happened into a Completion."""

    def __init__(
        self,
        client: Any,
        keys: Keys,
        job_types: dict[str, JobType],
        run: Callable[[JobType, Job, bytes, int], Outcome],
        observer: Any,
        *,
        clock: Clock,
        settings: PoolSettings,
    ) -> None:
        self.client = client
        self.keys = keys
        self.job_types = job_types
        self.run = run
        self.observer = observer
        self.clock = clock
        self.settings = settings

    def process(self, fetched: Fetched, slot: int) -> Completion:
        try:
            job = decode_job(fetched.raw)
            if not job.name:  # no pool can ever run it, and a retry member without a name blocks requeuers
                raise DecodeError(fetched.raw, "the job has no name")
        except DecodeError as err:
            return self._bury_undecodable(fetched, err)
        if job.unique:
            job = self._release_unique(job)
        job_type = self.job_types.get(job.name)
        if job_type is None:
            logger.error("job %s %s (queue %s): %s", job.name, job.id, fetched.queue_name, STRAY_JOB_ERROR)
            outcome = Outcome("error", STRAY_JOB_ERROR)
        else:
            job._checkin = lambda job_id, text: self.observer.checkin(slot, job_id, text)
            self.observer.started(slot, job)
            try:
                outcome = self.run(job_type, job, fetched.raw, slot)
            finally:
                self.observer.done(slot)
            if outcome.kind not in ("put_back", "abandoned"):
                self.observer.finished(slot)
            if outcome.kind == "error":
                logger.warning("job %s %s (queue %s) failed: %s", job.name, job.id, fetched.queue_name, outcome.message)
        return self.decide(fetched, job, job_type, outcome)

    def process_safely(self, fetched: Fetched, slot: int) -> Completion:
        """``process``, where anything raised (SystemExit from a handler, a bug) fails the job
        with that error rather than ending the worker; a job that cannot even be read is buried."""
        try:
            return self.process(fetched, slot)
        except BaseException as err:
            logger.exception("job from queue %s failed outside its handler", fetched.queue_name)
            try:
                job = decode_job(fetched.raw)
            except DecodeError as bad:
                return self._bury_undecodable(fetched, bad)
            except Exception as bad:  # the decoder's own failure: the bytes are hostile
                return self._bury_undecodable(fetched, DecodeError(fetched.raw, error_text(bad)))
            return self.decide(fetched, job, self.job_types.get(job.name), Outcome("error", error_text(err)))

    def _release_unique(self, job: Job) -> Job:
        """Uniqueness ends when a job starts (§4.7): GET and DEL its lock; a by-key lock holding a
        newer submission's JSON makes that submission the job that runs."""
        key = job.unique_key or self.keys.unique(job.name, job.args)
        try:
            held = self.client.get(key)
            if held is None:
                return job
            self.client.delete(key)
        except redis.RedisError as err:
            logger.warning("could not release unique lock of job %s %s: %s", job.name, job.id, err)
            return job
        if held == b"1":
            return job
        try:
            return decode_job(held)
        except DecodeError:
            return job

    def _bury_undecodable(self, fetched: Fetched, err: DecodeError) -> Completion:
        """A job no peer can decode goes to dead as a valid job that every client can list."""
        now = self.clock.now()
        text = fetched.raw.decode("utf-8", "replace")
        logger.error("undecodable job in queue %s moved to dead: %s", fetched.queue_name, err.reason)
        job = Job(
            name=fetched.queue_name,
            id=make_identifier(),
            enqueued_at=now,
            args={"raw": text},
            fails=1,
            last_err=f"cannot decode job: {err.reason}",
            failed_at=now,
        )
        return Completion(fetched, "dead", job, now, "dead" if self.settings.history else None, now)

    def decide(self, fetched: Fetched, job: Job, job_type: JobType | None, outcome: Outcome) -> Completion:
        now = self.clock.now()
        history = self.settings.history
        if outcome.kind == "ok":
            return Completion(fetched, "success", job, 0, "success" if history else None, now)
        if outcome.kind in ("put_back", "abandoned"):
            return Completion(fetched, outcome.kind, job)
        if outcome.kind == "discard":
            return Completion(fetched, "discard", job, 0, outcome.history_status if history else None, now)
        job.fails += 1
        job.last_err = outcome.message
        job.failed_at = now
        if outcome.kind == "retry_at":
            if outcome.args is not None:
                job.args = outcome.args
            if outcome.extra:
                job.extra.update(outcome.extra)
            return Completion(fetched, "retry", job, outcome.at, "retry" if history else None, now)
        if outcome.kind == "dead":
            return Completion(fetched, "dead", job, now, "dead" if history else None, now)
        kind = self._fate(job, job_type)
        status = "retry" if kind == "retry" else "dead"
        score = now
        if kind == "retry":
            handler_backoff = job_type.options.backoff if job_type else None
            score = now + job_backoff(job, handler_backoff, fork=self.settings.semantics is Semantics.FORK)
        return Completion(fetched, kind, job, score, status if history else None, now)

    def _fate(self, job: Job, job_type: JobType | None) -> str:
        """retry, dead or discard for a failed run (§4.9)."""
        if self.settings.semantics is Semantics.FORK:
            if job.max_retries is not None:
                limit = job.max_retries
            else:
                limit = job_type.options.max_fails if job_type else DEFAULT_MAX_FAILS
            if limit - job.fails > 0:
                return "retry"
        else:
            if job_type is None:
                return "dead"
            if job_type.options.max_fails - job.fails > 0:
                return "retry"
        if job_type is not None and job_type.options.skip_dead:
            return "discard"
        return "dead"
