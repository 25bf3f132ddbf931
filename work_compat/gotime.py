"""Go's ``time`` package, as far as cron needs it: the local zone (``time.Local``), wall times and
``time.Date``'s resolution of a wall time to an instant, and duration text (``1h30m0s``).

Kept apart from ``cron`` (the spec parser and schedules) so each stays one concern.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timezone, tzinfo
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError

__all__ = ["go_duration", "local_zone", "parse_duration", "resolve", "utc_offset", "wall", "zone_by_name"]

UTC = timezone.utc
_INT64_MAX = (1 << 63) - 1

# ---------------------------------------------------------------------------------------------
# Time zones


def local_zone() -> tzinfo:
    """Go's ``time.Local``: the zone unprefixed specs are evaluated in, as a Go pool would.

    ``TZ`` unset: ``/etc/localtime`` (by its IANA name when it links into a zoneinfo tree, else the
    file itself), or UTC when it is missing. ``TZ`` empty: UTC. Otherwise a leading ``:`` is
    dropped, and the rest is a file when it starts with ``/``, else a zone name; one that does not
    load gives UTC, as in Go.

    This is the one place in work_compat that reads the environment outside the CLI (STYLE §3):
    ``TZ`` is what gocraft's cron falls back to, so a Python pool must read it the same way.
    """
    tz = os.environ.get("TZ")
    if tz is None:
        return _system_zone()
    if tz.startswith(":"):
        tz = tz[1:]
    if tz.startswith("/"):
        return _zone_from_file(tz, tz) or UTC
    if tz in ("", "UTC"):
        return UTC
    return zone_by_name(tz) or UTC


def _system_zone() -> tzinfo:
    path = "/etc/localtime"
    target = os.path.realpath(path)
    marker = "/zoneinfo/"
    if marker in target:
        key = target.rsplit(marker, 1)[1]
        try:
            return ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    return _zone_from_file(path, "localtime") or UTC


def _zone_from_file(path: str, key: str) -> ZoneInfo | None:
    try:
        with open(path, "rb") as f:
            return ZoneInfo.from_file(f, key=key)
    except (OSError, ValueError):
        return None


def zone_by_name(name: str) -> ZoneInfo | None:
    """Load an IANA zone the way Go's loadLocation does: a file under each zoneinfo directory.

    ``ZoneInfo(name)`` refuses keys that are not normalised paths (``America//New_York``), which
    Go, joining directory and name, loads; those are read as files.
    """
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return None
    except (ValueError, OSError):
        pass
    for directory in TZPATH:
        zone = _zone_from_file(f"{directory}/{name}", name)
        if zone is not None:
            return zone
    return None


def utc_offset(zone: tzinfo, instant: int) -> int:
    """Seconds east of UTC in force in ``zone`` at epoch second ``instant``."""
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def resolve(zone: tzinfo, year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    """Go's ``time.Date``: the instant of a local wall time, fields normalised (32 March = 1 April).

    Read the wall time as UTC (u); o1 is the offset at u, o2 the offset at u - o1; the instant is
    u - o2 (protocol §5.5.5 "Resolve"). West of UTC a gap time lands an hour early and a repeated
    time takes its first pass; at or east of UTC, an hour late and the second pass. zoneinfo's
    ``fold`` rule differs in some of these cases, hence the formula.
    """
    carry_years, month0 = divmod(year * 12 + month - 1, 12)
    days = date(carry_years, month0 + 1, 1).toordinal() - _EPOCH_ORDINAL + day - 1
    wall = days * 86400 + hour * 3600 + minute * 60 + second
    first = utc_offset(zone, wall)
    return wall - utc_offset(zone, wall - first)


def wall(zone: tzinfo, instant: int) -> datetime:
    """The local calendar fields of an instant in the evaluation zone."""
    return datetime.fromtimestamp(instant, zone)


# ---------------------------------------------------------------------------------------------
# Go durations

_NANOSECONDS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DIGITS = "0123456789"


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration``, in nanoseconds: ``1h30m``, ``1.5h``, ``-2m``, ``300ms``, ``0``."""

    def invalid(reason: str) -> ValueError:
        return ValueError(f"invalid duration {text!r}: {reason}")

    s = text
    negative = False
    if s[:1] in ("-", "+"):
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise invalid("no number")
    limit = 1 << 63
    total = 0
    while s:
        if s[0] != "." and s[0] not in _DIGITS:
            raise invalid(f"expected a number at {s!r}")
        i = 0
        whole = 0
        while i < len(s) and s[i] in _DIGITS:
            if whole > limit // 10:
                raise invalid("overflow")
            whole = whole * 10 + int(s[i])
            if whole > limit:
                raise invalid("overflow")
            i += 1
        has_whole = i > 0
        s = s[i:]
        fraction, scale, has_fraction = 0, 1.0, False
        if s.startswith("."):
            s = s[1:]
            i = 0
            overflowed = False
            while i < len(s) and s[i] in _DIGITS:
                # Go keeps the digits that fit in an int64 and ignores the rest.
                if not overflowed:
                    if fraction > _INT64_MAX // 10 or fraction * 10 + int(s[i]) > _INT64_MAX:
                        overflowed = True
                    else:
                        fraction = fraction * 10 + int(s[i])
                        scale *= 10
                i += 1
            has_fraction = i > 0
            s = s[i:]
        if not has_whole and not has_fraction:
            raise invalid("no digits")
        i = 0
        while i < len(s) and s[i] != "." and s[i] not in _DIGITS:
            i += 1
        unit_text, s = s[:i], s[i:]
        if unit_text == "":
            raise invalid("missing unit")
        unit = _NANOSECONDS.get(unit_text)
        if unit is None:
            raise invalid(f"unknown unit {unit_text!r}")
        if whole > limit // unit:
            raise invalid("overflow")
        value = whole * unit
        if fraction > 0:
            # Go computes the fractional part in float64, then truncates.
            value += int(float(fraction) * (float(unit) / scale))
            if value > limit:
                raise invalid("overflow")
        total += value
        if total > limit:
            raise invalid("overflow")
    if negative:
        return -total
    if total > _INT64_MAX:
        raise invalid("overflow")
    return total


def go_duration(seconds: int) -> str:
    """Go's ``time.Duration.String()`` for whole seconds: ``45s``, ``1m0s``, ``1h30m0s``, ``24h0m0s``.

    The fork's ``Every(d)`` writes its spec as ``"@every " + d.String()``.
    """
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"
