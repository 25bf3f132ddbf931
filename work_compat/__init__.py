"""work_compat: the gocraft/work Redis job-queue protocol in Python.

Jobs enqueued here are run by Go worker pools (gocraft/work and its fork LarnTechKe/work) on the
same namespace, and the Client reads and manages what Go wrote, byte for byte.
"""

from __future__ import annotations

from .client import Client
from .client_types import PeriodicSchedule, Queue, RedisStats, WorkerObservation, WorkerPoolHeartbeat
from .clock import Clock, ManualClock, SystemClock
from .connection import Connection, connect
from .enqueue import EnqueueOptions, Enqueuer, RetryOptions
from .errors import (
    ArgError,
    ConfigurationError,
    DecodeError,
    EncodeError,
    InvalidJobNameError,
    NotDeletedError,
    NotRetriedError,
    RedisUnavailableError,
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
from .keys import Keys, namespace_prefix, validate_job_name

__version__ = "0.1.0"

__all__ = [
    "ArgError",
    "BackoffStrategy",
    "Client",
    "Clock",
    "ConfigurationError",
    "Connection",
    "DeadJob",
    "DecodeError",
    "EncodeError",
    "EnqueueOptions",
    "Enqueuer",
    "HistoryJob",
    "HistoryStatus",
    "InvalidJobNameError",
    "Job",
    "Keys",
    "ManualClock",
    "NotDeletedError",
    "NotRetriedError",
    "PeriodicSchedule",
    "Queue",
    "RedisStats",
    "RedisUnavailableError",
    "RetryJob",
    "RetryOptions",
    "ScheduleNotFoundError",
    "ScheduledJob",
    "SystemClock",
    "WorkCompatError",
    "WorkerObservation",
    "WorkerPoolHeartbeat",
    "connect",
    "decode_job",
    "encode_job",
    "make_identifier",
    "namespace_prefix",
    "validate_job_name",
]
