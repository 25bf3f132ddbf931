"""Beat: Celery's periodic tasks written ahead into gocraft's ``scheduled`` set (spec D16).

Every ``refresh`` seconds the beat takes the entries of ``app.conf.beat_schedule`` (including those
``app.add_periodic_task`` added) and ZADDs each firing of the next ``horizon`` seconds into
``<ns>:scheduled``, scored at its instant; the requeuers of any pool, Go's or Python's, move each
one to its queue when it falls due. It keeps no state of its own: no schedule file, no leader.

Ids and bytes are a function of the entry and the instant, so any number of beats, and Go pools
running the same periodic jobs, write the same members and each firing runs once:

- An entry with no args, kwargs or options writes exactly what a gocraft pool's periodic enqueuer
  writes for ``PeriodicallyEnqueue(<spec>, <task name>)``: ``{"name","id":"periodic:<task>:<spec>:<t>",
  "t":t,"args":null}``, where ``<spec>`` is the schedule's ``gocraft_spec`` (a crontab with both day
  fields restricted is not shareable: robfig ORs those days, Celery ANDs them, so it takes the form
  below).
- Any other entry writes ``periodic:<entry key>:<spec>:<t>``, args bound to the task's signature
  (D1) when the task is registered here, and Celery's options as ``"celery"`` metadata; an
  ``expires`` of N seconds counts from each firing (D9).

Like a gocraft pool, the beat enqueues no firing that fell while it was not running, and never
SETs ``last_periodic_enqueue``, the gate Go pools share, so it holds no pool back.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from types import FrameType
from typing import TYPE_CHECKING, Any

import redis

from work_compat import WorkCompatError
from work_compat.clock import SYSTEM_CLOCK, Clock
from work_compat.loop import BackgroundLoop
from work_compat.periodic import periodic_id, periodic_member

from .app.taskdef import check_task_name
from .exceptions import CeleryShimError, ImproperlyConfigured
from .gocraft.arguments import encode_args, unbound_args
from .gocraft.call_job import job_for
from .gocraft.options import plan_publish
from .schedules import BaseSchedule, app_zone, crontab, maybe_schedule, schedule
from .signals import beat_embedded_init, beat_init

if TYPE_CHECKING:
    from .app.base import Celery

__all__ = ["DEFAULT_HORIZON", "DEFAULT_REFRESH", "Beat", "BeatEntry", "ScheduleEntry", "Scheduler"]

logger = logging.getLogger(__name__)

DEFAULT_HORIZON = 240.0  # gocraft's periodic enqueuer horizon, 4 min
DEFAULT_REFRESH = 60.0
_STOCK_SCHEDULERS = frozenset(
    {
        "celery.beat:PersistentScheduler",
        "celery.beat.PersistentScheduler",
        "celery.beat:Scheduler",
        "celery.beat.Scheduler",
    }
)
_ZADD_BATCH = 500  # members per ZADD: one pass of a long horizon stays many small commands
_CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")


@dataclass(frozen=True)
class BeatEntry:
    """One ``beat_schedule`` entry, resolved: the task, its schedule and spec, and its job.

    ``go_form`` entries write gocraft's own periodic members; the others carry ``job_args`` and
    ``options`` under ``periodic:<key>:...`` ids.
    """

    key: str
    task: str
    schedule: BaseSchedule
    spec: str
    go_form: bool
    job_args: dict[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    def member(self, t: int) -> tuple[bytes, int]:
        """The bytes of firing ``t`` and their score in ``scheduled``."""
        if self.go_form:
            return periodic_member(self.task, self.spec, t, None), t
        plan = plan_publish(self.options, float(t))
        job = job_for(self.task, dict(self.job_args), plan, periodic_id(self.key, self.spec, t))
        return job.to_bytes(), plan.run_at or t

    def members(self, now: int, until: float, zone: tzinfo) -> Iterator[tuple[bytes, int]]:
        for t in self.schedule.instants(now, until, zone):
            yield self.member(t)


def _as_schedule(value: Any, relative: bool) -> BaseSchedule:
    """Seconds, a timedelta or a shim schedule; real Celery crontab/schedule objects are copied."""
    if isinstance(value, BaseSchedule):
        return value
    if isinstance(value, (int, float, timedelta)) and not isinstance(value, bool):
        made: BaseSchedule = maybe_schedule(value, relative)
        return made
    if all(isinstance(getattr(value, name, None), (set, frozenset)) for name in _CRONTAB_FIELDS):
        fields: dict[str, Any] = {name: set(getattr(value, name)) for name in _CRONTAB_FIELDS}
        return crontab(**fields)
    if isinstance(getattr(value, "run_every", None), timedelta):
        return schedule(value.run_every)
    raise ImproperlyConfigured(
        f"schedule {value!r} is not seconds, a timedelta, crontab() or schedule() (from celery_shim.schedules)"
    )


class _BeatLoop(BackgroundLoop):
    name = "celery-shim-beat"

    def __init__(self, beat: Beat, period: float) -> None:
        super().__init__(period)
        self.beat = beat

    def tick(self) -> None:
        self.beat.tick_logged()


class Beat:
    """Celery's beat for one app: ``Beat(app).start()`` in a worker, ``Beat(app).run()`` alone.

    ``clock`` gives ``now`` (whole epoch seconds; work_compat's clocks); ``horizon`` is how far
    ahead each pass writes, ``refresh`` how often a pass runs (it must be shorter than the horizon,
    so that passes overlap).
    """

    def __init__(
        self,
        app: Celery,
        *,
        clock: Clock | None = None,
        horizon: float = DEFAULT_HORIZON,
        refresh: float = DEFAULT_REFRESH,
    ) -> None:
        if not refresh > 0 or not horizon > refresh:
            raise ImproperlyConfigured(
                f"beat needs 0 < refresh < horizon (got refresh={refresh}, horizon={horizon}): each pass must "
                "reach past the next one"
            )
        self.app = app
        self.clock = clock or SYSTEM_CLOCK
        self.horizon = horizon
        self.refresh = refresh
        self._warned: set[str] = set()
        self._loop: _BeatLoop | None = None
        self._lock = threading.Lock()

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)

    # -- entries --------------------------------------------------------------------------------
    def entries(self) -> list[BeatEntry]:
        """The entries of ``beat_schedule``, by key; one that cannot be used is logged and left out."""
        self.app.finalize()
        scheduler = self.app.conf.get("beat_scheduler")
        if scheduler and str(scheduler) not in _STOCK_SCHEDULERS:
            self._warn_once(
                "scheduler",
                "beat_scheduler=%r is not loaded: celery_shim's beat runs the static beat_schedule only "
                "(entries stored by that scheduler are not read)",
                scheduler,
            )
        zone = app_zone(self.app)
        out = []
        for key, raw in sorted(dict(self.app.conf.beat_schedule or {}).items(), key=lambda kv: str(kv[0])):
            try:
                out.append(self._resolve(str(key), raw, zone))
            except (CeleryShimError, WorkCompatError, TypeError, ValueError) as err:
                self._warn_once(f"entry:{key}:{err}", "beat entry %r is skipped: %s", key, err)
        return out

    def _resolve(self, key: str, raw: Any, zone: tzinfo) -> BeatEntry:
        if not isinstance(raw, Mapping):
            raise ImproperlyConfigured(f"an entry is a dict with 'task' and 'schedule', not {type(raw).__name__}")
        task_name = raw.get("task")
        if not isinstance(task_name, str):
            raise ImproperlyConfigured(f"'task' must be a task name, not {task_name!r}")
        check_task_name(task_name)
        sched = _as_schedule(raw.get("schedule"), bool(raw.get("relative", False)))
        args = tuple(raw.get("args") or ())
        kwargs = dict(raw.get("kwargs") or {})
        options = dict(raw.get("options") or {})
        task = self.app.tasks.get(task_name)
        if task is not None and task.expires is not None:
            options.setdefault("expires", task.expires)
        if "task_id" in options:
            self._warn_once(
                f"task_id:{key}", "beat entry %r: option task_id is ignored; each firing has its own id", key
            )
            del options["task_id"]
        plan = plan_publish(options, 0.0)  # refuses bad options now, not at each firing
        for ignored in plan.ignored:
            self._warn_once(
                f"option:{key}:{ignored}", "beat entry %r: option %r is not supported; ignored", key, ignored
            )
        if task is not None:
            job_args = task.bind_args(args, kwargs)
        else:
            if args:
                self._warn_once(
                    f"unbound:{key}",
                    "beat entry %r: task %s is not registered here, so its positional args go under '*args'",
                    key,
                    task_name,
                )
            job_args = unbound_args(args, kwargs)
        go_spec = sched.gocraft_spec(zone)
        shared = go_spec is not None or isinstance(sched, schedule)
        return BeatEntry(
            key=key,
            task=task_name,
            schedule=sched,
            spec=sched.id_spec(zone),
            go_form=shared and not args and not kwargs and not options,
            job_args=encode_args(job_args),
            options=options,
        )

    # -- passes ---------------------------------------------------------------------------------
    def tick(self) -> int:
        """One pass: ZADD every firing of the next ``horizon`` seconds; returns how many were new.

        Raises the Redis error of a failed write (``tick_logged`` logs it instead).
        """
        now = self.clock.now()
        until = now + self.horizon
        zone = app_zone(self.app)
        members: dict[bytes, int] = {}
        for entry in self.entries():
            try:
                members.update(entry.members(now, until, zone))
            except (CeleryShimError, WorkCompatError, TypeError, ValueError) as err:
                self._warn_once(f"firing:{entry.key}:{err}", "beat entry %r is skipped: %s", entry.key, err)
        if not members:
            return 0
        conn, keys = self.app._connection()
        items = list(members.items())
        with conn.errors():
            pipe = conn.client.pipeline(transaction=False)
            for i in range(0, len(items), _ZADD_BATCH):
                pipe.zadd(keys.scheduled(), dict(items[i : i + _ZADD_BATCH]))
            added = sum(int(n) for n in pipe.execute())
        logger.debug("beat pass at %d: %d firings written, %d new", now, len(members), added)
        return added

    def tick_logged(self) -> int:
        """``tick()`` that logs a Redis failure and returns 0; the next pass tries again."""
        try:
            return self.tick()
        except (redis.RedisError, WorkCompatError) as err:
            logger.warning("beat pass failed, next in %.0fs: %s", self.refresh, err)
            return 0

    # -- running --------------------------------------------------------------------------------
    def start(self) -> None:
        """Run embedded (a worker's ``-B``): one pass now, then one every ``refresh`` seconds on a
        daemon thread. Sends ``beat_init`` and ``beat_embedded_init``."""
        self._start(embedded=True)

    def _start(self, *, embedded: bool) -> None:
        with self._lock:
            if self._loop is not None:
                return
            self._loop = _BeatLoop(self, self.refresh)
        beat_init.send(sender=self)
        if embedded:
            beat_embedded_init.send(sender=self)
        for entry in self.entries():
            logger.info(
                "beat: %s runs %s on %s%s",
                entry.key,
                entry.task,
                entry.spec,
                " (gocraft's periodic member)" if entry.go_form else "",
            )
        self.tick_logged()
        self._loop.start()

    def stop(self) -> None:
        """Stop the passes (a pass in progress finishes). Firings already written stay scheduled."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.stop_loop(30)

    def run(self) -> int:
        """Run in the foreground until SIGTERM or SIGINT (call from the main thread); returns 0, the
        exit status. Sends ``beat_init``."""
        stopping = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            logger.info("beat: signal %d, stopping", signum)
            stopping.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._start(embedded=False)
            while not stopping.wait(1.0):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()
        return 0


# -- Celery's scheduler classes, for the modules that subclass them --------------------------------
class ScheduleEntry:
    """One periodic task as Celery's schedulers keep it (django-celery-beat's ModelEntry subclasses it).

    The beat above reads ``beat_schedule`` itself and never makes these; they are here with Celery's
    constructor and ``is_due``/``next`` so that such modules import and their entries behave.
    """

    def __init__(
        self,
        name: str | None = None,
        task: str | None = None,
        last_run_at: Any = None,
        total_run_count: int | None = None,
        schedule: Any = None,
        args: Any = (),
        kwargs: Any = None,
        options: Any = None,
        relative: bool = False,
        app: Any = None,
    ) -> None:
        self.app = app
        self.name = name
        self.task = task
        self.args = args
        self.kwargs = kwargs or {}
        self.options = options or {}
        self.schedule = maybe_schedule(schedule, relative, app=app)
        self.last_run_at = last_run_at or self.default_now()
        self.total_run_count = total_run_count or 0

    def default_now(self) -> Any:
        return self.schedule.now() if self.schedule is not None else self.app.now()

    def _fields(self) -> dict[str, Any]:
        names = ("name", "task", "last_run_at", "total_run_count", "schedule", "args", "kwargs", "options", "app")
        return {name: getattr(self, name) for name in names}

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self._fields().items())

    def next(self, last_run_at: Any = None) -> ScheduleEntry:
        """The entry after one more run: the run count up by one, last run now (or ``last_run_at``)."""
        fields = self._fields()
        fields.update(last_run_at=last_run_at or self.default_now(), total_run_count=self.total_run_count + 1)
        return type(self)(**fields)

    __next__ = next

    def update(self, other: ScheduleEntry) -> None:
        """Take the schedule and the call of ``other``, keeping this entry's run history."""
        self.task, self.schedule = other.task, other.schedule
        self.args, self.kwargs, self.options = other.args, other.kwargs, other.options

    def is_due(self) -> Any:
        return self.schedule.is_due(self.last_run_at)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__}: {self.name} {self.task}(*{list(self.args)!r}, **{self.kwargs!r}) {self.schedule}>"
        )


class Scheduler:
    """Celery's base of beat schedulers: importable for modules that subclass it (django-celery-beat's
    DatabaseScheduler, redbeat); celery_shim's beat does not run them (see ``beat_scheduler``)."""

    Entry = ScheduleEntry

    def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
        raise ImproperlyConfigured(
            f"{type(self).__module__}.{type(self).__name__} is a Celery beat scheduler: celery_shim's beat does not "
            "run scheduler classes; it reads app.conf.beat_schedule (and add_periodic_task) and writes each firing "
            "into gocraft's scheduled set"
        )

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        """Celery's hook for sending one due entry (monitoring tools wrap it); never called here."""
        raise NotImplementedError("celery_shim's beat applies no Scheduler entries")
