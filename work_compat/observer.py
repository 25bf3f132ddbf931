"""Per-worker observations (gocraft ``observer.go``, protocol §5.2): what each worker is running.

Workers report in memory; one thread writes what changed once per period: HSET + EXPIRE 86400
while busy, DEL once idle. Go's client and workwebui count a worker busy when its hash has fields.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import redis

from . import gojson
from .clock import Clock
from .errors import RedisUnavailableError
from .job import Job
from .keys import Keys
from .loop import BackgroundLoop

__all__ = ["OBSERVATION_TTL", "Observer"]

logger = logging.getLogger(__name__)

OBSERVATION_TTL = 86400


@dataclass
class _Slot:
    worker_id: str
    job_name: str = ""
    job_id: str = ""
    started_at: int = 0
    args: str = ""
    checkin: str = ""
    checkin_at: int = 0
    busy: bool = False
    dirty: bool = False
    written: dict[str, str] = field(default_factory=dict)


class Observer(BackgroundLoop):
    """Tracks every worker slot and writes their observation hashes."""

    name = "work-compat-observer"
    failure_text = "writing worker observations failed"

    def __init__(self, client: Any, keys: Keys, worker_ids: list[str], *, clock: Clock, period: float) -> None:
        super().__init__(period)
        self.client = client
        self.keys = keys
        self.clock = clock
        self.slots = [_Slot(w) for w in worker_ids]
        self._lock = threading.Lock()

    def started(self, slot: int, job: Job) -> None:
        s = self.slots[slot]
        args = "" if not job.args else gojson.encode_value(job.args)
        with self._lock:
            s.job_name, s.job_id, s.started_at, s.args = job.name, job.id, self.clock.now(), args
            s.checkin, s.checkin_at, s.busy, s.dirty = "", 0, True, True

    def done(self, slot: int) -> None:
        s = self.slots[slot]
        with self._lock:
            s.busy, s.dirty = False, True

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
                        "args": s.args,
                    }
                    if s.checkin and s.checkin_at > 0:
                        fields["checkin"], fields["checkin_at"] = s.checkin, str(s.checkin_at)
                    changed.append((s.worker_id, fields))
                else:
                    changed.append((s.worker_id, None))
        if not changed:
            return False
        pipe = self.client.pipeline(transaction=True)  # readers never see a half-written hash
        for worker_id, written in changed:
            key = self.keys.worker_observation(worker_id)
            pipe.delete(key)  # a new job's hash replaces the last one's: no old check-in lingers
            if written is not None:
                pipe.hset(key, mapping=written)
                pipe.expire(key, OBSERVATION_TTL)
        pipe.execute()
        return True

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
