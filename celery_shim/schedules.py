"""Celery's periodic schedules (``celery.schedules``): ``crontab``, ``schedule``, ``solar``.

Each schedule does two things for the beat (spec D16). It lists its instants, as whole epoch
seconds, so a beat can write every firing of the next minutes ahead of time; and it names itself
with a spec text, which goes into the periodic job ids and which a Go pool can be given so that
both write the same members.

Instants follow Celery's semantics, not robfig/cron's:

- ``crontab`` is wall-clock time in the app's ``timezone``, and a day must match day_of_month AND
  day_of_week AND month_of_year (robfig ORs the two day fields when both are restricted).
- A wall time skipped by a spring-forward change fires once, shifted by the size of the gap
  (New York's 02:30 on the day clocks jump from 02:00 to 03:00 fires at 03:30 EDT, as Celery's
  beat does); a wall time repeated by a fall-back change fires once, on its first pass. The
  instants are a fixed set, whatever the start time, so any number of beats agree on them.
- ``schedule`` (an interval, a number or a timedelta) fires at the multiples of the interval since
  the Unix epoch, not "interval after the last run" as in Celery: that is what makes the instants
  the same in every beat. Intervals are whole seconds; a fraction rounds up (0.5 s is 1 s).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from work_compat.gotime import go_duration, local_zone, utc_offset, zone_by_name

from . import _state
from .exceptions import ImproperlyConfigured, ScheduleError, SolarNotSupportedError
from .gocraft.cronfields import DAY_OF_MONTH, DAY_OF_WEEK, HOUR, MINUTE, MONTH_OF_YEAR, parse_field, render_field

__all__ = [
    "BaseSchedule",
    "app_zone",
    "crontab",
    "maybe_schedule",
    "schedstate",
    "schedule",
    "solar",
    "zone_prefix",
]

UTC = timezone.utc
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"})
_MINUTE = timedelta(minutes=1)
# A change of UTC offset this close (either side) may reorder wall times and instants.
_NEAR = 26 * 3600
# How far ahead a crontab looks for a matching day: every date falls on every weekday within
# Gregorian's 400-year cycle, so a crontab that passed construction matches within it.
_SEARCH_YEARS = 400
# The longest each month gets (February 29 exists in leap years).
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class schedstate(NamedTuple):
    """What ``is_due`` returns: is the schedule due now, and in how many seconds to check again."""

    is_due: bool
    next: float


def app_zone(app: Any) -> tzinfo:
    """Celery's ``app.timezone``: the ``timezone`` setting, else UTC (``enable_utc``), else local.

    Raises:
        ImproperlyConfigured: ``timezone`` names no zone this machine knows.
    """
    tz = app.conf.get("timezone")
    if tz:
        if isinstance(tz, tzinfo):
            return tz
        zone = zone_by_name(str(tz))
        if zone is None:
            raise ImproperlyConfigured(f"timezone={tz!r} is not a time zone name this machine knows (IANA names)")
        return zone
    return UTC if app.conf.get("enable_utc", True) else local_zone()


def _zone_name(zone: tzinfo) -> str | None:
    if zone is UTC:
        return "UTC"
    if isinstance(zone, ZoneInfo):
        return zone.key
    name = getattr(zone, "zone", None)  # pytz zones
    return name if isinstance(name, str) else None


def _is_utc(zone: tzinfo) -> bool:
    if isinstance(zone, timezone):
        return zone.utcoffset(None) == timedelta(0)
    return _zone_name(zone) in _UTC_NAMES


def zone_prefix(zone: tzinfo) -> str | None:
    """The ``CRON_TZ=<zone> `` prefix robfig/cron needs for ``zone``; ``""`` for UTC.

    None when the zone has no IANA name (a fixed offset, say) that a Go process could load.
    An unprefixed spec is evaluated in the Go process's local zone: run such Go pools with TZ=UTC.
    """
    if _is_utc(zone):
        return ""
    name = _zone_name(zone)
    return None if name is None else f"CRON_TZ={name} "


def _epoch(value: Any) -> float:
    """A datetime (naive ones are UTC, as Celery reads them) or a number as epoch seconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=UTC)
        return float(value.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a datetime or epoch seconds, got {type(value).__name__}")


class BaseSchedule:
    """What every schedule shares: ``now`` (``nowfun`` or the app's), the app's zone, and
    Celery's ``is_due``/``remaining_estimate`` computed from the schedule's instants."""

    def __init__(self, nowfun: Callable[[], Any] | None = None, app: Any = None) -> None:
        self.nowfun = nowfun
        self._app = app

    @property
    def app(self) -> Any:
        if self._app is None:
            return _state.current_app()
        return self._app

    @app.setter
    def app(self, app: Any) -> None:
        self._app = app

    @property
    def tz(self) -> tzinfo:
        """The zone crontab fields are read in: the app's ``timezone`` (Celery's ``schedule.tz``), unless
        the schedule was given its own (django-celery-beat's TzAwareCrontab sets it, as Celery allows)."""
        own: tzinfo | None = getattr(self, "_own_tz", None)
        return own if own is not None else app_zone(self.app)

    @tz.setter
    def tz(self, zone: tzinfo) -> None:
        self._own_tz = zone

    def now(self) -> datetime:
        """``nowfun()``, else the app's ``now()``, as an aware datetime."""
        value = self.nowfun() if self.nowfun is not None else self.app.now()
        return datetime.fromtimestamp(_epoch(value), UTC)

    # -- what a beat uses ----------------------------------------------------------------------
    def next_instant(self, after: int, zone: tzinfo) -> int | None:
        """The first firing strictly after epoch second ``after``; None if there is none."""
        raise NotImplementedError

    def id_spec(self, zone: tzinfo) -> str:
        """The spec text that goes into periodic job ids (``periodic:<name>:<spec>:<t>``)."""
        raise NotImplementedError

    def gocraft_spec(self, zone: tzinfo | None = None) -> str | None:
        """The spec a Go pool can be given to fire the same instants; None when robfig cannot."""
        raise NotImplementedError

    def instants(self, after: int, until: float, zone: tzinfo) -> Iterator[int]:
        """The firings strictly after ``after`` and before ``until``, in order."""
        t = self.next_instant(after, zone)
        while t is not None and t < until:
            yield t
            t = self.next_instant(t, zone)

    # -- Celery's API --------------------------------------------------------------------------
    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        """Time from now until the first firing after ``last_run_at`` (negative when overdue)."""
        following = self.next_instant(math.floor(_epoch(last_run_at)), self.tz)
        if following is None:
            return timedelta.max
        return timedelta(seconds=following - _epoch(self.now()))

    def is_due(self, last_run_at: datetime) -> schedstate:
        """``(True, seconds to the next firing)`` when a firing after ``last_run_at`` has come,
        else ``(False, seconds until it comes)``."""
        remaining = self.remaining_estimate(last_run_at).total_seconds()
        if remaining > 0:
            return schedstate(False, remaining)
        now = _epoch(self.now())
        following = self.next_instant(math.floor(now), self.tz)
        return schedstate(True, math.inf if following is None else max(following - now, 0.0))


# ---------------------------------------------------------------------------------------------
# Intervals


def _whole_seconds(delta: timedelta) -> int:
    microseconds = delta // timedelta(microseconds=1)
    if microseconds <= 0:
        raise ScheduleError(f"an interval schedule must be positive, got {delta}")
    return max(1, -(-microseconds // 1_000_000))


@lru_cache(maxsize=256)
def _offsets_multiple_of(zone: tzinfo, seconds: int) -> bool:
    """True when every UTC offset of ``zone`` from 1970 to 2037 (sampled monthly) is a multiple
    of ``seconds``: then the zone's wall clock and the epoch agree on multiples of ``seconds``."""
    if isinstance(zone, timezone):
        offset = zone.utcoffset(None)
        return offset is not None and int(offset.total_seconds()) % seconds == 0
    for year in range(1970, 2038):
        for month in range(1, 13):
            instant = int(datetime(year, month, 15, tzinfo=UTC).timestamp())
            if utc_offset(zone, instant) % seconds:
                return False
    return True


def _interval_cron(seconds: int, zone: tzinfo) -> str | None:
    """The six-field robfig spec whose instants are the multiples of ``seconds`` since the epoch.

    Intervals that divide a minute work through the seconds field in any zone; those that divide
    an hour or a day need a zone whose offsets are multiples of the interval (UTC, or a whole-hour
    zone for hourly).
    """
    if seconds < 60 and 60 % seconds == 0:
        fields = ["*" if seconds == 1 else f"*/{seconds}", "*", "*"]
    elif seconds < 3600 and seconds % 60 == 0 and 60 % (seconds // 60) == 0:
        minutes = seconds // 60
        fields = ["0", "*" if minutes == 1 else f"*/{minutes}", "*"]
    elif seconds <= 86400 and seconds % 3600 == 0 and 24 % (seconds // 3600) == 0:
        hours = seconds // 3600
        fields = ["0", "0", "*" if hours == 1 else "0" if hours == 24 else f"*/{hours}"]
    else:
        return None
    prefix = zone_prefix(zone)
    if prefix is None or (seconds > 60 and not _offsets_multiple_of(zone, seconds)):
        return None
    return prefix + " ".join([*fields, "*", "*", "*"])


def _humanize(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds / size
            return f"{n:.2f} {unit}{'' if n == 1 else 's'}"
    return f"{seconds:.2f} second{'' if seconds == 1 else 's'}"


class schedule(BaseSchedule):
    """Every ``run_every`` (seconds or a timedelta), at the multiples of it since the epoch.

    ``relative`` is accepted and has no effect: every interval is already aligned.
    """

    def __init__(
        self,
        run_every: float | timedelta | None = None,
        relative: bool = False,
        nowfun: Callable[[], Any] | None = None,
        app: Any = None,
    ) -> None:
        if isinstance(run_every, bool) or not isinstance(run_every, (int, float, timedelta)):
            raise ScheduleError(f"schedule(run_every=...) needs seconds or a timedelta, got {run_every!r}")
        self.run_every = run_every if isinstance(run_every, timedelta) else timedelta(seconds=run_every)
        self.relative = relative
        self.interval = _whole_seconds(self.run_every)
        super().__init__(nowfun=nowfun, app=app)

    @property
    def seconds(self) -> float:
        return max(self.run_every.total_seconds(), 0.0)

    @property
    def human_seconds(self) -> str:
        return _humanize(self.seconds)

    def next_instant(self, after: int, zone: tzinfo) -> int | None:
        return (after // self.interval + 1) * self.interval

    def id_spec(self, zone: tzinfo) -> str:
        """A robfig spec when one fires the same instants, else ``@every <Go duration>``, the text
        a work_compat pool's ``every()`` uses for the same aligned instants."""
        return _interval_cron(self.interval, zone) or "@every " + go_duration(self.interval)

    def gocraft_spec(self, zone: tzinfo | None = None) -> str | None:
        """``*/10 * * * * *`` for 10 s, ``0 */5 * * * *`` for 5 min, ... None for intervals that
        no robfig spec aligns (90 s, say: Go's own ``@every`` counts from each run)."""
        return _interval_cron(self.interval, self.tz if zone is None else zone)

    def __repr__(self) -> str:
        return f"<freq: {self.human_seconds}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, schedule):
            return self.run_every == other.run_every
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


# ---------------------------------------------------------------------------------------------
# crontab


class crontab(BaseSchedule):
    """Wall-clock firings in the app's ``timezone``: ``crontab(minute=0, hour='*/3')``.

    Fields take an int, a list of ints, or a cron string (``'*/15'``, ``'1,13,30-45,50-59/2'``,
    ``'mon-fri'``, ``'sunday'``); a day must match day_of_week, day_of_month and month_of_year.
    The sets are ``minute``, ``hour``, ``day_of_week``, ``day_of_month`` and ``month_of_year``.
    """

    def __init__(
        self,
        minute: Any = "*",
        hour: Any = "*",
        day_of_week: Any = "*",
        day_of_month: Any = "*",
        month_of_year: Any = "*",
        nowfun: Callable[[], Any] | None = None,
        app: Any = None,
    ) -> None:
        self._orig_minute, self._orig_hour = minute, hour
        self._orig_day_of_week, self._orig_day_of_month, self._orig_month_of_year = (
            day_of_week,
            day_of_month,
            month_of_year,
        )
        self.minute = parse_field(MINUTE, minute)
        self.hour = parse_field(HOUR, hour)
        self.day_of_week = parse_field(DAY_OF_WEEK, day_of_week)
        self.day_of_month = parse_field(DAY_OF_MONTH, day_of_month)
        self.month_of_year = parse_field(MONTH_OF_YEAR, month_of_year)
        if not any(day <= _MONTH_DAYS[month - 1] for month in self.month_of_year for day in self.day_of_month):
            raise ScheduleError(
                f"crontab never runs: day_of_month {day_of_month!r} never occurs in month_of_year {month_of_year!r}"
            )
        self._hours = sorted(self.hour)
        self._minutes = sorted(self.minute)
        super().__init__(nowfun=nowfun, app=app)

    @classmethod
    def from_string(cls, text: str) -> crontab:
        """``crontab.from_string('*/5 9-17 * * mon-fri')``: minute, hour, day of month, month,
        day of week."""
        fields = text.split()
        if len(fields) != 5:
            raise ScheduleError(f"crontab.from_string({text!r}): expected 5 fields, found {len(fields)}")
        minute, hour, day_of_month, month_of_year, day_of_week = fields
        return cls(minute, hour, day_of_week, day_of_month, month_of_year)

    # -- spec text -----------------------------------------------------------------------------
    @property
    def fields_text(self) -> str:
        """The canonical six-field robfig text, seconds first: ``0 <m> <h> <dom> <mon> <dow>``."""
        return " ".join(
            (
                "0",
                render_field(MINUTE, self.minute),
                render_field(HOUR, self.hour),
                render_field(DAY_OF_MONTH, self.day_of_month),
                render_field(MONTH_OF_YEAR, self.month_of_year),
                render_field(DAY_OF_WEEK, self.day_of_week),
            )
        )

    @property
    def go_compatible(self) -> bool:
        """False when both day fields are restricted: robfig ORs them there, Celery ANDs them."""
        return self.day_of_month == DAY_OF_MONTH.all() or self.day_of_week == DAY_OF_WEEK.all()

    def id_spec(self, zone: tzinfo) -> str:
        prefix = zone_prefix(zone)
        return (f"CRON_TZ={zone} " if prefix is None else prefix) + self.fields_text

    def gocraft_spec(self, zone: tzinfo | None = None) -> str | None:
        """The robfig spec for a Go pool sharing this schedule, ``CRON_TZ=<zone>`` first unless
        UTC; None when both day fields are restricted or the zone has no IANA name.

        On days clocks change, robfig differs: it skips a wall time that does not exist and fires a
        repeated one twice, so a Go pool sharing the spec adds a second firing on fall-back days.
        """
        zone = self.tz if zone is None else zone
        if not self.go_compatible or zone_prefix(zone) is None:
            return None
        return self.id_spec(zone)

    # -- instants ------------------------------------------------------------------------------
    def _day_matches(self, day: datetime) -> bool:
        return (
            day.month in self.month_of_year
            and day.day in self.day_of_month
            and day.isoweekday() % 7 in self.day_of_week
        )

    def _first_time(self, hour: int, minute: int) -> tuple[int, int] | None:
        """The first (hour, minute) of the schedule at or after ``hour:minute`` on a day."""
        for h in self._hours:
            if h < hour:
                continue
            for m in self._minutes:
                if h > hour or m >= minute:
                    return h, m
        return None

    def next_wall(self, start: datetime) -> datetime | None:
        """The first matching wall time (naive, whole minutes) at or after naive ``start``."""
        if start.second or start.microsecond:
            start = start.replace(second=0, microsecond=0) + _MINUTE
        day = start.replace(hour=0, minute=0)
        hour, minute = start.hour, start.minute
        limit = start.year + _SEARCH_YEARS
        while day.year <= limit:
            if day.month not in self.month_of_year:
                year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
                day, hour, minute = day.replace(year=year, month=month, day=1), 0, 0
                continue
            if self._day_matches(day):
                found = self._first_time(hour, minute)
                if found is not None:
                    return day.replace(hour=found[0], minute=found[1])
            day, hour, minute = day + timedelta(days=1), 0, 0
        return None

    def next_instant(self, after: int, zone: tzinfo) -> int | None:
        """The first firing strictly after ``after``: the earliest instant of a matching wall time.

        A matching wall time's instant is its first pass when it is repeated, and is shifted by the
        gap when it does not exist (Python's ``fold=0``). Away from offset changes instants keep
        the order of wall times; near one, a window the size of the change is searched.
        """
        wall = datetime.fromtimestamp(after, zone).replace(tzinfo=None)
        start = wall.replace(second=0, microsecond=0) + _MINUTE
        first = self.next_wall(start)
        if first is None:
            return None
        instant = _instant(zone, first)
        spread = _offset_spread(zone, after, instant)
        if spread == 0:
            return instant
        window = timedelta(seconds=spread) + _MINUTE
        w = self.next_wall(start - window)
        best: int | None = None
        stop: datetime | None = None
        while w is not None and (stop is None or w <= stop):
            t = _instant(zone, w)
            if t > after:
                best = t if best is None else min(best, t)
                stop = stop or w + window
            w = self.next_wall(w + _MINUTE)
        return best

    # -- Celery's dunder methods ---------------------------------------------------------------
    def __repr__(self) -> str:
        return (
            f"<crontab: {self._orig_minute} {self._orig_hour} {self._orig_day_of_month} "
            f"{self._orig_month_of_year} {self._orig_day_of_week} (m/h/dM/MY/d)>"
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, crontab):
            return (
                self.minute == other.minute
                and self.hour == other.hour
                and self.day_of_week == other.day_of_week
                and self.day_of_month == other.day_of_month
                and self.month_of_year == other.month_of_year
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def _instant(zone: tzinfo, wall: datetime) -> int:
    """The epoch second of a naive wall time: the first pass if repeated, shifted if skipped."""
    return int(wall.replace(tzinfo=zone, fold=0).timestamp())


def _offset_spread(zone: tzinfo, *instants: int) -> int:
    """How far the zone's UTC offset varies within a day of ``instants`` (0: no change near)."""
    if isinstance(zone, timezone):
        return 0
    offsets = {utc_offset(zone, t + d) for t in instants for d in (-_NEAR, 0, _NEAR)}
    return max(offsets) - min(offsets)


# ---------------------------------------------------------------------------------------------


class solar(BaseSchedule):
    """Celery's sunrise/sunset schedule: not available (it needs the ``ephem`` package)."""

    def __init__(self, event: str, lat: float, lon: float, **kwargs: Any) -> None:
        raise SolarNotSupportedError(
            f"solar({event!r}, {lat}, {lon}) is not supported by celery_shim: Celery computes solar events "
            "with the ephem package, which the shim does not use; schedule the task with crontab() in the "
            "app's timezone instead"
        )


def maybe_schedule(s: Any, relative: bool = False, app: Any = None) -> Any:
    """A number or timedelta as a ``schedule``; a schedule gets ``app`` (Celery's helper)."""
    if s is None:
        return None
    if isinstance(s, (int, float, timedelta)) and not isinstance(s, bool):
        return schedule(s, relative, app=app)
    if isinstance(s, BaseSchedule) and app is not None:
        s.app = app
    return s
