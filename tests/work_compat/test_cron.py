"""Cron specs: work_compat.cron against robfig/cron v3.0.1 itself (tests/interop/cron), instant for
instant, plus the worked examples of protocol §5.5.5, parse errors, go_duration and local_zone."""

from __future__ import annotations

import json
import os
import random
import subprocess
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.interop.driver import require_go
from work_compat.cron import CronSpecError, go_duration, local_zone, parse
from work_compat.errors import ConfigurationError

CRON_DIR = Path(__file__).resolve().parents[1] / "interop" / "cron"
# What Go's Next returns when nothing matches within 5 years: the zero time, as a Unix second.
GO_ZERO = -62135596800
COUNT = 50


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc).timestamp())


# Start instants: a plain one, one off the minute, and a few hours before each 2026 clock change in
# New York, Berlin and Havana (where the clocks change at midnight).
STARTS = [
    utc(2026, 1, 1),
    utc(2026, 2, 14, 9, 26, 53),
    utc(2026, 3, 8, 4),  # New York springs forward at 07:00Z
    utc(2026, 3, 7, 20),  # Havana springs forward at 05:00Z on 03-08 (00:00 -> 01:00)
    utc(2026, 3, 28, 22),  # Berlin springs forward at 01:00Z on 03-29
    utc(2026, 10, 24, 22),  # Berlin falls back at 01:00Z on 10-25
    utc(2026, 10, 31, 20),  # Havana falls back at 05:00Z on 11-01 (01:00 -> 00:00)
    utc(2026, 11, 1, 3),  # New York falls back at 06:00Z
]

# Specs without a prefix are evaluated in the Go process's TZ, and Python's zone= (or local_zone()).
SPECS = [
    # seconds first
    "*/20 * * * * *",
    "15,45 * * * * *",
    "0 */15 * * * *",
    "30 5 4 * * *",
    "10-50/20 3 * * * *",
    "0 5/10 * * * *",
    "? ? ? ? ? ?",
    # five fields (second 0)
    "*/7 * * * *",
    "5 4 * * *",
    "0 9-17 * * *",
    "0 9-17/2 * * 1-5",
    "0 0 1,15 * *",
    "0 0 1-7 * *",
    # names, any case
    "0 12 * jan,JUL *",
    "0 0 * * MON-FRI",
    "0 0 0 * JAN-Mar sun",
    "0 30 8 ? * Mon,wed,FRI",
    # day fields: one restricted (AND with the star), both restricted (OR), a step is not a star
    "0 0 0 ? * *",
    "0 0 0 * * 0",
    "0 0 12 13 * 5",
    "0 0 0 1 * 1",
    "0 0 0 */2 * 1",
    "0 0 0 * * */2",
    "0 0 0 ? * 1/2",
    "0 0 6 31 * *",
    "0 0 0 29 2 *",
    "0 0 0 29 feb mon",
    # what robfig accepts as it is
    "*-5 * * * *",
    "1,,2 * * * * *",
    "+5 * * * *",
    "0\t0\u00a012 *  * *",
    "0 0 12 * * FR\u0130",
    "* * * JAN/2 *",
    # descriptors
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
    "@every 90s",
    "@every 1h30m",
    "@every 1m",
    "@every 500ms",
    "@every 1.5s",
    "@every -1m",
    "@every 36h",
    "@every 1.s",
    "@every .5m",
    "@every +1h0.5m",
    "@every 2562047h",
    # prefixes
    "CRON_TZ=America/New_York 0 0 9 * * *",
    "TZ=Europe/Berlin 0 30 6 * * 1-5",
    "CRON_TZ=Asia/Kolkata 0 0 * * *",
    "TZ=UTC 0 0 0 * * *",
    "TZ= 0 0 * * * *",
    "TZ=Local 0 0 3 * * *",
    "CRON_TZ=America//New_York 0 0 9 * * *",
    "CRON_TZ=UTC @daily",
    "CRON_TZ=Asia/Tokyo @every 1h",
    "CRON_TZ=Australia/Lord_Howe 0 0,30 * * * *",
    # 2026 DST changes, unprefixed (the process zone) and prefixed
    "0 30 2 * * *",
    "0 30 * * * *",
    "0 30 1 * * *",
    "0 0 2 8 3 *",
    "0 * 1-3 * * *",
    "CRON_TZ=America/New_York 0 30 2 * * *",
    "CRON_TZ=America/New_York 0 30 1 * * *",
    "CRON_TZ=Europe/Berlin 0 30 2 * * *",
    "CRON_TZ=Europe/Berlin 0 30 * * * *",
    "CRON_TZ=Europe/Berlin 0 0 3 * * *",
    "TZ=Europe/Berlin 0 0 2 29 3 *",
    "CRON_TZ=America/Havana 0 0 12 * * 6",
    "CRON_TZ=America/Havana 0 0 0 * * *",
    "CRON_TZ=America/Havana 0 30 0 * * *",
    "CRON_TZ=America/Havana 0 0 * * * *",
    "CRON_TZ=America/Havana 0 0 0 8 3 *",
    "CRON_TZ=America/Santiago 0 0 0 * * *",
]

