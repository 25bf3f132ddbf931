"""crontab, schedule and solar: Celery's field syntax, the spec text shared with Go, the instants,
and Celery's is_due/remaining_estimate. No Redis here; test_beat.py writes the firings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import crontab as celery_crontab

from celery_shim import Celery
from celery_shim.exceptions import ScheduleError, SolarNotSupportedError
from celery_shim.schedules import crontab, maybe_schedule, schedstate, schedule, solar, zone_prefix
from work_compat.cron import parse as robfig_parse

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")


def at(zone: ZoneInfo | timezone, *fields: int) -> int:
    return int(datetime(*fields, tzinfo=zone).timestamp())  # type: ignore[misc]


def local(zone: ZoneInfo | timezone, t: int) -> str:
    return datetime.fromtimestamp(t, zone).strftime("%Y-%m-%d %H:%M %Z")


def firings(sched: crontab | schedule, zone: ZoneInfo | timezone, start: int, n: int) -> list[int]:
    out, t = [], start
    for _ in range(n):
        following = sched.next_instant(t, zone)
        assert following is not None
        out.append(following)
        t = following
    return out


# -- field syntax: the same sets as Celery's crontab ---------------------------------------------

FIELD_CASES = [
    {"minute": "*/15"},
    {"minute": "1,13,30-45,50-59/2"},
    {"hour": "0,8-17/2"},
    {"hour": "22-2"},
    {"hour": "22-2/2"},
    {"day_of_week": "mon-fri"},
    {"day_of_week": "fri-mon"},
    {"day_of_week": "sunday"},
    {"day_of_week": "Monday,WED"},
    {"day_of_week": "*/2"},
    {"day_of_week": "sat-sun"},
    {"day_of_month": "2-30/2"},
    {"day_of_month": "1-7,15-21"},
    {"month_of_year": "*/3"},
    {"month_of_year": "2-12/2"},
    {"month_of_year": "jan,March"},
    {"month_of_year": "nov-feb"},
    {"minute": [0, 30], "hour": {6, 18}},
    {"minute": 5, "hour": " 7"},
]


@pytest.mark.parametrize("fields", FIELD_CASES, ids=lambda f: repr(f))
def test_fields_parse_to_the_sets_celery_parses(fields: dict[str, object]) -> None:
    ours, theirs = crontab(**fields), celery_crontab(**fields)  # type: ignore[arg-type]
    for name in ("minute", "hour", "day_of_week", "day_of_month", "month_of_year"):
        assert set(getattr(ours, name)) == set(getattr(theirs, name)), name


def test_sunday_is_0_and_7() -> None:
    assert crontab(day_of_week=7).day_of_week == {0}
    assert crontab(day_of_week="5-7").day_of_week == {5, 6, 0}
    assert crontab(day_of_week="sun-7").day_of_week == set(range(7))


def test_from_string_reads_minute_hour_day_month_weekday() -> None:
    c = crontab.from_string("*/5 9-17 1,15 * mon-fri")
    assert c == crontab(minute="*/5", hour="9-17", day_of_month="1,15", day_of_week="mon-fri")
    assert repr(c) == "<crontab: */5 9-17 1,15 * mon-fri (m/h/dM/MY/d)>"
    with pytest.raises(ScheduleError, match="expected 5 fields"):
        crontab.from_string("0 0 * *")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"minute": 60}, "60 is out of range; valid values are 0-59"),
        ({"hour": "-1"}, "negative numbers"),
        ({"minute": "5/15"}, "write a range with its step, such as '5-59/15'"),
        ({"minute": "1,,2"}, "empty part"),
        ({"minute": "*/0"}, "step"),
        ({"day_of_week": "funday"}, "'funday' is not a number or a name"),
        ({"hour": "jan"}, "'jan' is not a number"),
        ({"minute": []}, "lists no value"),
        ({"minute": 1.5}, "must be an int, a str or an iterable"),
        ({"day_of_month": 30, "month_of_year": 2}, "day_of_month 30 never occurs in month_of_year 2"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ScheduleError, match=message) as err:
        crontab(**fields)  # type: ignore[arg-type]
    assert isinstance(err.value, ValueError)  # what Celery raises, so existing except clauses hold


# -- the spec shared with Go ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "spec"),
    [
        ({}, "0 * * * * *"),
        ({"minute": "*/1"}, "0 * * * * *"),
        ({"minute": "*/15"}, "0 */15 * * * *"),
        ({"minute": [0, 15, 30, 45]}, "0 */15 * * * *"),
        ({"minute": "0-59/15"}, "0 */15 * * * *"),
        ({"minute": "0,30"}, "0 0,30 * * * *"),
        ({"minute": "1,13,30-45,50-59/2"}, "0 1,13,30-45,50,52,54,56,58 * * * *"),
        ({"minute": 30, "hour": 7, "day_of_week": "mon-fri"}, "0 30 7 * * 1-5"),
        ({"minute": 0, "hour": 0, "day_of_week": "sat,sunday"}, "0 0 0 * * 0,6"),
        ({"minute": 0, "hour": 0, "day_of_month": 1, "month_of_year": "*/3"}, "0 0 0 1 */3 *"),
        ({"minute": 0, "hour": "22-2"}, "0 0 0-2,22,23 * * *"),
    ],
)
def test_crontab_renders_one_canonical_six_field_spec(fields: dict[str, object], spec: str) -> None:
    c = crontab(**fields)  # type: ignore[arg-type]
    assert c.gocraft_spec(UTC) == spec
    assert c.gocraft_spec(BERLIN) == "CRON_TZ=Europe/Berlin " + spec


def test_the_spec_names_the_apps_timezone() -> None:
    app = Celery("proj", timezone="Europe/Berlin", set_as_current=False)
    assert crontab(minute=0, hour=6, app=app).gocraft_spec() == "CRON_TZ=Europe/Berlin 0 0 6 * * *"
    app.conf.timezone = "UTC"
    assert crontab(minute=0, hour=6, app=app).gocraft_spec() == "0 0 6 * * *"
    app.conf.timezone = None  # enable_utc: UTC
    assert crontab(minute=0, hour=6, app=app).gocraft_spec() == "0 0 6 * * *"
    assert zone_prefix(timezone(timedelta(hours=2))) is None  # no IANA name a Go pool could load


def test_both_day_fields_restricted_is_not_a_go_spec_celery_ands_them() -> None:
    # Given Celery's "Friday the 13th" (day_of_month AND day_of_week), which robfig reads as
    # "every 13th and every Friday"
    c = crontab(minute=0, hour=12, day_of_month=13, day_of_week="fri")
    assert not c.go_compatible
    assert c.gocraft_spec(UTC) is None
    assert c.id_spec(UTC) == "0 0 12 13 * 5"  # still the text in its ids
    # Then its firings in 2026-2027 are the Fridays that are 13ths, at noon
    fired = firings(c, UTC, at(UTC, 2026, 1, 1), 4)
    assert [local(UTC, t) for t in fired] == [
        "2026-02-13 12:00 UTC",
        "2026-03-13 12:00 UTC",
        "2026-11-13 12:00 UTC",
        "2027-08-13 12:00 UTC",
    ]
    # And Celery's own crontab agrees that such days are ANDed: 2026-01-13 is a Tuesday
    ours_day = crontab(minute=0, hour=12, day_of_month=13, day_of_week="tue")
    assert local(UTC, firings(ours_day, UTC, at(UTC, 2026, 1, 1), 1)[0]) == "2026-01-13 12:00 UTC"
    # And one full day field keeps it a Go spec (robfig then also requires both)
    assert crontab(day_of_month="1-31", day_of_week="mon").gocraft_spec(UTC) == "0 * * * * 1"


@pytest.mark.parametrize(
    ("fields", "zone"),
    [
        ({"minute": "*/15"}, BERLIN),
        ({"minute": 30, "hour": "7-9", "day_of_week": "mon-fri"}, NY),
        ({"minute": 0, "hour": 12, "day_of_month": "1,15"}, KOLKATA),
        ({"minute": "5,35", "hour": "*/6", "month_of_year": "jan-jun"}, UTC),
    ],
)
def test_robfig_parsing_the_exported_spec_fires_the_same_instants_away_from_clock_changes(
    fields: dict[str, object], zone: ZoneInfo | timezone
) -> None:
    # Given a crontab's exported spec, parsed as a Go pool parses it (work_compat.cron is robfig
    # v3.0.1, checked against Go), over 2026-05 and 2026-06, where no clock changes
    c = crontab(**fields)  # type: ignore[arg-type]
    spec = c.gocraft_spec(zone)
    assert spec is not None
    robfig = robfig_parse(spec, zone=UTC)  # the CRON_TZ prefix, not the default zone, decides
    start, end = at(UTC, 2026, 5, 1), at(UTC, 2026, 7, 1)
    ours, theirs, t, u = [], [], start, start
    while True:
        t = c.next_instant(t, zone)  # type: ignore[assignment]
        if t >= end:
            break
        ours.append(t)
    while True:
        u = robfig.next(u)  # type: ignore[assignment]
        if u >= end:
            break
        theirs.append(u)
    # Then they fire at exactly the same instants
    assert ours == theirs and len(ours) >= 4


# -- intervals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "zone", "spec", "id_spec"),
    [
        (10, UTC, "*/10 * * * * *", "*/10 * * * * *"),
        (timedelta(seconds=1), UTC, "* * * * * *", "* * * * * *"),
        (0.25, UTC, "* * * * * *", "* * * * * *"),  # sub-second rounds up to 1 s
        (timedelta(minutes=5), UTC, "0 */5 * * * *", "0 */5 * * * *"),
        (60, BERLIN, "CRON_TZ=Europe/Berlin 0 * * * * *", "CRON_TZ=Europe/Berlin 0 * * * * *"),
        (timedelta(hours=1), NY, "CRON_TZ=America/New_York 0 0 * * * *", "CRON_TZ=America/New_York 0 0 * * * *"),
        (timedelta(hours=6), UTC, "0 0 */6 * * *", "0 0 */6 * * *"),
        (timedelta(days=1), UTC, "0 0 0 * * *", "0 0 0 * * *"),
        (timedelta(minutes=20), KOLKATA, None, "@every 20m0s"),  # +05:30: local :00 is not an epoch multiple
        (timedelta(minutes=30), KOLKATA, "CRON_TZ=Asia/Kolkata 0 */30 * * * *", "CRON_TZ=Asia/Kolkata 0 */30 * * * *"),
        (timedelta(hours=2), NY, None, "@every 2h0m0s"),
        (timedelta(days=1), BERLIN, None, "@every 24h0m0s"),
        (90, UTC, None, "@every 1m30s"),
        (timedelta(days=7), UTC, None, "@every 168h0m0s"),
    ],
)
def test_intervals_export_a_robfig_spec_only_when_it_fires_the_epoch_multiples(
    every: float | timedelta, zone: ZoneInfo | timezone, spec: str | None, id_spec: str
) -> None:
    s = schedule(every)
    assert s.gocraft_spec(zone) == spec
    assert s.id_spec(zone) == id_spec
    # The instants are the multiples of the interval since the epoch ...
    aligned = firings(s, zone, at(UTC, 2026, 3, 7, 12, 0, 1), 5)
    assert all(t % s.interval == 0 for t in aligned) and aligned == sorted(set(aligned))
    if spec is not None:
        # ... and robfig, given the exported spec, fires the same ones, across the 2026 clock changes
        robfig = robfig_parse(spec, zone=UTC)
        for start in (at(UTC, 2026, 3, 7, 12), at(UTC, 2026, 3, 29, 0, 30), at(UTC, 2026, 11, 1, 4, 30)):
            t = start
            for _ in range(30 if s.interval < 3600 else 8):
                following = robfig.next(t)
                assert following == s.next_instant(t, zone), (spec, local(UTC, t))
                assert following is not None
                t = following


def test_intervals_round_fractions_up_and_refuse_nothing_or_less() -> None:
    assert schedule(1.5).interval == 2
    assert schedule(timedelta(milliseconds=100)).interval == 1
    assert maybe_schedule(30).interval == 30
    assert maybe_schedule(timedelta(seconds=30)) == schedule(30)
    assert repr(schedule(10)) == "<freq: 10.00 seconds>"
    for bad in (0, -5, timedelta(0), None, "10", True):
        with pytest.raises(ScheduleError):
            schedule(bad)  # type: ignore[arg-type]


# -- DST: Celery's rule, fixed whatever the start ------------------------------------------------


def test_a_skipped_wall_time_fires_once_shifted_by_the_gap() -> None:
    # New York 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day
    daily = firings(crontab(minute=30, hour=2), NY, at(UTC, 2026, 3, 7, 17), 3)
    assert [local(NY, t) for t in daily] == ["2026-03-08 03:30 EDT", "2026-03-09 02:30 EDT", "2026-03-10 02:30 EDT"]
    quarter = firings(crontab(minute="*/15"), NY, at(NY, 2026, 3, 8, 1, 30), 4)
    assert [local(NY, t) for t in quarter] == [
        "2026-03-08 01:45 EST",
        "2026-03-08 03:00 EDT",  # 02:00 shifted, one with 03:00 itself
        "2026-03-08 03:15 EDT",
        "2026-03-08 03:30 EDT",
    ]


def test_a_repeated_wall_time_fires_once_on_its_first_pass() -> None:
    # Berlin 2026-10-25: 03:00 CEST goes back to 02:00 CET, so 02:xx happens twice
    hourly = firings(crontab(minute=30), BERLIN, at(BERLIN, 2026, 10, 25, 0, 45), 4)
    assert [local(BERLIN, t) for t in hourly] == [
        "2026-10-25 01:30 CEST",
        "2026-10-25 02:30 CEST",
        "2026-10-25 03:30 CET",  # not 02:30 CET again
        "2026-10-25 04:30 CET",
    ]
    # and the set is fixed: a beat starting during the second pass does not fire it again
    second_pass = int(datetime(2026, 10, 25, 2, 10, tzinfo=BERLIN, fold=1).timestamp())
    assert local(BERLIN, crontab(minute="*/15").next_instant(second_pass, BERLIN) or 0) == "2026-10-25 03:00 CET"


# -- Celery's is_due / remaining_estimate ----------------------------------------------------------


def test_is_due_and_remaining_estimate_read_last_run_and_now_as_celery_does() -> None:
    app = Celery("proj", timezone="Europe/Berlin", set_as_current=False)
    now = [datetime(2026, 6, 1, 8, 59, 30, tzinfo=BERLIN)]
    c = crontab(minute=0, hour="*/3", nowfun=lambda: now[0], app=app)
    last = datetime(2026, 6, 1, 6, 0, tzinfo=BERLIN)
    assert c.remaining_estimate(last) == timedelta(seconds=30)
    assert c.is_due(last) == schedstate(False, 30.0)
    now[0] = datetime(2026, 6, 1, 9, 0, 2, tzinfo=BERLIN)
    due = c.is_due(last)
    assert due.is_due and due.next == 3 * 3600 - 2
    assert c.is_due(datetime(2026, 6, 1, 6, 59)) == schedstate(True, 3 * 3600 - 2)  # naive is UTC: 08:59 Berlin
    s = schedule(timedelta(minutes=10), nowfun=lambda: now[0], app=app)
    assert s.is_due(datetime(2026, 6, 1, 8, 55, tzinfo=BERLIN)) == schedstate(True, 598.0)
    assert s.is_due(datetime(2026, 6, 1, 9, 0, 0, tzinfo=BERLIN)) == schedstate(False, 598.0)


def test_now_falls_back_to_the_apps_clock() -> None:
    app = Celery("proj", set_as_current=False)
    app.now = lambda: 1_800_000_030.0
    c = crontab(minute="*", app=app)
    assert c.now() == datetime.fromtimestamp(1_800_000_030, UTC)
    assert c.remaining_estimate(datetime.fromtimestamp(1_800_000_000, UTC)) == timedelta(seconds=30)


def test_solar_names_ephem() -> None:
    with pytest.raises(SolarNotSupportedError, match="ephem") as err:
        solar("sunrise", -37.81, 144.96)
    assert isinstance(err.value, NotImplementedError)
