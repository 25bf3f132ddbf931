"""crontab fields: Celery's field syntax parsed into sets, and sets rendered as robfig/cron text.

Celery accepts, per field, an int, an iterable of ints, or a string of comma-separated parts, each
``*``, ``*/step``, ``n``, ``a-b`` or ``a-b/step``. A range whose end is below its start wraps past
the field's maximum (``'fri-mon'`` is Friday to Monday, ``'22-2'`` hours 22 to 2), and a step picks
every step-th value of the range as listed. Weekday and month names work in their own fields, as
three-letter abbreviations or full names, any case. Sunday is 0; 7 is accepted as Sunday too, as
in classic cron (Celery itself refuses 7).

Rendering is the other way: one canonical text per set, so that a Go pool given the same text
writes the same periodic ids (protocol §5.5.4, where the spec text is part of each id).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..exceptions import ScheduleError

__all__ = ["DAY_OF_MONTH", "DAY_OF_WEEK", "HOUR", "MINUTE", "MONTH_OF_YEAR", "CronField", "parse_field", "render_field"]

_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def _names(full: tuple[str, ...], first: int) -> dict[str, int]:
    out = {}
    for i, name in enumerate(full):
        out[name] = out[name[:3]] = i + first
    return out


@dataclass(frozen=True)
class CronField:
    """One crontab field: its argument name, its values ``low..high``, and the names it accepts.

    ``extra_sunday`` lets day_of_week take 7 for Sunday (folded to 0).
    """

    name: str
    low: int
    high: int
    names: tuple[tuple[str, int], ...] = ()
    extra_sunday: bool = False

    @property
    def top(self) -> int:
        """The highest number the field accepts (7 for day_of_week)."""
        return self.high + 1 if self.extra_sunday else self.high

    def all(self) -> frozenset[int]:
        return frozenset(range(self.low, self.high + 1))


MINUTE = CronField("minute", 0, 59)
HOUR = CronField("hour", 0, 23)
DAY_OF_WEEK = CronField("day_of_week", 0, 6, tuple(_names(_DAYS, 0).items()), extra_sunday=True)
DAY_OF_MONTH = CronField("day_of_month", 1, 31)
MONTH_OF_YEAR = CronField("month_of_year", 1, 12, tuple(_names(_MONTHS, 1).items()))


def parse_field(field: CronField, spec: Any) -> frozenset[int]:
    """The set of values ``spec`` stands for in ``field``.

    Raises:
        ScheduleError: a value out of range, an unknown name, an empty part or set, a bad type.
    """
    if isinstance(spec, bool):
        raise ScheduleError(f"crontab {field.name}={spec!r}: give a number, a list of numbers or a cron string")
    if isinstance(spec, int):
        values = [spec]
    elif isinstance(spec, str):
        values = []
        for part in spec.split(","):
            values.extend(_part(field, spec, part.strip()))
    elif isinstance(spec, Iterable):
        values = list(spec)
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ScheduleError(f"crontab {field.name}={spec!r}: {value!r} is not an integer")
    else:
        raise ScheduleError(
            f"crontab {field.name} must be an int, a str or an iterable of ints, not {type(spec).__name__}"
        )
    for value in values:
        if not field.low <= value <= field.top:
            raise ScheduleError(
                f"crontab {field.name}={spec!r}: {value} is out of range; valid values are {field.low}-{field.top}"
            )
    result = frozenset(0 if field.extra_sunday and v == 7 else v for v in values)
    if not result:
        raise ScheduleError(f"crontab {field.name}={spec!r} lists no value, so it would never run")
    return result


def _part(field: CronField, spec: str, part: str) -> list[int]:
    if part == "":
        raise ScheduleError(f"crontab {field.name}={spec!r}: empty part between commas")
    body, slash, step_text = part.partition("/")
    step = 1
    if slash:
        if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
            raise ScheduleError(f"crontab {field.name}={spec!r}: the step in {part!r} must be a positive number")
        step = int(step_text)
    if body.startswith("-"):
        raise ScheduleError(f"crontab {field.name}={spec!r}: negative numbers are not allowed")
    if body == "*":
        return list(range(field.low, field.high + 1))[::step]
    start_text, dash, end_text = body.partition("-")
    if not dash:
        if slash:
            raise ScheduleError(
                f"crontab {field.name}={spec!r}: {part!r} steps from a single value; "
                f"write a range with its step, such as '{body}-{field.top}/{step}'"
            )
        return [_value(field, spec, start_text)]
    start, end = _value(field, spec, start_text), _value(field, spec, end_text)
    if end >= start:
        listed = list(range(start, end + 1))
    else:  # wraps past the field's maximum, as Celery's ranges do
        listed = list(range(start, field.high + 1)) + list(range(field.low, end + 1))
    return listed[::step]


def _value(field: CronField, spec: str, text: str) -> int:
    text = text.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    found = dict(field.names).get(text.lower())
    if found is not None:
        return found
    kind = "a number or a name" if field.names else "a number"
    raise ScheduleError(f"crontab {field.name}={spec!r}: {text!r} is not {kind}")


def render_field(field: CronField, values: frozenset[int]) -> str:
    """One canonical robfig/cron text for a set: ``*``, ``*/step``, or numbers and ``a-b`` runs.

    The text only depends on the set, so ``'*/15'``, ``[0, 15, 30, 45]`` and ``'0-59/15'`` all give
    ``*/15``; ``*/step`` is used for three values or more (``{0, 30}`` is ``0,30``), runs of three
    or more become ``a-b``, and day and month names become numbers (robfig reads those).
    """
    ordered = sorted(values)
    if values == field.all():
        return "*"
    if len(ordered) > 2 and ordered[0] == field.low:  # two values read better as "0,30"
        step = ordered[1] - ordered[0]
        if step > 1 and ordered == list(range(field.low, field.high + 1, step)):
            return f"*/{step}"
    items: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j - i >= 2:
            items.append(f"{ordered[i]}-{ordered[j]}")
        else:
            items.extend(str(v) for v in ordered[i : j + 1])
        i = j + 1
    return ",".join(items)
