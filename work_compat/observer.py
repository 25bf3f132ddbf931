"""Per-worker observations (gocraft ``observer.go``, protocol §5.2): what each worker is running.

Workers report in memory; one thread writes what changed once per period: HSET + EXPIRE 86400
while busy, DEL once idle. Go's client and workwebui count a worker busy when its hash has fields.

With ``run_times`` on (the pool keeps history), the same write also records each finished attempt
in work_compat's ``run_times`` sorted set, scored by its end (epoch seconds), as compact JSON:
``{"id":<job id>,"pool":<pool id>,"started_ms":<epoch ms>,"runtime_ms":<ms>}``, so the dashboard
can say when, where and how long a job ran, which the fork's history entry does not hold. Entries
older than the history's retention are trimmed at most once a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from . import gojson
from .clock import Clock
from .errors import EncodeError, RedisUnavailableError
from .job import Job
from .keys import Keys
from .loop import BackgroundLoop

__all__ = ["OBSERVATION_TTL", "Observer", "run_time_member"]

logger = logging.getLogger(__name__)

OBSERVATION_TTL = 86400
RUN_TIMES_TRIM_EVERY = 60.0  # seconds between two trims of the run_times set
RUN_TIMES_PENDING_MAX = 10_000  # records kept in memory while Redis is unreachable


def run_time_member(job_id: str, pool_id: str, started_ms: int, runtime_ms: int) -> bytes:
    """One ``run_times`` member: the id first, so a reader can ZSCAN MATCH on its JSON fragment."""
    return (
        '{"id":'
        + gojson.encode_string(job_id)
        + ',"pool":'
        + gojson.encode_string(pool_id)
        + f',"started_ms":{started_ms},"runtime_ms":{runtime_ms}}}'
    ).encode("utf-8", "surrogatepass")


@dataclass
class _Slot:
    worker_id: str
    job_name: str = ""
    job_id: str = ""
    started_at: int = 0
    args: dict[str, Any] | None = None  # encoded when written: most jobs end before a write
    checkin: str = ""
    checkin_at: int = 0
    busy: bool = False
    dirty: bool = False
    started_ms: int = 0
    started_mono: float = 0.0
    runtime_ms: int = 0
    written: dict[str, str] = field(default_factory=dict)


def _encode_args(args: dict[str, Any] | None) -> str:
    """The args field of an observation; "" when a handler changed a nested value under it into
    something JSON cannot carry (or while encoding it)."""
    if not args:
        return ""
    try:
        return gojson.encode_value(args)
    except (EncodeError, RuntimeError, RecursionError) as err:
        logger.debug("observation args left out: %s", err)
        return ""


class Observer(BackgroundLoop):
    """Tracks every worker slot and writes their observation hashes."""

    name = "work-compat-observer"
    failure_text = "writing worker observations failed"

    def __init__(
        self,
        client: Any,
        keys: Keys,
        worker_ids: list[str],
        *,
        clock: Clock,
        period: float,
        pool_id: str = "",
        run_times_retention: int | None = None,
    ) -> None:
        """``run_times_retention`` (seconds) turns the run_times record on; None leaves it off."""
        super().__init__(period)
        self.client = client
        self.keys = keys
        self.clock = clock
        self.slots = [_Slot(w) for w in worker_ids]
        self._lock = threading.Lock()
        self.pool_id = pool_id
        self.run_times_retention = run_times_retention
        self._runs: dict[bytes, int] = {}  # run_times members not written yet, with their score
        self._trimmed_at = 0.0

    def started(self, slot: int, job: Job) -> None:
        s = self.slots[slot]
        args = dict(job.args) if job.args else None  # the top level as it was at the start
        with self._lock:
            s.job_name, s.job_id, s.started_at, s.args = job.name, job.id, self.clock.now(), args
            s.checkin, s.checkin_at, s.busy, s.dirty = "", 0, True, True
            s.started_ms, s.started_mono = int(time.time() * 1000), time.monotonic()

    def done(self, slot: int) -> None:
        s = self.slots[slot]
        with self._lock:
            s.busy, s.dirty = False, True
            s.runtime_ms = max(0, round((time.monotonic() - s.started_mono) * 1000))

    def finished(self, slot: int) -> None:
        """The slot's last job ended an attempt (not put back or abandoned): record its run time."""
        if self.run_times_retention is None:
            return
        s = self.slots[slot]
        with self._lock:
            if len(self._runs) < RUN_TIMES_PENDING_MAX:
                self._runs[run_time_member(s.job_id, self.pool_id, s.started_ms, s.runtime_ms)] = self.clock.now()

    def checkin(self, slot: int, job_id: str, message: str) -> None:
        s = self.slots[slot]
        with self._lock:
            if s.job_id != job_id:
                logger.warning("check-in of job %s ignored: worker %s is on job %s", job_id, s.worker_id, s.job_id)
                return
            s.checkin, s.checkin_at, s.dirty = message, self.clock.now(), True

    def flush(self) -> bool:
        """Write every slot that changed since the last write; False when none had."""
        with self._lock:
            changed: list[tuple[str, dict[str, str] | None]] = []
            for s in self.slots:
                if not s.dirty:
                    continue
                s.dirty = False
                if s.busy:
                    fields = {
                        "job_name": s.job_name,
                        "job_id": s.job_id,
                        "started_at": str(s.started_at),
                        "args": _encode_args(s.args),
                    }
                    if s.checkin and s.checkin_at > 0:
                        fields["checkin"], fields["checkin_at"] = s.checkin, str(s.checkin_at)
                    changed.append((s.worker_id, fields))
                else:
                    changed.append((s.worker_id, None))
            runs, self._runs = self._runs, {}
        trim = self.run_times_retention is not None and time.monotonic() - self._trimmed_at >= RUN_TIMES_TRIM_EVERY
        if not changed and not runs and not trim:
            return False
        pipe = self.client.pipeline(transaction=True)  # readers never see a half-written hash
        for worker_id, written in changed:
            key = self.keys.worker_observation(worker_id)
            pipe.delete(key)  # a new job's hash replaces the last one's: no old check-in lingers
            if written is not None:
                pipe.hset(key, mapping=written)
                pipe.expire(key, OBSERVATION_TTL)
        if runs:
            pipe.zadd(self.keys.run_times(), runs)
        if trim and self.run_times_retention is not None:
            pipe.zremrangebyscore(self.keys.run_times(), "-inf", f"({self.clock.now() - self.run_times_retention}")
        try:
            pipe.execute()
        except BaseException:
            with self._lock:  # written next time
                for member, score in runs.items():
                    if len(self._runs) < RUN_TIMES_PENDING_MAX:
                        self._runs.setdefault(member, score)
            raise
        if trim:
            self._trimmed_at = time.monotonic()
        return bool(changed or runs)

    def tick(self) -> bool:
        return self.flush()

    def on_error(self, err: redis.RedisError | RedisUnavailableError) -> None:
        with self._lock:
            for s in self.slots:
                s.dirty = True

    def stop(self) -> None:
        self.stop_loop()
        try:
            for s in self.slots:
                s.busy, s.dirty = False, True
            self.flush()
        except redis.RedisError as err:
            logger.warning("could not clear worker observations: %s", err)
