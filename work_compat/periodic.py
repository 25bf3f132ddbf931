"""Periodic enqueuer (gocraft ``periodic_enqueuer.go``, protocol §5.5): cron specs -> ``scheduled``.

Every pool runs one: once at start, then every ``periodic_period`` plus up to ``periodic_jitter``
seconds (Go: 2 min + 0-29 s). A run goes ahead unless some pool ran within the last 2 s
(``last_periodic_enqueue``, the gate; Go means 2 minutes but compares 2 seconds, §5.5.2). It then
takes each code-defined periodic job, then each enabled runtime schedule of the fork
(``periodic_schedules``), and for every instant ``t`` with ``now < t < now + periodic_horizon``
does ``ZADD scheduled t <member>``, where the member is Go's bytes for the job
``{"name":N,"id":"periodic:N:<spec>:<t>","t":t,"args":...}``. Last, it SETs
``last_periodic_enqueue`` to ``now``. The requeuers move each instance to its queue when it falls
due, like any scheduled job.

Why nothing runs twice (§5.5.4): every pool, Go's or ours, writes identical bytes for the same
name, spec, args and instant, so the ZADDs of many pools leave one member; once the instance is
due and moved out, no pool adds it again, because a run only adds instants strictly after its
own ``now``. That holds while the pools agree on the spec text, the args, the evaluation zone of
unprefixed specs (the process local zone by default, as Go's ``time.Local``; see
``cron.local_zone``) and the clock.

Missed instants and restarts:

- An instant that fell while no pool ran is not enqueued later: a run starts strictly after its
  ``now``. After an outage of an hour, an hourly job waits for its next instant.
- Instances added before the outage are still in ``scheduled``; the first requeuer tick after the
  restart moves those that fell due, once each, late.
- A restart never enqueues an instance twice: a run adds the same bytes again (ZADD only updates
  the score) and instants already moved out are in the past.

Beyond Go:

- ``every()`` is aligned: its instants are the multiples of the interval since the Unix epoch and
  its id is ``periodic:<name>:@every <Go duration>:<t>``, so Python pools de-duplicate among
  themselves and an interval of any length fires. Go's ``@every`` is relative to each run (ids
  differ between runs and pools; intervals of 4 min or more never fire), and ``periodically_enqueue``
  keeps that behaviour for an ``@every`` spec, refusing one that could never fire.
- One bad runtime schedule (not JSON, an invalid spec, a name that breaks the key layout, args Go
  cannot decode) is logged and skipped; the others and the code-defined jobs run.
- A run that had no periodic job at all (none in code, no enabled schedule) does not SET
  ``last_periodic_enqueue``, so it cannot hold back a pool that has some.

The gate still lets one pool hold back another that defines different periodic jobs if both run
within 2 s of each other; the next run of the held-back pool (2 min later) catches up while the
horizon (4 min) is longer than the period plus jitter, which ``PoolSettings`` requires.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from functools import partial
from typing import Any

import redis

from .badkeys import BadKeys
from .client_types import PeriodicSchedule
from .clock import Clock
from .cron import ConstantDelaySchedule, CronSpecError, Schedule, go_duration, parse
from .errors import ConfigurationError, WorkCompatError
from .job import Job
from .keys import Keys, validate_job_name
from .loop import BackgroundLoop

__all__ = [
    "DEFAULT_HORIZON",
    "GATE_SECONDS",
    "REMOVAL_WINDOW",
    "AlignedEvery",
    "PeriodicEnqueuer",
    "PeriodicJob",
    "every_seconds",
    "instants",
    "parse_spec",
    "periodic_id",
    "periodic_member",
    "schedule_job",
]

logger = logging.getLogger(__name__)

# Go compares last_periodic_enqueue with now minus periodicEnqueuerSleep/time.Minute, i.e. 2 (s).
GATE_SECONDS = 2
DEFAULT_HORIZON = 240  # Go's periodicEnqueuerHorizon, 4 min
# How far ahead the client looks for instances of a schedule it disables or deletes: the horizon
# of the last run plus one period, for runs whose clock is a little ahead.
REMOVAL_WINDOW = DEFAULT_HORIZON + 120


def periodic_id(job_name: str, spec: str, t: int) -> str:
    """The id gocraft gives instance ``t`` of a periodic job (``makeUniquePeriodicID``)."""
    return f"periodic:{job_name}:{spec}:{t}"


def periodic_member(job_name: str, spec: str, t: int, args: Mapping[str, Any] | None) -> bytes:
    """Go's bytes for instance ``t``: ``{"name","id","t","args"}``, ``t`` also being the score.

    ``t`` is the instant, not the enqueue time: gocraft does this on purpose so that every pool
    writes the same bytes. ``args`` None gives ``"args":null``; a map is Go-JSON (sorted keys, Go's
    float format, HTML escaping).
    """
    job = Job(
        name=job_name, id=periodic_id(job_name, spec, t), enqueued_at=t, args=None if args is None else dict(args)
    )
    return job.to_bytes()


def instants(schedule: Schedule, now: int, until: int) -> Iterator[int]:
    """The instants of ``schedule`` strictly after ``now`` and before ``until``, in order."""
    t = schedule.next(now)
    while t is not None and t < until:
        yield t
        following = schedule.next(t)
        if following is not None and following <= t:  # a schedule must move on; never loop
            return
        t = following


@dataclass(frozen=True)
class AlignedEvery:
    """``every()``'s schedule: the multiples of ``interval`` seconds since the Unix epoch.

    Not Go's ``@every`` (relative to each run, §5.5.5): aligned instants have the same id in every
    pool and every run, so they de-duplicate, and an interval longer than the horizon still fires
    (its next multiple enters the horizon at some run).
    """

    interval: int

    @property
    def spec(self) -> str:
        return "@every " + go_duration(self.interval)

    def next(self, after: int) -> int | None:
        return (after // self.interval + 1) * self.interval


@dataclass(frozen=True)
class PeriodicJob:
    """One periodic job: a job name, a schedule (whose ``spec`` goes into the ids) and its args."""

    job_name: str
    schedule: Schedule
    args: dict[str, Any] | None = None

    @property
    def spec(self) -> str:
        return self.schedule.spec

    def member(self, t: int) -> bytes:
        return periodic_member(self.job_name, self.spec, t, self.args)

    def members(self, now: int, until: int) -> dict[bytes, int]:
        """Member -> score for every instant in (now, until)."""
        return {self.member(t): t for t in instants(self.schedule, now, until)}


def parse_spec(spec: str, *, zone: tzinfo, horizon: int = DEFAULT_HORIZON, warn: bool = True) -> Schedule:
    """Parse a spec of ``periodically_enqueue`` or of a runtime schedule; refuse what never fires.

    ``@every D`` keeps Go's meaning, relative to each run: with D of ``horizon`` or more no run
    ever reaches an instant, so it is refused; a shorter one is accepted (with a warning unless
    ``warn`` is False), though its ids differ between runs and pools and never de-duplicate.

    Raises:
        CronSpecError: the spec is invalid or never fires; ``field`` names the part at fault.
    """
    schedule = parse(spec, zone=zone)
    if isinstance(schedule, ConstantDelaySchedule):
        if schedule.delay >= horizon:
            raise CronSpecError(
                spec,
                "descriptor",
                f"never fires: Go's @every counts from each enqueue run, and {go_duration(schedule.delay)} "
                f"is beyond the {horizon}s horizon (every() is aligned to the epoch and fires)",
            )
        if warn:
            logger.warning(
                "periodic spec %r: @every counts from each enqueue run, as in Go, so its instances are "
                "not de-duplicated between runs or pools; every() aligns them",
                spec,
            )
    return schedule


def every_seconds(interval: float) -> int:
    """The whole seconds of an ``every()`` interval (sub-second parts dropped, as Go's @every)."""
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 1 <= interval < 1e15:
        raise ConfigurationError(f"every() needs an interval of at least 1 second, got {interval!r}")
    return int(interval)


def _as_go_decoded(value: Any) -> Any:
    """``value`` as Go holds it after decoding JSON into ``interface{}``: every number a float64.

    Raises ValueError for a number float64 cannot hold, which Go's decoder refuses.
    """
    if type(value) is int:
        return float(value)  # OverflowError for integers beyond float64
    if type(value) is float:
        if value in (float("inf"), float("-inf")):
            raise ValueError("a number is out of float64 range")
        return value
    if isinstance(value, dict):
        return {k: _as_go_decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_go_decoded(v) for v in value]
    return value


def schedule_job(schedule: PeriodicSchedule, *, zone: tzinfo, horizon: int = DEFAULT_HORIZON) -> PeriodicJob:
    """The periodic job a stored runtime schedule stands for, as the fork's enqueuer reads it.

    The job name and spec are the schedule's; its own ``name`` is not in the ids. Args are the
    stored args as Go decodes them (numbers float64): absent or null give ``"args":null``. Go's and
    our client never store ``{}`` (omitempty); a hand-written ``"args":{}`` gives ``{}``, as in Go.

    Raises:
        CronSpecError: the spec is invalid or never fires.
        InvalidJobNameError: the job name breaks the key layout.
        ValueError: the args hold a number Go cannot decode.
    """
    validate_job_name(schedule.job_name)
    parsed = parse_spec(schedule.spec, zone=zone, horizon=horizon, warn=False)
    args = None
    if schedule.args is not None:
        try:
            args = _as_go_decoded(schedule.args)
        except OverflowError:
            raise ValueError("args hold a number out of float64 range") from None
    return PeriodicJob(schedule.job_name, parsed, args)


class PeriodicEnqueuer(BackgroundLoop):
    """A pool's periodic enqueuer: its code-defined jobs plus the namespace's runtime schedules."""

    name = "work-compat-periodic"
    failure_text = "periodic enqueue failed; the next run retries"

    def __init__(
        self,
        client: Any,
        keys: Keys,
        jobs: Sequence[PeriodicJob],
        *,
        clock: Clock,
        zone: tzinfo,
        period: float,
        jitter: float,
        horizon: int,
    ) -> None:
        super().__init__(period, jitter=jitter, first_delay=period + random.uniform(0, jitter))
        self.client = client
        self.keys = keys
        self.jobs = list(jobs)
        self.clock = clock
        self.zone = zone
        self.horizon = horizon
        self.bad_keys = BadKeys()  # a wrong-type key skips runtime schedules, not the code's jobs

    def should_enqueue(self) -> bool:
        """The gate: run unless ``last_periodic_enqueue`` is a number of at least ``now - 2``."""
        key = self.keys.last_periodic_enqueue()
        raw = self.bad_keys.guard(key, "string", "the periodic enqueuer", None, partial(self.client.get, key))
        if raw is None:  # (a wrong-type key is replaced by the SET at the end of the run)
            return True
        try:
            last = int(raw)
        except ValueError:
            logger.warning("last_periodic_enqueue is not an integer: %r; enqueuing", raw)
            return True
        return last < self.clock.now() - GATE_SECONDS

    def runtime_jobs(self) -> list[PeriodicJob]:
        """The enabled runtime schedules as periodic jobs; bad ones are logged and skipped."""
        out = []
        key = self.keys.periodic_schedules()
        stored = self.bad_keys.guard(key, "hash", "the periodic enqueuer", {}, partial(self.client.hgetall, key))
        for field in sorted(stored):
            name = field.decode("utf-8", "replace") if isinstance(field, bytes) else str(field)
            try:
                schedule = PeriodicSchedule.from_json(stored[field])
            except ValueError as err:
                logger.warning("periodic schedule %s cannot be parsed, skipped: %s", name, err)
                continue
            if not schedule.enabled:
                continue
            try:
                out.append(schedule_job(schedule, zone=self.zone, horizon=self.horizon))
            except (WorkCompatError, ValueError) as err:
                logger.warning(
                    "periodic schedule %s (job %s, spec %r) skipped: %s", name, schedule.job_name, schedule.spec, err
                )
        return out

    def enqueue(self) -> int:
        """One run: ZADD every instant within the horizon, then SET ``last_periodic_enqueue``.

        Returns how many instances were written (the same instance written again counts too).
        A Redis error ends the run before the SET, as in Go.
        """
        now = self.clock.now()
        until = now + self.horizon
        scheduled = self.keys.scheduled()
        written = 0
        for pj in self.jobs:
            members = pj.members(now, until)
            if members:
                self.client.zadd(scheduled, members)
                written += len(members)
        runtime = self.runtime_jobs()
        for pj in runtime:
            members = pj.members(now, until)
            if members:
                self.client.zadd(scheduled, members)
                written += len(members)
        if self.jobs or runtime:
            self.client.set(self.keys.last_periodic_enqueue(), str(now))
        return written

    def run_once(self) -> bool:
        """Pass the gate and run; True if a run happened."""
        if not self.should_enqueue():
            return False
        self.enqueue()
        return True

    def start(self) -> None:
        """Run once now, past the gate, then on a timer (gated).

        The first run ignores ``last_periodic_enqueue``: any Go pool that starts sets it, periodic
        jobs or not, and a pool starting within 2 s of one would otherwise leave its own jobs
        unscheduled until its next run, minutes later. Writing the same members again is harmless.
        """
        try:
            if self.jobs or self.client.exists(self.keys.periodic_schedules()):
                self.enqueue()
        except redis.RedisError as err:
            self.report(err)
        super().start()

    def tick(self) -> None:
        self.run_once()

    def stop(self) -> None:
        self.stop_loop(30)
