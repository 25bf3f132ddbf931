"""crontab instants against the real Celery 5.7: what a user of Celery's beat sees, firing by firing.

Celery's beat asks ``entry.schedule.is_due(last_run_at)``; when due it sends the task and sets
``last_run_at`` to now, and it sleeps the ``next`` seconds is_due returned. ``observed`` replays that
loop on the real ``celery.schedules.crontab`` with a simulated clock, so it lists the instants a
Celery user watches tasks being sent at. Ours is ``crontab.next_instant`` from the same start.

Given New York and Berlin, around both 2026 clock changes and on ordinary days, the two agree.
One case differs on purpose (D16: the firings are a fixed set, each wall time fires once): a beat
started during a repeated hour. It is asserted below so that the README's claim stays true.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from celery import Celery as RealCelery
from celery.schedules import crontab as celery_crontab

from celery_shim.schedules import crontab

UTC = timezone.utc
ZONES = ("America/New_York", "Europe/Berlin")
STARTS = {
    # the day before, and the hours around, spring forward and fall back; an ordinary week
    "America/New_York": [
        datetime(2026, 3, 7, 17, tzinfo=UTC),
        datetime(2026, 3, 8, 5, 50, tzinfo=UTC),
        datetime(2026, 10, 31, 16, tzinfo=UTC),
        datetime(2026, 11, 1, 4, 10, tzinfo=UTC),
        datetime(2026, 6, 10, 9, 17, 23, tzinfo=UTC),
    ],
    "Europe/Berlin": [
        datetime(2026, 3, 28, 11, tzinfo=UTC),
        datetime(2026, 3, 29, 0, 20, tzinfo=UTC),
        datetime(2026, 10, 24, 11, tzinfo=UTC),
        datetime(2026, 10, 24, 23, 50, tzinfo=UTC),
        datetime(2026, 1, 14, 22, 3, 9, tzinfo=UTC),
    ],
}
SPECS: list[dict[str, Any]] = [
    {"minute": 30, "hour": 2},
    {"minute": 30, "hour": 1},
    {"minute": 30},
    {"minute": 0},
    {"minute": "*/15"},
    {"minute": "*"},
    {"minute": 0, "hour": 0},
    {"minute": 45, "hour": "1-3"},
    {"minute": "0,30", "hour": "0-4", "day_of_month": "1-10", "month_of_year": "mar,oct,nov"},
    {"minute": 0, "hour": 3, "day_of_week": "sun"},
    {"minute": 15, "hour": "*/2", "day_of_week": "sat,sun"},
    {"minute": 0, "hour": 12, "day_of_month": 13, "day_of_week": "fri"},
    {"minute": 0, "hour": 9, "day_of_month": "1-7", "day_of_week": "mon"},  # first Monday
    {"minute": "1,13,30-45,50-59/2", "hour": "0,8-17/2"},
]


def observed(fields: dict[str, Any], zone: str, start: datetime, n: int) -> list[int]:
    """The first ``n`` instants real Celery's beat sends the task at, started at ``start``."""
    app = RealCelery(set_as_current=False)
    app.conf.timezone = zone
    tz = ZoneInfo(zone)
    now = [start]
    schedule = celery_crontab(nowfun=lambda: now[0].astimezone(tz), app=app, **fields)
    last_run_at = now[0]
    sent: list[int] = []
    for _ in range(20_000):
        if len(sent) == n:
            break
        due, wait = schedule.is_due(last_run_at)
        if due:
            sent.append(int(now[0].timestamp()))
            last_run_at = now[0]
        now[0] += timedelta(seconds=max(wait, 1))  # a beat never sleeps less than its loop
    return sent


def ours(fields: dict[str, Any], zone: str, start: datetime, n: int) -> list[int]:
    c, tz = crontab(**fields), ZoneInfo(zone)
    out, t = [], int(start.timestamp())
    while len(out) < n:
        following = c.next_instant(t, tz)
        assert following is not None
        out.append(following)
        t = following
    return out


