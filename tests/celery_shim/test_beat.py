"""Beat on the real Redis fixture, driven by a ManualClock: what lands in ``<ns>:scheduled``.

Each pass writes the firings of its horizon; the tests read the scheduled set back the way a
pool's requeuer will, and compare bytes with work_compat's Go-parity periodic members.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from celery.schedules import crontab as celery_crontab

from celery_shim import Celery, signals
from celery_shim.beat import Beat
from celery_shim.exceptions import ImproperlyConfigured
from celery_shim.schedules import crontab
from tests.redis_server import RedisServer
from tests.work_compat.conftest import wait_until
from work_compat import Keys, ManualClock, RedisUnavailableError, WorkerPool, decode_job
from work_compat.periodic import periodic_member

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
T0 = 1_800_000_000  # 2027-01-15 08:00:00 UTC, a Friday; a multiple of 60 and of 3600


def scheduled(r: redis.Redis, namespace: str) -> dict[bytes, int]:
    return {m: int(s) for m, s in r.zrange(Keys(namespace).scheduled(), 0, -1, withscores=True)}


def local(zone: ZoneInfo | timezone, t: int) -> str:
    return datetime.fromtimestamp(t, zone).strftime("%Y-%m-%d %H:%M %Z")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def pools(redis_server: RedisServer, namespace: str, clock: ManualClock) -> Iterator[list[WorkerPool]]:
    made: list[WorkerPool] = []
    yield made
    for pool in made:
        pool.stop(timeout=15)
        pool.close()


def test_two_beats_and_a_python_pool_write_one_member_per_instant(
    app: Celery,
    clock: ManualClock,
    redis_client: redis.Redis,
    redis_server: RedisServer,
    namespace: str,
    pools: list[WorkerPool],
) -> None:
    # Given a crontab and intervals with no args, whose specs a gocraft pool can share (90 s has
    # no robfig spec: its member is the one a work_compat pool's every() writes)
    app.conf.beat_schedule = {
        "refresh every minute": {"task": "refresh_cache", "schedule": crontab(minute="*")},
        "poll": {"task": "poll_feeds", "schedule": timedelta(seconds=20)},
        "slow": {"task": "slow_sync", "schedule": 90},
    }
    one, two = Beat(app, clock=clock), Beat(app, clock=clock)
    assert [(e.task, e.spec, e.go_form) for e in one.entries()] == [
        ("poll_feeds", "*/20 * * * * *", True),
        ("refresh_cache", "0 * * * * *", True),
        ("slow_sync", "@every 1m30s", True),
    ]
    # When two beats pass, and a work_compat pool with the same two periodic jobs starts (its
    # enqueuer runs at once), all on the same clock
    assert one.tick() == 3 + 11 + 2
    assert two.tick() == 0
    pool = WorkerPool(1, namespace, redis_server.url, clock=clock, zone=UTC).job("noop", lambda job: None)
    pool.periodically_enqueue("0 * * * * *", "refresh_cache").periodically_enqueue("*/20 * * * * *", "poll_feeds")
    pool.every("slow_sync", 90)
    pools.append(pool)
    pool.start()  # its periodic enqueuer's first run is done when start() returns
    # Then there is exactly one member per instant, byte for byte gocraft's periodic member
    expected = {periodic_member("refresh_cache", "0 * * * * *", t, None): t for t in (T0 + 60, T0 + 120, T0 + 180)}
    expected.update({periodic_member("poll_feeds", "*/20 * * * * *", t, None): t for t in range(T0 + 20, T0 + 240, 20)})
    expected.update({periodic_member("slow_sync", "@every 1m30s", t, None): t for t in (T0 + 90, T0 + 180)})
    assert scheduled(redis_client, namespace) == expected
    assert (
        b'{"name":"refresh_cache","id":"periodic:refresh_cache:0 * * * * *:1800000060","t":1800000060,"args":null}'
        in expected
    )


def test_a_pass_writes_only_new_firings_as_the_clock_moves(app: Celery, clock: ManualClock) -> None:
    app.conf.beat_schedule = {"tick": {"task": "tick", "schedule": crontab(minute="*")}}
    beat = Beat(app, clock=clock)
    assert beat.tick() == 3  # T0+60, +120, +180: strictly after now, before now + 240
    assert beat.tick() == 0
    clock.advance(60)
    assert beat.tick() == 1  # T0+240 entered the horizon
    assert beat.tick() == 0
    clock.advance(1)
    assert beat.tick() == 1  # T0+300 < now + 240


def test_an_entry_with_args_and_options_carries_them_under_its_own_ids(
    app: Celery, clock: ManualClock, redis_client: redis.Redis, namespace: str
) -> None:
    # Given a registered task and an entry with positional args, kwargs and a relative expiry
    @app.task(name="report")
    def report(kind: str, day: str | None = None, shout: bool = False) -> None: ...

    app.conf.beat_schedule = {
        "weekday report": {
            "task": "report",
            "schedule": crontab(minute=30, hour=7, day_of_week="mon-fri"),
            "args": ("daily",),
            "kwargs": {"day": "mon"},
            "options": {"expires": 30},
        }
    }
    # When a beat writes four days ahead from Friday 08:00 UTC
    Beat(app, clock=clock, horizon=4 * 86400).tick()
    members = scheduled(redis_client, namespace)
    # Then the firings are Monday and Tuesday 07:30 (not Saturday or Sunday) ...
    assert sorted(local(UTC, t) for t in members.values()) == ["2027-01-18 07:30 UTC", "2027-01-19 07:30 UTC"]
    for raw, t in members.items():
        job = decode_job(raw)
        # ... with the entry's key in the id, args named by the task's parameters (D1) ...
        assert job.id == f"periodic:weekday report:0 30 7 * * 1-5:{t}"
        assert (job.name, job.enqueued_at, job.args) == ("report", t, {"kind": "daily", "day": "mon"})
        # ... and the expiry counted from each firing (D9)
        assert job.extra["celery"] == {"expires": t + 30}


def test_a_task_not_registered_here_gets_its_positional_args_under_star_args(
    app: Celery, clock: ManualClock, redis_client: redis.Redis, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    entry = {"task": "resize", "schedule": 60, "args": [640, 480], "kwargs": {"fmt": "png"}}
    app.conf.beat_schedule = {"go side": entry}
    with caplog.at_level(logging.WARNING, logger="celery_shim.beat"):
        Beat(app, clock=clock).tick()
    jobs = [decode_job(m) for m in scheduled(redis_client, namespace)]
    assert [j.id for j in jobs] == [f"periodic:go side:0 * * * * *:{T0 + k}" for k in (60, 120, 180)]
    assert all(j.args == {"fmt": "png", "*args": [640, 480]} for j in jobs)
    assert "not registered here" in caplog.text


def test_both_day_fields_restricted_fires_only_when_both_match(
    app: Celery, clock: ManualClock, redis_client: redis.Redis, namespace: str
) -> None:
    # Given "noon on Friday the 13th", which Celery ANDs and robfig would OR
    app.conf.beat_schedule = {
        "fri13": {"task": "party", "schedule": crontab(minute=0, hour=12, day_of_month=13, day_of_week="fri")}
    }
    # When a beat writes two years ahead
    Beat(app, clock=clock, horizon=2 * 366 * 86400).tick()
    members = scheduled(redis_client, namespace)
    # Then only Fridays that are 13ths fire, under the entry's own ids (no Go pool shares them)
    assert sorted(local(UTC, t) for t in members.values()) == [
        "2027-08-13 12:00 UTC",
        "2028-10-13 12:00 UTC",
    ]
    assert all(decode_job(m).id.startswith("periodic:fri13:0 0 12 13 * 5:") for m in members)


def test_firings_follow_the_apps_timezone_across_berlins_clock_changes(
    app: Celery, redis_client: redis.Redis, namespace: str
) -> None:
    app.conf.timezone = "Europe/Berlin"
    app.conf.beat_schedule = {
        "nightly": {"task": "nightly", "schedule": crontab(minute=30, hour=2)},
        "half past": {"task": "half_past", "schedule": crontab(minute=30)},
    }
    spring = ManualClock(int(datetime(2027, 3, 27, 12, tzinfo=UTC).timestamp()))
    beat = Beat(app, clock=spring, horizon=3 * 86400 - 1)
    assert {e.key: e.spec for e in beat.entries()} == {
        "half past": "CRON_TZ=Europe/Berlin 0 30 * * * *",
        "nightly": "CRON_TZ=Europe/Berlin 0 30 2 * * *",
    }
    beat.tick()
    nightly = sorted(t for m, t in scheduled(redis_client, namespace).items() if b'"nightly"' in m)
    # 02:30 does not exist on 2027-03-28 (02:00 CET -> 03:00 CEST): it fires once, at 03:30
    assert [local(BERLIN, t) for t in nightly] == [
        "2027-03-28 03:30 CEST",
        "2027-03-29 02:30 CEST",
        "2027-03-30 02:30 CEST",
    ]
    redis_client.delete(Keys(namespace).scheduled())
    autumn = ManualClock(int(datetime(2027, 10, 30, 22, tzinfo=UTC).timestamp()))
    Beat(app, clock=autumn, horizon=6 * 3600).tick()
    half_past = sorted(t for m, t in scheduled(redis_client, namespace).items() if b'"half_past"' in m)
    # 02:30 happens twice on 2027-10-31 (03:00 CEST -> 02:00 CET): it fires once, on the first pass
    assert [local(BERLIN, t) for t in half_past] == [
        "2027-10-31 00:30 CEST",
        "2027-10-31 01:30 CEST",
        "2027-10-31 02:30 CEST",
        "2027-10-31 03:30 CET",
        "2027-10-31 04:30 CET",
    ]


def test_add_periodic_task_from_on_after_configure(
    app: Celery, clock: ManualClock, redis_client: redis.Redis, namespace: str
) -> None:
    # Given Celery's documented pattern: periodic tasks added when the app is configured
    @app.task(name="tasks.add")
    def add(x: int, y: int) -> int:
        return x + y

    @app.on_after_configure.connect
    def setup_periodic_tasks(sender: Celery, **kwargs: object) -> None:
        sender.add_periodic_task(10.0, add.s(2, 3), name="add every 10")
        sender.add_periodic_task(crontab(minute="*/2"), add.s(1, 1), expires=5)

    finalized: list[object] = []

    @app.on_after_finalize.connect
    def after_finalize(sender: Celery, **kwargs: object) -> None:
        finalized.append(sender)

    # When a beat runs its first pass
    Beat(app, clock=clock).tick()
    # Then both entries are in beat_schedule, keyed by name, else by repr of the signature ...
    assert sorted(app.conf.beat_schedule) == ["add every 10", "tasks.add(1, 1)"]
    assert finalized == [app]
    # ... and their firings are written with the signature's args
    ids = sorted(decode_job(m).id for m in scheduled(redis_client, namespace))
    assert ids == sorted(
        [f"periodic:add every 10:*/10 * * * * *:{T0 + k}" for k in range(10, 240, 10)]
        + [f"periodic:tasks.add(1, 1):0 */2 * * * *:{T0 + k}" for k in (120,)]
    )
    args = {decode_job(m).id.split(":")[1]: decode_job(m).args for m in scheduled(redis_client, namespace)}
    assert args == {"add every 10": {"x": 2, "y": 3}, "tasks.add(1, 1)": {"x": 1, "y": 1}}
    # The receivers ran once: a second pass does not add the entries again
    Beat(app, clock=clock).tick()
    assert len(app.conf.beat_schedule) == 2


def test_add_periodic_task_updates_a_live_settings_dict_in_place(app: Celery) -> None:
    class Settings:
        CELERY_BEAT_SCHEDULE: dict[str, object] = {"old": {"task": "old", "schedule": 60}}

    app.config_from_object(Settings, namespace="CELERY")
    key = app.add_periodic_task(60, "cleanup", name="cleanup")
    assert key == "cleanup"
    assert sorted(Settings.CELERY_BEAT_SCHEDULE) == ["cleanup", "old"]


def test_real_celery_schedule_objects_are_read_too(app: Celery, clock: ManualClock) -> None:
    # A codebase that changed only "from celery import Celery" still imports crontab from celery
    app.conf.beat_schedule = {"q": {"task": "q", "schedule": celery_crontab(minute="*/15", hour="9-17")}}
    assert [e.spec for e in Beat(app, clock=clock).entries()] == ["0 */15 9-17 * * *"]


def test_a_custom_scheduler_is_warned_about_once_and_the_static_schedule_runs(
    app: Celery, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    app.conf.beat_scheduler = "django_celery_beat.schedulers:DatabaseScheduler"
    app.conf.beat_schedule = {"tick": {"task": "tick", "schedule": 60}}
    beat = Beat(app, clock=clock)
    with caplog.at_level(logging.WARNING, logger="celery_shim.beat"):
        assert beat.tick() == 3
        clock.advance(60)
        assert beat.tick() == 1
    warnings = [r.getMessage() for r in caplog.records if "beat_scheduler" in r.getMessage()]
    assert len(warnings) == 1 and "DatabaseScheduler" in warnings[0]


def test_a_bad_entry_is_logged_and_skipped_while_the_others_run(
    app: Celery, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    app.conf.beat_schedule = {
        "good": {"task": "good", "schedule": 60},
        "no schedule": {"task": "x", "schedule": "soon"},
        "bad name": {"task": "a:b", "schedule": 60},
        "not a dict": ["task", 60],
        "bad option": {"task": "y", "schedule": 60, "options": {"countdown": 5, "eta": datetime(2030, 1, 1)}},
    }
    with caplog.at_level(logging.WARNING, logger="celery_shim.beat"):
        assert Beat(app, clock=clock).tick() == 3
    for key in ("no schedule", "bad name", "not a dict", "bad option"):
        assert f"beat entry {key!r} is skipped" in caplog.text


def test_refresh_must_be_shorter_than_the_horizon(app: Celery) -> None:
    with pytest.raises(ImproperlyConfigured, match="refresh < horizon"):
        Beat(app, horizon=60, refresh=60)


def test_redis_down_is_logged_and_the_next_pass_goes_on(clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    app = Celery("proj", broker="redis://127.0.0.1:1/0", set_as_current=False)
    app.conf.beat_schedule = {"tick": {"task": "tick", "schedule": 60}}
    beat = Beat(app, clock=clock)
    with pytest.raises(RedisUnavailableError, match="127.0.0.1:1"):
        beat.tick()
    with caplog.at_level(logging.WARNING, logger="celery_shim.beat"):
        assert beat.tick_logged() == 0
    assert "beat pass failed" in caplog.text


def test_start_writes_at_once_sends_the_beat_signals_and_keeps_passing(
    app: Celery, clock: ManualClock, redis_client: redis.Redis, namespace: str
) -> None:
    app.conf.beat_schedule = {"tick": {"task": "tick", "schedule": 60}}
    sent: list[tuple[str, object]] = []

    def record(signal: object, sender: object, **kwargs: object) -> None:
        sent.append((str(signal), sender))

    signals.beat_init.connect(record, weak=False)
    signals.beat_embedded_init.connect(record, weak=False)
    beat = Beat(app, clock=clock, refresh=0.05)
    try:
        beat.start()
        # start() returns after its first pass
        assert len(scheduled(redis_client, namespace)) == 3
        assert sent == [("<Signal: beat_init>", beat), ("<Signal: beat_embedded_init>", beat)]
        clock.advance(120)
        wait_until(lambda: len(scheduled(redis_client, namespace)) == 5, what="the next passes")
    finally:
        beat.stop()
        signals.beat_init.disconnect(record)
        signals.beat_embedded_init.disconnect(record)


def test_run_blocks_until_sigterm(redis_server: RedisServer, redis_client: redis.Redis, namespace: str) -> None:
    # Given a beat run in the foreground of its own process
    script = textwrap.dedent(
        f"""
        import sys
        from celery_shim import Celery, signals
        from celery_shim.beat import Beat

        app = Celery("proj", broker={redis_server.url!r}, gocraft_namespace={namespace!r})
        app.conf.beat_schedule = {{"tick": {{"task": "tick", "schedule": 1}}}}

        @signals.beat_init.connect
        def ready(sender, **kwargs):
            print("ready", flush=True)

        status = Beat(app).run()
        print("stopped", status, flush=True)
        """
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        # When its first pass is in Redis and it gets SIGTERM
        wait_until(lambda: len(scheduled(redis_client, namespace)) >= 200, what="the first pass")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # Then it stops cleanly
    assert proc.returncode == 0, err
    assert out.strip() == "stopped 0"
    members = [json.loads(m) for m in scheduled(redis_client, namespace)]
    assert all(m["id"].startswith("periodic:tick:* * * * * *:") for m in members)
