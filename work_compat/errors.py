"""The exceptions work_compat raises, under one base class.

Go's client returns ``ErrNotDeleted`` ("nothing deleted") and ``ErrNotRetried`` ("nothing retried");
they keep those messages here so that tools which match on the text keep working.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArgError",
    "ConfigurationError",
    "DecodeError",
    "EncodeError",
    "InvalidJobNameError",
    "NotDeletedError",
    "NotRetriedError",
    "OutcomeUnknownError",
    "RedisUnavailableError",
    "ScheduleNotFoundError",
    "WorkCompatError",
]


class WorkCompatError(Exception):
    """Base class of every error work_compat raises on purpose."""


class ConfigurationError(WorkCompatError, ValueError):
    """A connection string, namespace or option that cannot work; the message says why."""


class InvalidJobNameError(WorkCompatError, ValueError):
    """A job name that would break the shared key layout (protocol §1.5)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"invalid job name {name!r}: {reason}")
        self.name = name
        self.reason = reason


class EncodeError(WorkCompatError, TypeError):
    """A value that JSON (and so a Go peer) cannot carry; raised before anything is written."""

    def __init__(self, path: str, value: Any, reason: str) -> None:
        super().__init__(f"cannot encode {path}: {reason}")
        self.path = path
        self.value = value
        self.reason = reason


class DecodeError(WorkCompatError, ValueError):
    """Bytes that are not a job Go could decode; ``data`` keeps the original bytes."""

    def __init__(self, data: bytes, reason: str) -> None:
        preview = data[:120].decode("utf-8", "replace")
        super().__init__(f"cannot decode job: {reason} (data: {preview!r})")
        self.data = data
        self.reason = reason


class RedisUnavailableError(WorkCompatError, ConnectionError):
    """Redis could not be reached; the message names the address with any password redacted."""


class OutcomeUnknownError(WorkCompatError, ConnectionError):
    """A write was sent and Redis did not answer (a stall past the socket timeout, a dropped
    connection): it ran once or not at all. It was not sent again, which could have made a second
    copy of a job; the message says what to look for before sending it again.

    Not a RedisUnavailableError on purpose: code that retries on that would make the copy.
    ``job_ids`` names the jobs the write carried (empty for admin writes without a job).
    """

    def __init__(self, action: str, check: str, cause: BaseException, job_ids: tuple[str, ...] = ()) -> None:
        super().__init__(
            f"outcome unknown: {action} was sent and Redis did not answer ({cause}); it was not sent "
            f"again, so it took effect once or not at all: {check}"
        )
        self.action = action
        self.check = check
        self.job_ids = job_ids


class NotDeletedError(WorkCompatError):
    """A delete found nothing to delete (Go: ``ErrNotDeleted``)."""

    def __init__(self, message: str = "nothing deleted") -> None:
        super().__init__(message)


class NotRetriedError(WorkCompatError):
    """A retry found nothing to retry (Go: ``ErrNotRetried``)."""

    def __init__(self, message: str = "nothing retried") -> None:
        super().__init__(message)


class ScheduleNotFoundError(WorkCompatError, KeyError):
    """No runtime schedule of that name (Go reports ``redigo: nil returned``)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no periodic schedule named {name!r}")
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


class ArgError(WorkCompatError, LookupError):
    """What ``Job.arg_error()`` returns: the text is Go's, word for word (protocol §2.5)."""

    def __str__(self) -> str:
        return str(self.args[0])


class JobFate(WorkCompatError):
    """Raised by a handler or middleware to decide its job's fate instead of the pool's rules.

    Control flow, not failure: the pool catches these and applies them in the job's completion.
    """

    history_status: str | None = None


class RetryAt(JobFate):
    """Retry the job at epoch second ``at``, optionally with ``new_args`` and with top-level fields
    beside the args set to ``extra`` (a producer's own metadata); counts as a failure."""

    history_status = "retry"

    def __init__(
        self,
        at: int,
        *,
        new_args: dict[str, Any] | None = None,
        reason: str = "retry requested",
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.at = int(at)
        self.new_args = new_args
        self.reason = reason
        self.extra = extra


class DeadNow(JobFate):
    """Move the job to the dead set now, whatever retries are left."""

    history_status = "dead"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PutBack(JobFate):
    """Return the exact fetched bytes to the front of the queue; no attempt is counted."""

    def __init__(self, reason: str = "put back") -> None:
        super().__init__(reason)
        self.reason = reason


class Discard(JobFate):
    """Finish the job without running it further: no retry, no dead entry."""

    def __init__(self, reason: str = "discarded", *, history_status: str = "dead") -> None:
        super().__init__(reason)
        self.reason = reason
        self.history_status = history_status