# Specs robfig refuses (an error, or a panic for a prefix without a space) or accepts but never
# fires (Next gives the zero time): parse must raise CronSpecError for each.
REFUSED = [
    "",
    " ",
    "* * * *",
    "* * * * * * *",
    "0 61 * * *",
    "60 * * * * *",
    "* 24 * * *",
    "0 0 0 * *",
    "* * 32 * *",
    "* * * 13 *",
    "* * * 0 *",
    "* * * * 7",
    "*/0 * * * *",
    "*/-1 * * * *",
    "-1 * * * *",
    "5- * * * *",
    "1-2-3 * * * *",
    "*/2/3 * * * *",
    "5-1 * * * *",
    "a * * * *",
    "\u0663 * * * *",
    "99999999999999999999 * * * *",
    "* * * foo *",
    "* * * * mon-foo",
    "* * * * *\x1c*",  # U+001C separates fields for Python's str.split, not for Go
    "@daily ",
    " @daily",
    "@Daily",
    "@reboot",
    "@every",
    "@every ",
    "@every 5",
    "@every 5x",
    "@every 1h ",
    "@every .s",
    "@every 1.5.5s",
    "@every 2562048h",
    "@every 9223372036854775808ns",
    "CRON_TZ=Nowhere/City * * * * *",
    "CRON_TZ=America/New_York",
    "CRON_TZ=America * * * * *",
    "CRON_TZ=zone.tab * * * * *",
    "CRON_TZ=utc * * * * *",
    "TZ=../etc/passwd * * * * *",
    "TZ=/etc/localtime * * * * *",
    "TZ=UTC\t* * * * *",
    "TZ=UTC TZ=UTC * * * * *",
    # never fires
    "0 0 0 30 2 *",
    "0 0 0 31 4,6,9,11 *",
    "0 0 0 31 2-4/2 *",
    ", * * * *",
    "0 0 , * * *",
    "* * * , *",
    "* * , * *",
    "* * * * ,",
    "0 0 0 30,31 feb ?",
]


def random_specs(count: int, seed: int) -> list[str]:
    """Field specs of every shape, half of them with a prefix zone (DST north and south, midnight
    changes, a half-hour change), to compare with Go in bulk."""
    rng = random.Random(seed)
    zones = ["", "", "America/New_York", "Europe/Berlin", "America/Havana", "America/Santiago", "Australia/Lord_Howe"]

    def field(low: int, high: int, names: tuple[str, ...] = (), star_chance: float = 0.4) -> str:
        def value() -> str:
            v = rng.randint(low, high)
            if names and rng.random() < 0.3:
                return names[v - low]
            return str(v)

        items = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            kind = rng.random()
            if kind < star_chance:
                items.append(rng.choice(["*", "?"]) + (f"/{rng.randint(1, 5)}" if rng.random() < 0.3 else ""))
            elif kind < 0.7:
                items.append(value())
            else:
                a, b = sorted((rng.randint(low, high), rng.randint(low, high)))
                items.append(f"{a}-{b}" + (f"/{rng.randint(1, 4)}" if rng.random() < 0.4 else ""))
        return ",".join(items)

    months = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    days = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
    specs = []
    for _ in range(count):
        parts = [
            field(0, 59, star_chance=0.2) if rng.random() < 0.5 else "0",
            field(0, 59),
            field(0, 23),
            field(1, 31, star_chance=0.6),
            field(1, 12, months, star_chance=0.7),
            field(0, 6, days, star_chance=0.6),
        ]
        zone = rng.choice(zones)
        specs.append((f"CRON_TZ={zone} " if zone else "") + " ".join(parts))
    return specs


