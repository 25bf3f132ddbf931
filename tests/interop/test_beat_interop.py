"""celery_shim's beat beside the real Go library: a Go pool given the specs the beat exports writes
the same members, so beat entries and Go periodic jobs de-duplicate.

Both Go libraries read the six-field specs (seconds first) the beat exports; the Go process runs
with TZ=UTC and the app's timezone is UTC, so the specs carry no ``CRON_TZ=`` prefix.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
import redis

from celery_shim import Celery
from celery_shim.beat import Beat
from celery_shim.schedules import crontab
from tests.interop.driver import GoDriver
from tests.redis_server import RedisServer
from work_compat import Keys, ManualClock, decode_job

pytestmark = pytest.mark.interop

ENTRIES = {
    "bi_minute": crontab(minute="*"),
    "bi_twenty": timedelta(seconds=20),
    "bi_two": crontab(minute="*/2"),
    "bi_list": crontab(minute="1,13,30-45,50-59/2"),
    "bi_weekdays": crontab(minute="*", day_of_week="mon-fri"),
    "bi_five_s": 5,
}


def window(r: redis.Redis, namespace: str, low: int, high: int) -> dict[bytes, int]:
    """Members of ``scheduled`` scored in (low, high): Go's requeuer may have moved earlier ones,
    and Go's horizon ends a fraction of a second after ours."""
    return {
        m: int(s)
        for m, s in r.zrange(Keys(namespace).scheduled(), 0, -1, withscores=True)
        if low < int(s) < high and decode_job(m).id.startswith("periodic:")
    }


def test_go_pool_given_the_beats_specs_writes_the_beats_members(
    go_driver: GoDriver,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    namespace: str,
    procs: list[subprocess.Popen[str]],
) -> None:
    # Given a beat schedule in UTC, and the gocraft specs the beat exports for it
    app = Celery("proj", broker=redis_server.url, gocraft_namespace=namespace + "py", set_as_current=False)
    app.conf.beat_schedule = {name: {"task": name, "schedule": s} for name, s in ENTRIES.items()}
    specs = {e.task: e.spec for e in Beat(app).entries()}
    assert all(e.go_form for e in Beat(app).entries())
    assert specs["bi_list"] == "0 1,13,30-45,50,52,54,56,58 * * * *"
    assert specs["bi_twenty"] == "*/20 * * * * *"
    # When a Go pool registers those specs and runs its periodic enqueuer once
    flags = {"expect": "0", "hold_seconds": "0.2", "periodic": ",".join(f"{s}={n}" for n, s in specs.items())}
    procs.append(go_driver.start_work(namespace, list(specs), env={"TZ": "UTC"}, **flags))
    _, stderr = procs[0].communicate(timeout=60)
    assert procs[0].returncode == 0, stderr
    now = int(redis_client.get(Keys(namespace).last_periodic_enqueue()) or 0)
    go_members = window(redis_client, namespace, now + 5, now + 235)
    assert {"bi_minute", "bi_twenty", "bi_five_s"} <= {decode_job(m).name for m in go_members}
    assert len(go_members) >= 3 + 10 + 44  # each minute, every 20 s, every 5 s, over (now+5, now+235)
    # And a beat passes at the same second, in its own namespace and then in Go's
    clock = ManualClock(now)
    Beat(app, clock=clock).tick()
    app.conf.gocraft_namespace = namespace
    before = window(redis_client, namespace, 0, now + 1000)
    Beat(app, clock=clock).tick()
    app.close()
    # Then the beat wrote Go's bytes with Go's scores ...
    assert window(redis_client, namespace + "py", now + 5, now + 235) == go_members
    # ... so in Go's namespace it added nothing but firings of the first seconds, which Go's
    # requeuer may already have moved to their queues (a beat with a later clock would not)
    added = set(window(redis_client, namespace, 0, now + 1000)) - set(before)
    assert all(now < int(decode_job(m).id.rsplit(":", 1)[1]) <= now + 5 for m in added), added
