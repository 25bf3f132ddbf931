"""Every Redis key of the protocol, built in one place (gocraft ``redis.go``, protocol §1).

Nothing else in work_compat formats a key. The prefix rule is Go's: an empty namespace gives no
prefix, one ending in ``:`` is used as is, anything else gets one ``:``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import gojson
from .errors import ConfigurationError, InvalidJobNameError

__all__ = ["Keys", "has_hash_tag", "namespace_prefix", "validate_job_name"]

_HASH_TAG_RE = re.compile(r"\{[^{}]+\}")
_CONTROL_RE = re.compile("[\x00-\x1f\x7f]")


def namespace_prefix(namespace: str) -> str:
    """The key prefix Go derives from a namespace (§1.1): ``work`` -> ``work:``."""
    if namespace == "" or namespace.endswith(":"):
        return namespace
    return namespace + ":"


def has_hash_tag(namespace: str) -> bool:
    """True when the namespace pins every key to one Cluster slot (``{app}``)."""
    m = _HASH_TAG_RE.search(namespace)
    # Redis hashes the first {...} of the key; it must be in the namespace, before any job name.
    return m is not None and namespace.find("{") == m.start()


def validate_job_name(name: str) -> str:
    """Refuse names that collide in the flat key layout or break other peers (§1.5, P16).

    A ``:`` makes ``a:lock`` both a queue and a lock key; a ``,`` splits wrongly in the heartbeat's
    ``job_names``; the fork stores its history index at ``history:index``, so a job named ``index``
    would share that key.
    """
    if not isinstance(name, str):
        raise InvalidJobNameError(repr(name), f"job names are str, not {type(name).__name__}")
    if name == "":
        raise InvalidJobNameError(name, "the name is empty")
    if ":" in name:
        raise InvalidJobNameError(name, "':' would make its keys collide with other jobs' keys")
    if "," in name:
        raise InvalidJobNameError(name, "',' splits the worker pool heartbeat's job_names list")
    if name == "index":
        raise InvalidJobNameError(name, "the fork's history index key is 'history:index'")
    if _CONTROL_RE.search(name) is not None:
        raise InvalidJobNameError(name, "control characters (tab, newline, ...) in a key name")
    return name


@dataclass(frozen=True)
class Keys:
    """The keys of one namespace. One method per key, named after the Go helper it mirrors."""

    namespace: str
    prefix: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.namespace, str):
            raise ConfigurationError(f"namespace must be a str, not {type(self.namespace).__name__}")
        object.__setattr__(self, "prefix", namespace_prefix(self.namespace))

    # -- queues and their control keys ----------------------------------------------------------
    def known_jobs(self) -> str:
        return self.prefix + "known_jobs"

    def jobs_prefix(self) -> str:
        """``P`` + ``jobs:``; scripts append a job's name to it to find its queue."""
        return self.prefix + "jobs:"

    def jobs(self, job_name: str) -> str:
        return self.prefix + "jobs:" + job_name

    def jobs_in_progress(self, job_name: str, pool_id: str) -> str:
        return self.prefix + "jobs:" + job_name + ":" + pool_id + ":inprogress"

    def jobs_paused(self, job_name: str) -> str:
        return self.prefix + "jobs:" + job_name + ":paused"

    def jobs_lock(self, job_name: str) -> str:
        return self.prefix + "jobs:" + job_name + ":lock"

    def jobs_lock_info(self, job_name: str) -> str:
        return self.prefix + "jobs:" + job_name + ":lock_info"

    def jobs_max_concurrency(self, job_name: str) -> str:
        return self.prefix + "jobs:" + job_name + ":max_concurrency"

    # -- sorted sets ------------------------------------------------------------------------------
    def scheduled(self) -> str:
        return self.prefix + "scheduled"

    def retry(self) -> str:
        return self.prefix + "retry"

    def dead(self) -> str:
        return self.prefix + "dead"

    # -- pools and workers ------------------------------------------------------------------------
    def worker_pools(self) -> str:
        return self.prefix + "worker_pools"

    def heartbeat(self, pool_id: str) -> str:
        return self.prefix + "worker_pools:" + pool_id

    def worker_observation(self, worker_id: str) -> str:
        return self.prefix + "worker:" + worker_id

    # -- periodic and history [FORK] ---------------------------------------------------------------
    def last_periodic_enqueue(self) -> str:
        return self.prefix + "last_periodic_enqueue"

    def periodic_schedules(self) -> str:
        return self.prefix + "periodic_schedules"

    def history(self) -> str:
        return self.prefix + "history"

    def history_for(self, job_name: str) -> str:
        return self.prefix + "history:" + job_name

    def history_index(self) -> str:
        return self.prefix + "history:index"

    # -- work_compat's own (no Go peer reads or writes these) ---------------------------------------
    def run_times(self) -> str:
        """Python pools' record of each finished attempt: when it started, on which pool, for how
        many milliseconds (the fork's history entry holds none of it and must keep its format)."""
        return self.prefix + "run_times"

    # -- unique jobs ------------------------------------------------------------------------------
    def unique(self, job_name: str, key_map: Mapping[str, Any] | None) -> str:
        """The unique-job lock key (§1.4): Go's json.Encoder output of the map, with its newline.

        ``None`` (Go's nil map) gives no JSON and no newline; ``{}`` gives ``{}`` and a newline.
        """
        if key_map is None:
            return self.prefix + "unique:" + job_name + ":"
        return self.prefix + "unique:" + job_name + ":" + gojson.dumps(key_map, "unique key") + "\n"