def show(zone: str, instants: list[int]) -> list[str]:
    return [datetime.fromtimestamp(t, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z") for t in instants]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("fields", SPECS, ids=repr)
def test_firings_match_real_celery_across_clock_changes(fields: dict[str, Any], zone: str) -> None:
    for start in STARTS[zone]:
        assert show(zone, ours(fields, zone, start, 25)) == show(zone, observed(fields, zone, start, 25)), start


def _field(rnd: random.Random, low: int, high: int) -> str:
    kind = rnd.random()
    if kind < 0.35:
        return "*"
    if kind < 0.5:
        return f"*/{rnd.randint(2, 6)}"
    if kind < 0.7:
        return ",".join(str(rnd.randint(low, high)) for _ in range(rnd.randint(1, 3)))
    if kind < 0.85:
        return f"{rnd.randint(low, high)}-{rnd.randint(low, high)}"  # may wrap, as Celery allows
    a = rnd.randint(low, high)
    return f"{a}-{rnd.randint(a, high)}/{rnd.randint(1, 3)}"


def test_random_specs_match_real_celery_near_clock_changes() -> None:
    # Given 300 seeded random crontabs, started within three days before a 2026 clock change (or
    # on a random day), in New York or Berlin
    rnd = random.Random(20260308)
    changes = [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC)]
    changes += [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)]
    compared = 0
    while compared < 300:
        fields = {
            "minute": _field(rnd, 0, 59),
            "hour": _field(rnd, 0, 23),
            "day_of_week": _field(rnd, 0, 6),
            "day_of_month": _field(rnd, 1, 31) if rnd.random() < 0.3 else "*",
            "month_of_year": _field(rnd, 1, 12) if rnd.random() < 0.2 else "*",
        }
        try:
            celery_crontab(**fields)
        except ValueError:
            continue  # a combination Celery refuses (30 February); ours refuses it too
        zone = rnd.choice(ZONES)
        if rnd.random() < 0.6:
            start = rnd.choice(changes) + timedelta(seconds=rnd.randint(-3 * 86400, 3600))
        else:
            start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rnd.randint(0, 2 * 365 * 86400))
        # Then the first 12 firings are the same instants
        assert show(zone, ours(fields, zone, start, 12)) == show(zone, observed(fields, zone, start, 12)), (
            fields,
            zone,
            start,
        )
        compared += 1


# -- the difference, on purpose, and a zone with a half-hour change -------------------------------


def test_a_beat_started_in_a_repeated_hour_fires_each_wall_time_once() -> None:
    # Given a quarter-hourly crontab and a beat that starts at 01:10 EST on 2026-11-01 New York,
    # during the second pass of the repeated hour 01:00-01:59 (its first pass was EDT)
    start = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)
    fields = {"minute": "*/15"}
    zone = "America/New_York"
    # Then ours waits for 02:00 EST: 01:15 ... 01:45 already happened in the first pass
    assert show(zone, ours(fields, zone, start, 3)) == [
        "2026-11-01 02:00 EST",
        "2026-11-01 02:15 EST",
        "2026-11-01 02:30 EST",
    ]
    # whereas Celery 5.7's beat sends the task on every loop of that hour (its next run comes out
    # in the past: 01:15 read with the first pass's offset)
    celery_sent = observed(fields, zone, start, 30)
    assert len(set(celery_sent)) == 30 and celery_sent[-1] - celery_sent[0] < 60


def test_in_a_zone_with_a_half_hour_gap_every_skipped_wall_time_fires_once() -> None:
    # Given Lord Howe Island, whose clocks go from 02:00 to 02:30 on 2026-10-04, and minutes 0, 14, 26
    zone = "Australia/Lord_Howe"
    fields = {"minute": "0,14,26"}
    start = datetime(2026, 10, 4, 1, 30, tzinfo=ZoneInfo(zone))
    # Then 02:00, 02:14 and 02:26 each fire once, 30 minutes later, then 03:00 as usual
    assert show(zone, ours(fields, zone, start, 4)) == [
        "2026-10-04 02:30 +11",
        "2026-10-04 02:44 +11",
        "2026-10-04 02:56 +11",
        "2026-10-04 03:00 +11",
    ]
