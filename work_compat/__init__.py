"""work_compat: the gocraft/work Redis job-queue protocol in Python.

Jobs enqueued here are run by Go worker pools (gocraft/work and its fork LarnTechKe/work) on the
same namespace, and the Client reads and manages what Go wrote, byte for byte.
"""

from __future__ import annotations

from .backoff import default_backoff, exponential_backoff, fixed_backoff, linear_backoff
from .client import Client
from .client_types import PeriodicSchedule, Queue, RedisStats, WorkerObservation, WorkerPoolHeartbeat
from .clock import Clock, ManualClock, SystemClock
from .connection import Connection, connect
from .cron import CronSpecError
from .enqueue import EnqueueOptions, Enqueuer, RetryOptions
from .errors import (
    ArgError,
    ConfigurationError,
    DeadNow,
    DecodeError,
    Discard,
    EncodeError,
    InvalidJobNameError,
    JobFate,
    NotDeletedError,
    NotRetriedError,
    OutcomeUnknownError,
    PutBack,
    RedisUnavailableError,
    RetryAt,
    ScheduleNotFoundError,
    WorkCompatError,
)
from .job import (
    BackoffStrategy,
    DeadJob,
    HistoryJob,
    HistoryStatus,
    Job,
    RetryJob,
    ScheduledJob,
    decode_job,
    encode_job,
    make_identifier,
)
from .job_options import JobOptions
from .keys import Keys, namespace_prefix, validate_job_name
from .pool_settings import PoolSettings, Semantics
from .worker_pool import WorkerPool

__version__ = "0.1.0"

__all__ = [
    "ArgError",
    "BackoffStrategy",
    "Client",
    "Clock",
    "ConfigurationError",
    "Connection",
    "CronSpecError",
    "DeadJob",
    "DeadNow",
    "DecodeError",
    "Discard",
    "EncodeError",
    "EnqueueOptions",
    "Enqueuer",
    "HistoryJob",
    "HistoryStatus",
    "InvalidJobNameError",
    "Job",
    "JobFate",
    "JobOptions",
    "Keys",
    "ManualClock",
    "NotDeletedError",
    "NotRetriedError",
    "OutcomeUnknownError",
    "PeriodicSchedule",
    "PoolSettings",
    "PutBack",
    "Queue",
    "RedisStats",
    "RedisUnavailableError",
    "RetryAt",
    "RetryJob",
    "RetryOptions",
    "ScheduleNotFoundError",
    "ScheduledJob",
    "Semantics",
    "SystemClock",
    "WorkCompatError",
    "WorkerObservation",
    "WorkerPool",
    "WorkerPoolHeartbeat",
    "connect",
    "decode_job",
    "default_backoff",
    "encode_job",
    "exponential_backoff",
    "fixed_backoff",
    "linear_backoff",
    "make_identifier",
    "namespace_prefix",
    "validate_job_name",
]