RANDOM_SPECS = random_specs(200, seed=5)
RANDOM_STARTS = [utc(2026, 3, 7, 22), utc(2026, 10, 24, 20), utc(2027, 3, 13, 12)]
RANDOM_COUNT = 20

# The Go process's TZ for each run, and the zone Python gets for unprefixed specs: "local" leaves
# zone=None and sets the TZ environment variable, so that local_zone() is what is compared.
GO_ZONES = {
    "new_york": ("America/New_York", "zone"),
    "berlin": ("Europe/Berlin", "zone"),
    "local_kolkata": ("Asia/Kolkata", "local"),
}


def build_cron_program(out_dir: Path, go: str) -> Path:
    """``go build`` tests/interop/cron; robfig/cron comes from the Go module proxy."""
    binary = out_dir / "cron"
    proc = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=CRON_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"go build of tests/interop/cron failed:\n{proc.stderr}")
    return binary


def run_go(binary: Path, tz: str, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [str(binary)],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TZ": tz},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"tests/interop/cron exited {proc.returncode}:\n{proc.stderr}")
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    assert len(results) == len(requests)
    return results


GoResults = dict[tuple[str, str, int], dict[str, Any]]


@pytest.fixture(scope="session")
def go_cron(tmp_path_factory: pytest.TempPathFactory) -> GoResults:
    """robfig's answers for every (Go zone, spec, start), from one Go process per zone."""
    go = require_go("the cron comparison")
    binary = build_cron_program(tmp_path_factory.mktemp("go-cron"), go)
    answers: GoResults = {}
    for key, (tz, _) in GO_ZONES.items():
        cases = [(spec, start, COUNT) for spec in SPECS + REFUSED for start in STARTS]
        if key == "new_york":
            cases += [(spec, start, RANDOM_COUNT) for spec in RANDOM_SPECS for start in RANDOM_STARTS]
        requests = [{"spec": spec, "from": start, "count": count} for spec, start, count in cases]
        for (spec, start, _), result in zip(cases, run_go(binary, tz, requests)):
            answers[(key, spec, start)] = result
    return answers


def python_next(spec: str, start: int, count: int, zone: tzinfo | None) -> list[int]:
    """What the Go program prints, computed by work_compat.cron."""
    schedule = parse(spec, zone=zone)
    out: list[int] = []
    t = start
    for _ in range(count):
        n = schedule.next(t)
        if n is None:
            out.append(GO_ZERO)
            break
        out.append(n)
        t = n
    return out


def compare(go: GoResults, key: str, spec: str, starts: list[int], count: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Assert Python's instants equal Go's for every start; return how many instants were compared."""
    tz, mode = GO_ZONES[key]
    zone: ZoneInfo | None = ZoneInfo(tz)
    if mode == "local":
        monkeypatch.setenv("TZ", tz)
        zone = None
    compared = 0
    for start in starts:
        answer = go[(key, spec, start)]
        assert "error" not in answer, f"Go refuses {spec!r}: {answer['error']}"
        expected = answer["next"]
        if expected[0] == GO_ZERO:
            with pytest.raises(CronSpecError):
                parse(spec, zone=zone)
            continue
        got = python_next(spec, start, count, zone)
        assert got == expected, f"{spec!r} from {start} with Go TZ={tz}"
        compared += len(expected)
    return compared


@pytest.mark.interop
@pytest.mark.parametrize("key", sorted(GO_ZONES))
@pytest.mark.parametrize("spec", SPECS)
def test_next_instants_equal_robfigs(go_cron: GoResults, key: str, spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a spec and robfig's 50 next instants from each start, in a Go process with TZ set
    # When work_compat parses it (zone= the same zone, or local_zone() from the same TZ)
    # Then it gives the same instants, or refuses exactly the specs that would never fire
    assert compare(go_cron, key, spec, STARTS, COUNT, monkeypatch) > 0


@pytest.mark.interop
def test_random_specs_equal_robfigs(go_cron: GoResults, monkeypatch: pytest.MonkeyPatch) -> None:
    compared = sum(
        compare(go_cron, "new_york", spec, RANDOM_STARTS, RANDOM_COUNT, monkeypatch) for spec in RANDOM_SPECS
    )
    assert compared > len(RANDOM_SPECS) * len(RANDOM_STARTS) * RANDOM_COUNT // 2


@pytest.mark.interop
@pytest.mark.parametrize("spec", REFUSED)
def test_refused_exactly_where_robfig_fails(go_cron: GoResults, spec: str) -> None:
    # robfig refuses the spec (or panics on it), or its first Next is the zero time
    for key in GO_ZONES:
        answer = go_cron[(key, spec, STARTS[0])]
        assert "error" in answer or answer["next"][0] == GO_ZERO, answer
    with pytest.raises(CronSpecError):
        parse(spec, zone=ZoneInfo("America/New_York"))


# Protocol §5.5.5, "Worked examples in 2026", row by row: spec, start (UTC), next three (UTC).
WORKED_EXAMPLES = [
    ("CRON_TZ=America/New_York 0 30 2 * * *", utc(2026, 3, 7, 17), [utc(2026, 3, d, 6, 30) for d in (9, 10, 11)]),
    (
        "CRON_TZ=America/New_York 0 30 * * * *",
        utc(2026, 3, 8, 5),
        [utc(2026, 3, 8, 5, 30), utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 30)],
    ),
    (
        "CRON_TZ=America/New_York 0 30 2 * * *",
        utc(2026, 10, 31, 16),
        [utc(2026, 11, d, 7, 30) for d in (1, 2, 3)],
    ),
    (
        "CRON_TZ=America/New_York 0 30 * * * *",
        utc(2026, 11, 1, 5),
        [utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 30)],
    ),
    (
        "CRON_TZ=America/New_York 0 30 1 * * *",
        utc(2026, 10, 31, 16),
        [utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30), utc(2026, 11, 2, 6, 30)],
    ),
    (
        "CRON_TZ=Europe/Berlin 0 30 2 * * *",
        utc(2026, 3, 28, 11),
        [utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30), utc(2026, 4, 1, 0, 30)],
    ),
    (
        "CRON_TZ=Europe/Berlin 0 30 2 * * *",
        utc(2026, 10, 24, 10),
        [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), utc(2026, 10, 26, 1, 30)],
    ),
    (
        "CRON_TZ=America/Havana 0 0 12 * * 6",
        utc(2026, 3, 7, 17),
        [utc(2026, 3, 8, 16), utc(2026, 3, 14, 16), utc(2026, 3, 21, 16)],
    ),
    (
        "CRON_TZ=America/New_York @every 1h",
        utc(2026, 11, 1, 4, 30),
        [utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 30)],
    ),
]


@pytest.mark.parametrize(("spec", "start", "expected"), WORKED_EXAMPLES)
def test_worked_examples_of_the_protocol(spec: str, start: int, expected: list[int]) -> None:
    assert python_next(spec, start, 3, None) == expected


def test_spring_forward_skips_and_fall_back_repeats_in_the_given_zone() -> None:
    ny = ZoneInfo("America/New_York")
    # no run on 2026-03-08 at all, not even at 03:00 or 03:30
    assert parse("0 30 2 * * *", zone=ny).next(utc(2026, 3, 8, 5)) == utc(2026, 3, 9, 6, 30)
    # the daily 01:30 runs in both passes of 2026-11-01: 01:30 EDT, then 01:30 EST
    assert python_next("30 1 * * *", utc(2026, 11, 1, 4), 2, ny) == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)]
    assert parse("30 1 * * *", zone=ny).spec == "30 1 * * *"


def test_every_is_absolute_time() -> None:
    schedule = parse("CRON_TZ=America/New_York @every 1h30m")
    assert schedule.spec == "CRON_TZ=America/New_York @every 1h30m"
    assert schedule.next(utc(2026, 3, 8, 6)) == utc(2026, 3, 8, 7, 30)
    assert parse("@every 1ns").next(100) == 101  # under a second: one second
    assert parse("@every 2.9s").next(100) == 102  # sub-second parts are dropped
    assert parse("@every 1h1m1s1ms1us1µs1μs1ns").next(0) == 3661
    assert parse("@every 0").next(0) == 1


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("spec", "field", "reason"),
    [
        ("0 61 * * *", "hour", "61 is above 23"),  # five fields: minute 0, hour 61
        ("0 61 * * * *", "minute", "61 is above 59"),
        ("60 * * * * *", "second", "60 is above 59"),
        ("* 24 * * *", "hour", "24 is above 23"),
        ("* * 0 * *", "day-of-month", "0 is below 1"),
        ("* * * 13 *", "month", "13 is above 12"),
        ("* * * * 7", "day-of-week", "7 is above 6"),
        ("5-1 * * * *", "minute", "range 5-1 runs backwards"),
        ("*/0 * * * *", "minute", "step 0 in '*/0': a step must be positive"),
        ("*/-2 * * * *", "minute", "negative number -2"),
        ("1-2-3 * * * *", "minute", "too many '-' in '1-2-3'"),
        ("*/2/3 * * * *", "minute", "too many '/' in '*/2/3'"),
        ("* * * foo *", "month", "'foo' is not a number or a name"),
        ("x * * * *", "minute", "'x' is not a number"),
        ("* * * *", "spec", "expected 5 or 6 fields, found 4"),
        ("", "spec", "empty spec"),
        ("CRON_TZ=Nowhere/City * * * * *", "zone", "unknown time zone 'Nowhere/City'"),
        ("TZ=../x * * * * *", "zone", "invalid time zone name '../x'"),
        ("CRON_TZ=UTC", "zone", "no space between the time zone and the schedule"),
        ("@fortnightly", "descriptor", "unknown descriptor '@fortnightly'"),
        ("@every 5x", "descriptor", "invalid duration '5x': unknown unit 'x'"),
        ("@every 5", "descriptor", "invalid duration '5': missing unit"),
        ("0 0 0 30 2 *", "day-of-month", "never fires: February has no day 30"),
        ("0 0 0 31 2,4 ?", "day-of-month", "never fires: February, April have no day 31"),
        (", * * * *", "minute", "never fires: the field lists no value"),
        ("* * * * ,", "day-of-week", "never fires: the field lists no value"),
    ],
)
def test_parse_errors_name_the_field_and_reason(spec: str, field: str, reason: str) -> None:
    with pytest.raises(CronSpecError) as caught:
        parse(spec, zone=timezone.utc)
    assert (caught.value.spec, caught.value.field, caught.value.reason) == (spec, field, reason)
    assert str(caught.value) == f"invalid cron spec {spec!r}: {field}: {reason}"
    assert isinstance(caught.value, ConfigurationError)
    assert isinstance(caught.value, ValueError)


def test_error_message_example() -> None:
    with pytest.raises(CronSpecError, match=r"^invalid cron spec '0 61 \* \* \* \*': minute: 61 is above 59$"):
        parse("0 61 * * * *")


def test_day_fields_or_when_both_restricted() -> None:
    # the 13th or a Friday: Monday 2026-04-13 fires between the Fridays
    spec = parse("0 0 12 13 * 5", zone=timezone.utc)
    assert python_next("0 0 12 13 * 5", utc(2026, 4, 1), 4, timezone.utc) == [
        utc(2026, 4, 3, 12),
        utc(2026, 4, 10, 12),
        utc(2026, 4, 13, 12),
        utc(2026, 4, 17, 12),
    ]
    # day 1 and a star in day-of-week: only the 1st (the star matches every weekday)
    assert parse("0 0 0 1 * ?", zone=timezone.utc).next(utc(2026, 2, 1)) == utc(2026, 3, 1)
    # a step is not a star: */1 keeps it, */2 does not
    assert parse("0 0 0 1 * */1", zone=timezone.utc).next(utc(2026, 2, 1)) == utc(2026, 3, 1)
    # ... so the 1st or Sun/Tue/Thu/Sat: after Sunday 2026-02-01 comes Tuesday the 3rd
    assert parse("0 0 0 1 * */2", zone=timezone.utc).next(utc(2026, 2, 1)) == utc(2026, 2, 3)
    assert spec.spec == "0 0 12 13 * 5"


def test_next_is_none_beyond_five_years() -> None:
    # Feb 29 has no leap year between 2097 and 2103: robfig's search ends first
    assert parse("0 0 0 29 2 *", zone=timezone.utc).next(utc(2097, 1, 1)) is None
    assert parse("0 0 0 29 2 *", zone=timezone.utc).next(utc(2095, 1, 1)) == utc(2096, 2, 29)


# ---------------------------------------------------------------------------------------------
# go_duration and local_zone


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1, "1s"),
        (45, "45s"),
        (60, "1m0s"),
        (90, "1m30s"),
        (3600, "1h0m0s"),
        (3601, "1h0m1s"),
        (5400, "1h30m0s"),
        (86400, "24h0m0s"),
        (-90, "-1m30s"),
    ],
)
def test_go_duration(seconds: int, text: str) -> None:
    assert go_duration(seconds) == text
    if seconds > 0:
        assert parse(f"@every {text}").next(1000) == 1000 + seconds


def offset_at(zone: Any, instant: int) -> float:
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    assert offset is not None
    return offset.total_seconds()


JULY = utc(2026, 7, 1)


@pytest.mark.parametrize(
    ("tz", "offset"),
    [
        ("America/New_York", -4 * 3600),
        (":Europe/Berlin", 2 * 3600),
        ("/usr/share/zoneinfo/Asia/Tokyo", 9 * 3600),
        (":/usr/share/zoneinfo/Asia/Kolkata", 5.5 * 3600),
        ("", 0),
        (":", 0),
        ("UTC", 0),
        ("Not/AZone", 0),
        ("/no/such/file", 0),
    ],
)
def test_local_zone_reads_tz_as_go_does(monkeypatch: pytest.MonkeyPatch, tz: str, offset: float) -> None:
    monkeypatch.setenv("TZ", tz)
    assert offset_at(local_zone(), JULY) == offset


def test_local_zone_without_tz_is_the_system_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TZ", raising=False)
    if os.path.exists("/etc/localtime"):
        with open("/etc/localtime", "rb") as f:
            system = ZoneInfo.from_file(f)
        expected = [offset_at(system, t) for t in (utc(2026, 1, 1), JULY)]
    else:
        expected = [0.0, 0.0]
    assert [offset_at(local_zone(), t) for t in (utc(2026, 1, 1), JULY)] == expected


def test_unprefixed_specs_use_local_zone_at_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    schedule = parse("0 0 9 * * *")
    monkeypatch.setenv("TZ", "UTC")  # later changes do not move a parsed schedule
    assert schedule.next(utc(2026, 7, 1)) == utc(2026, 7, 2, 0)
    assert parse("TZ=Local 0 0 9 * * *").next(utc(2026, 7, 1)) == utc(2026, 7, 1, 9)
    assert parse("0 0 9 * * *", zone=ZoneInfo("Asia/Tokyo")).next(utc(2026, 7, 1)) == utc(2026, 7, 2, 0)
