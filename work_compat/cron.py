"""Cron specs as gocraft/work parses them, and the instants they fire at (protocol §5.5.5).

gocraft/work (master) and the LarnTechKe fork hand every periodic spec to robfig/cron v3.0.1, with
the parser option set ``SecondOptional | Minute | Hour | Dom | Month | Dow | Descriptor``. This
module is that parser and those schedules: robfig's ``parser.go`` (``parse``), ``spec.go``
(``SpecSchedule``) and ``constantdelay.go`` (``ConstantDelaySchedule``); Go's ``time`` (zones, wall
times, durations) is in ``gotime``. It touches no Redis.

Why not croniter (7.0, installed here): it walks wall-clock time, and robfig does not. robfig adds
absolute hours, so a spring-forward hour is never visited and a fall-back hour is visited twice,
and where midnight is skipped it corrects the day its own way. Checked on 2026 dates: croniter
fires ``30 2 * * *`` in New York at 03:00 EDT on 03-08, a run robfig skips. For Havana's
``0 0 12 * * 6`` after Saturday 03-07 it gives Saturday 03-14, where robfig gives Sunday 03-08.
It also has no 5-year search limit, and its seconds-first mode is an option, not the default.
croniter and robfig do agree on some specs, such as zones without DST. But nothing proves which
specs those are, and the periodic enqueuer must match Go for every spec, so this module is the
whole implementation and croniter is not used.

Differences from robfig, on purpose:

- robfig accepts specs that never fire (``0 0 0 30 2 *``; a field of only commas) and its ``Next``
  then searches five years and returns the zero time, on which gocraft's enqueuer loops forever.
  ``parse`` refuses them with the reason.
- ``CRON_TZ=zone`` with no space after it makes robfig panic; ``parse`` raises ``CronSpecError``.

Everything robfig refuses, ``parse`` refuses (the messages are our own). Quirks that robfig accepts
are accepted too: ``*-5`` is ``*`` (the part after the ``*`` is ignored), empty list items are
dropped (``1,,2``), ``+5`` is 5, ``@every -1m`` is one second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Protocol

from work_compat.errors import ConfigurationError
from work_compat.gotime import go_duration, local_zone, parse_duration, zone_by_name
from work_compat.gotime import resolve as _resolve
from work_compat.gotime import wall as _wall

__all__ = [
    "ConstantDelaySchedule",
    "CronSpecError",
    "Schedule",
    "SpecSchedule",
    "go_duration",
    "local_zone",
    "parse",
]

UTC = timezone.utc

# robfig searches through the end of (the start's local year + 5), then returns the zero time.
SEARCH_YEARS = 5

# Go's unicode.IsSpace: what strings.Fields splits on and strings.TrimSpace trims. Python's own
# whitespace also includes U+001C..U+001F, which Go keeps inside a field.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_GO_FIELDS = re.compile(f"[^{_GO_SPACE}]+")
_GO_ATOI = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = (1 << 63) - 1

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTH_TITLES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# The longest each month gets; February 29 fires in leap years, and every 6-year search window
# up to 2096 holds one.
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class CronSpecError(ConfigurationError):
    """A cron spec that robfig/cron refuses, or one that could never fire.

    ``field`` names the part at fault: ``second``, ``minute``, ``hour``, ``day-of-month``, ``month``,
    ``day-of-week``, ``zone`` (the ``CRON_TZ=``/``TZ=`` prefix), ``descriptor`` (an ``@`` form,
    ``@every``'s duration included) or ``spec`` (the whole text).
    """

    def __init__(self, spec: str, field: str, reason: str) -> None:
        super().__init__(f"invalid cron spec {spec!r}: {field}: {reason}")
        self.spec = spec
        self.field = field
        self.reason = reason


class Schedule(Protocol):
    """A parsed spec: its text (which gocraft puts into periodic job ids) and its next instant."""

    @property
    def spec(self) -> str: ...

    def next(self, after: int) -> int | None:
        """The first instant (epoch second) strictly after ``after``; None if robfig finds none."""
        ...


# ---------------------------------------------------------------------------------------------
# Schedules


@dataclass(frozen=True)
class SpecSchedule:
    """A field spec (robfig ``SpecSchedule``): one bit per allowed value, evaluated in ``zone``.

    ``dom_star``/``dow_star`` record that the day field was written ``*`` or ``?`` (no step above
    1): then a day must match both day fields, otherwise either.
    """

    spec: str
    seconds: int
    minutes: int
    hours: int
    days_of_month: int
    months: int
    days_of_week: int
    dom_star: bool
    dow_star: bool
    zone: tzinfo

    def day_matches(self, wall: datetime) -> bool:
        """robfig's day rule for the local date of ``wall`` (weekdays counted from Sunday = 0)."""
        dom = bool(self.days_of_month >> wall.day & 1)
        dow = bool(self.days_of_week >> wall.isoweekday() % 7 & 1)
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def next(self, after: int) -> int | None:
        """robfig's ``Next`` (protocol §5.5.5 steps 1-8), one literal step at a time.

        Units of a day and more move by wall time (``_resolve``), hours, minutes and seconds by
        absolute time, so a spring-forward hour is skipped and a fall-back hour is visited twice.
        """
        zone = self.zone
        t = after + 1  # step 1: the next whole second
        wall = _wall(zone, t)
        limit = wall.year + SEARCH_YEARS
        reset = False  # once set, the lower fields have been zeroed: never again in this call
        while True:  # step 2: each restart comes back here
            if wall.year > limit:
                return None
            restart = False

            while not self.months >> wall.month & 1:  # step 3
                if not reset:
                    reset = True
                    t = _resolve(zone, wall.year, wall.month, 1, 0, 0, 0)
                    wall = _wall(zone, t)
                t = _resolve(zone, wall.year, wall.month + 1, wall.day, wall.hour, wall.minute, wall.second)
                wall = _wall(zone, t)
                if wall.month == 1:
                    restart = True
                    break
            if restart:
                continue

            while not self.day_matches(wall):  # step 4
                if not reset:
                    reset = True
                    t = _resolve(zone, wall.year, wall.month, wall.day, 0, 0, 0)
                    wall = _wall(zone, t)
                t = _resolve(zone, wall.year, wall.month, wall.day + 1, wall.hour, wall.minute, wall.second)
                wall = _wall(zone, t)
                if wall.hour != 0:  # that midnight does not exist: move to the nearer one
                    t += (24 - wall.hour) * 3600 if wall.hour > 12 else -wall.hour * 3600
                    wall = _wall(zone, t)
                if wall.day == 1:
                    restart = True
                    break
            if restart:
                continue

            while not self.hours >> wall.hour & 1:  # step 5
                if not reset:
                    reset = True
                    t = _resolve(zone, wall.year, wall.month, wall.day, wall.hour, 0, 0)
                    wall = _wall(zone, t)
                t += 3600
                wall = _wall(zone, t)
                if wall.hour == 0:
                    restart = True
                    break
            if restart:
                continue

            while not self.minutes >> wall.minute & 1:  # step 6
                if not reset:
                    reset = True
                    t -= t % 60  # Go's Truncate(time.Minute): the UTC minute
                    wall = _wall(zone, t)
                t += 60
                wall = _wall(zone, t)
                if wall.minute == 0:
                    restart = True
                    break
            if restart:
                continue

            while not self.seconds >> wall.second & 1:  # step 7
                reset = True  # truncating to the second changes nothing: t is a whole second
                t += 1
                wall = _wall(zone, t)
                if wall.second == 0:
                    restart = True
                    break
            if restart:
                continue

            return t  # step 8


@dataclass(frozen=True)
class ConstantDelaySchedule:
    """``@every D`` (robfig ``ConstantDelaySchedule``): ``delay`` seconds after any instant.

    Absolute time, not aligned to the clock: zone and DST play no part.
    """

    spec: str
    delay: int

    def next(self, after: int) -> int | None:
        return after + self.delay


# ---------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class _Bounds:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_start: int = 0

    def all(self) -> int:
        return _bits(self.low, self.high, 1)


_SECOND = _Bounds("second", 0, 59)
_MINUTE = _Bounds("minute", 0, 59)
_HOUR = _Bounds("hour", 0, 23)
_DOM = _Bounds("day-of-month", 1, 31)
_MONTH = _Bounds("month", 1, 12, _MONTH_NAMES, 1)
_DOW = _Bounds("day-of-week", 0, 6, _DAY_NAMES, 0)
_FIELDS = (_SECOND, _MINUTE, _HOUR, _DOM, _MONTH, _DOW)


def _bits(low: int, high: int, step: int) -> int:
    mask = 0
    for value in range(low, high + 1, step):
        mask |= 1 << value
    return mask


def parse(spec: str, *, zone: tzinfo | None = None) -> Schedule:
    """Parse ``spec`` as gocraft/work's robfig/cron parser does (protocol §5.5.5).

    Six fields (second first) or five (second 0); ``*``, ``?``, ``a``, ``a-b``, ``/step``, lists;
    month and weekday names; a ``CRON_TZ=``/``TZ=`` prefix; ``@yearly`` ... ``@hourly`` and
    ``@every <Go duration>``. ``zone`` evaluates a spec without a prefix (and ``TZ=Local``); None
    means ``local_zone()``, Go's ``time.Local``.

    Raises:
        CronSpecError: robfig refuses the spec, or it could never fire.
    """
    text = spec
    if text == "":
        raise CronSpecError(spec, "spec", "empty spec")
    prefix_zone: tzinfo | None = None
    if text.startswith(("TZ=", "CRON_TZ=")):
        # robfig takes the zone up to the first ASCII space, then trims what follows.
        space = text.find(" ")
        name_start = text.find("=") + 1
        if space < 0:
            raise CronSpecError(spec, "zone", "no space between the time zone and the schedule")
        prefix_zone = _prefix_zone(spec, text[name_start:space])
        text = text[space:].strip(_GO_SPACE)
    if prefix_zone is not None:
        evaluation_zone = prefix_zone
    else:
        evaluation_zone = zone if zone is not None else local_zone()

    if text.startswith("@"):
        return _descriptor(spec, text, evaluation_zone)

    fields = _GO_FIELDS.findall(text)
    if len(fields) not in (5, 6):
        raise CronSpecError(spec, "spec", f"expected 5 or 6 fields, found {len(fields)}")
    if len(fields) == 5:
        fields.insert(0, "0")
    masks: list[int] = []
    stars: list[bool] = []
    for bounds, field in zip(_FIELDS, fields):
        mask, star = _field(spec, bounds, field)
        masks.append(mask)
        stars.append(star)
    schedule = SpecSchedule(
        spec=spec,
        seconds=masks[0],
        minutes=masks[1],
        hours=masks[2],
        days_of_month=masks[3],
        months=masks[4],
        days_of_week=masks[5],
        dom_star=stars[3],
        dow_star=stars[5],
        zone=evaluation_zone,
    )
    _check_fires(schedule)
    return schedule


def _prefix_zone(spec: str, name: str) -> tzinfo | None:
    """Go's ``time.LoadLocation`` for the prefix; None is ``Local`` (the caller's zone)."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return None
    if ".." in name or name.startswith(("/", "\\")):
        raise CronSpecError(spec, "zone", f"invalid time zone name {name!r}")
    loaded = zone_by_name(name)
    if loaded is None:
        raise CronSpecError(spec, "zone", f"unknown time zone {name!r}")
    return loaded


_DESCRIPTORS = {
    # descriptor: (second, minute, hour, day-of-month, month, day-of-week); None is the full range
    "@yearly": ("0", "0", "0", "1", "1", None),
    "@annually": ("0", "0", "0", "1", "1", None),
    "@monthly": ("0", "0", "0", "1", None, None),
    "@weekly": ("0", "0", "0", None, None, "0"),
    "@daily": ("0", "0", "0", None, None, None),
    "@midnight": ("0", "0", "0", None, None, None),
    "@hourly": ("0", "0", None, None, None, None),
}
_EVERY = "@every "


def _descriptor(spec: str, text: str, zone: tzinfo) -> Schedule:
    fields = _DESCRIPTORS.get(text)
    if fields is not None:
        masks = [bounds.all() if value is None else 1 << int(value) for bounds, value in zip(_FIELDS, fields)]
        return SpecSchedule(
            spec=spec,
            seconds=masks[0],
            minutes=masks[1],
            hours=masks[2],
            days_of_month=masks[3],
            months=masks[4],
            days_of_week=masks[5],
            dom_star=fields[3] is None,
            dow_star=fields[5] is None,
            zone=zone,
        )
    if text.startswith(_EVERY):
        try:
            nanoseconds = parse_duration(text[len(_EVERY) :])
        except ValueError as err:
            raise CronSpecError(spec, "descriptor", str(err)) from None
        # robfig: at least one second, and whole seconds only.
        return ConstantDelaySchedule(spec=spec, delay=max(nanoseconds, 1_000_000_000) // 1_000_000_000)
    raise CronSpecError(spec, "descriptor", f"unknown descriptor {text!r}")


def _field(spec: str, bounds: _Bounds, field: str) -> tuple[int, bool]:
    """One field's bits and whether it was written as a plain ``*``/``?``."""
    mask = 0
    star = False
    for item in field.split(","):
        if item == "":  # robfig splits with FieldsFunc, which drops empty items
            continue
        item_mask, item_star = _item(spec, bounds, item)
        mask |= item_mask
        star = star or item_star
    return mask, star


def _item(spec: str, bounds: _Bounds, item: str) -> tuple[int, bool]:
    range_and_step = item.split("/")
    low_high = range_and_step[0].split("-")
    star = False
    if low_high[0] in ("*", "?"):
        # robfig looks no further than the "*": "*-5" is "*".
        start, end, star = bounds.low, bounds.high, True
    else:
        start = _value(spec, bounds, low_high[0])
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _value(spec, bounds, low_high[1])
        else:
            raise CronSpecError(spec, bounds.name, f"too many '-' in {item!r}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _number(spec, bounds, range_and_step[1])
        if len(low_high) == 1:  # "a/step" runs from a to the maximum
            end = bounds.high
        if step > 1:
            star = False
    else:
        raise CronSpecError(spec, bounds.name, f"too many '/' in {item!r}")
    if start < bounds.low:
        raise CronSpecError(spec, bounds.name, f"{start} is below {bounds.low}")
    if end > bounds.high:
        raise CronSpecError(spec, bounds.name, f"{end} is above {bounds.high}")
    if start > end:
        raise CronSpecError(spec, bounds.name, f"range {start}-{end} runs backwards")
    if step == 0:
        raise CronSpecError(spec, bounds.name, f"step 0 in {item!r}: a step must be positive")
    return _bits(start, end, step), star


def _go_lower(text: str) -> str:
    # Go lowers U+0130 (İ) to a plain "i"; Python to "i" plus a combining dot.
    return "".join("i" if char == "\u0130" else char.lower() for char in text)


def _value(spec: str, bounds: _Bounds, text: str) -> int:
    if bounds.names:
        lowered = _go_lower(text)
        if lowered in bounds.names:
            return bounds.names.index(lowered) + bounds.names_start
    return _number(spec, bounds, text)


def _number(spec: str, bounds: _Bounds, text: str) -> int:
    """Go's ``strconv.Atoi`` (ASCII digits, one optional sign, int64), refusing negatives."""
    if not _GO_ATOI.fullmatch(text):
        kind = "a number or a name" if bounds.names else "a number"
        raise CronSpecError(spec, bounds.name, f"{text!r} is not {kind}")
    value = int(text)
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise CronSpecError(spec, bounds.name, f"{text} is out of range")
    if value < 0:
        raise CronSpecError(spec, bounds.name, f"negative number {value}")
    return value


def _members(mask: int, low: int, high: int) -> list[int]:
    return [value for value in range(low, high + 1) if mask >> value & 1]


def _check_fires(schedule: SpecSchedule) -> None:
    """Refuse a spec that matches no instant at all (robfig would search 5 years, then give up)."""
    for bounds, mask in (
        (_SECOND, schedule.seconds),
        (_MINUTE, schedule.minutes),
        (_HOUR, schedule.hours),
        (_MONTH, schedule.months),
    ):
        if mask == 0:
            raise CronSpecError(schedule.spec, bounds.name, "never fires: the field lists no value")
    months = _members(schedule.months, 1, 12)
    dom_days = _members(schedule.days_of_month, 1, 31)
    month_has_day = any(day <= _MONTH_DAYS[month - 1] for month in months for day in dom_days)
    has_weekday = schedule.days_of_week != 0
    if schedule.dom_star or schedule.dow_star:  # both day fields must match
        if not has_weekday:
            raise CronSpecError(schedule.spec, "day-of-week", "never fires: the field lists no value")
    elif has_weekday:  # either day field may match, and every month has every weekday
        return
    if month_has_day:
        return
    if not dom_days:
        raise CronSpecError(schedule.spec, "day-of-month", "never fires: the field lists no value")
    days = " or ".join(str(day) for day in dom_days)
    names = ", ".join(_MONTH_TITLES[month - 1] for month in months)
    have = "has" if len(months) == 1 else "have"
    raise CronSpecError(schedule.spec, "day-of-month", f"never fires: {names} {have} no day {days}")
