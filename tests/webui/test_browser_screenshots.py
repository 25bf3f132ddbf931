"""Screenshots of the main pages over a realistic namespace (README's docs/screenshots/*.png).

The data is made the way production makes it: Go's library enqueues, fails and runs jobs, a Python
pool does too, one busy worker of each checks in. Only the last hour of history is written directly,
in the fork's format, because an hour cannot pass in a test. Run with
``WEBUI_SCREENSHOTS=docs/screenshots`` to refresh the README's images; otherwise they go to a
temporary directory and the test checks they were taken.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.interop.driver import GoDriver
from tests.redis_server import RedisServer
from tests.webui.browser import (  # noqa: F401 (fixtures)
    LiveServer,
    ServeFn,
    browser,
    go_driver,
    page,
    screenshot_dir,
    serve,
)
from work_compat import DeadNow, Enqueuer, HistoryJob, Job, PeriodicSchedule, WorkerPool, make_identifier

PAGES = ("overview", "queues", "pools", "dead", "history", "schedules", "retry", "enqueue", "tasks", "task")
IMPORT_ID = "periodic:import_csv:0 */15 * * * *:1716800400"


@pytest.fixture
def namespace() -> str:
    """A readable namespace for the pictures (this session's Redis is private; no other test uses it)."""
    return "shop"


def seed_go(go: GoDriver, ns: str) -> None:
    def now(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"call": "Enqueue", "job_name": name, "args": args}

    calls = [now("send_email", {"address": f"user{n}@example.com", "template": "welcome"}) for n in range(14)]
    calls += [now("resize_image", {"path": f"/uploads/{n}.jpg", "width": 640}) for n in range(6)]
    calls += [now("sync_crm", {"account": n}) for n in range(3)]
    calls += [now("charge_card", {"order": f"A-10{n:02d}", "amount": 19.9}) for n in range(3)]
    calls += [now("sync_inventory", {"warehouse": w}) for w in ("north", "south")]
    later = {"call": "EnqueueIn", "job_name": "send_reminder"}
    calls += [later | {"args": {"user_id": str(40 + n)}, "seconds_from_now": 600 * n} for n in range(1, 4)]
    assert all(r["error"] == "" for r in go.enqueue(ns, calls))
    out = go.work(
        ns,
        ["charge_card", "sync_inventory"],
        expect=5,
        fail="charge_card,sync_inventory",
        maxfails="charge_card=1,sync_inventory=5",
    )
    assert not out["timed_out"]


def seed_python(url: str, ns: str) -> None:
    enq = Enqueuer(ns, url)
    for n in range(4):
        enq.enqueue("generate_invoice", {"customer": f"C-{700 + n}", "period": "2024-05"})
    enq.enqueue_in("weekly_digest", 86400, {"list": "customers"})
    enq.enqueue_job(
        Job(name="import_csv", id=IMPORT_ID, enqueued_at=0,
            args={"file": "s3://exports/2024-05/orders.csv"})
    )
    enq.enqueue("import_csv", {"file": "s3://exports/2024-05/returns.csv"})
    enq.close()

    def import_csv(job: Job) -> None:
        raise DeadNow("row 118: column 'sku' is empty")

    pool = WorkerPool(2, ns, url).job("import_csv", import_csv)
    pool.start()
    try:
        assert pool.drain(timeout=30)
    finally:
        pool.stop()


def seed_history(live: LiveServer, redis_server: RedisServer) -> None:
    """An hour of attempts in the fork's history format: a daily rhythm, a short incident."""
    rnd = random.Random(7)
    now = int(time.time())
    r = redis_server.client()
    pipe = r.pipeline(transaction=False)
    keys = live.client.keys
    for minute in range(60):
        rate = 18 + 10 * math.sin(minute / 9) + rnd.randint(0, 6)
        for _ in range(int(rate)):
            t = now - minute * 60 - rnd.randint(0, 59)
            name = rnd.choice(["send_email"] * 5 + ["resize_image"] * 3 + ["charge_card", "sync_crm"])
            incident = 22 <= minute <= 27 and name == "charge_card"
            status = "retry" if incident or rnd.random() < 0.03 else "dead" if rnd.random() < 0.01 else "success"
            job = Job(name=name, id=make_identifier(), enqueued_at=t - rnd.randint(0, 3), args={"n": minute})
            if status != "success":
                job.fails, job.last_err, job.failed_at = 1, "upstream returned 503", t
            entry = HistoryJob(t, status, job).to_json()
            pipe.zadd(keys.history(), {entry: t})
            pipe.zadd(keys.history_for(name), {entry: t})
            pipe.hset(keys.history_index(), job.id, entry)
    pipe.execute()
    r.close()


@pytest.fixture
def busy_workers(go_driver: GoDriver, redis_server: RedisServer, namespace: str) -> Iterator[None]:
    """A Go pool and a Python pool, each with a busy worker that checked in."""
    go_driver.enqueue(namespace, [{"call": "Enqueue", "job_name": "generate_report", "args": {"month": "2024-05"}}])
    proc = go_driver.start_work(
        namespace,
        ["generate_report"],
        expect="1",
        timeout="90",
        concurrency="8",
        sleep_ms="generate_report=60000",
        checkin="generate_report=rendering page 3 of 12",
    )
    release = threading.Event()

    def transcode(job: Job) -> None:
        job.checkin("encoded 40%")
        release.wait(90)

    Enqueuer(namespace, redis_server.url).enqueue("transcode_video", {"video": "v-2291", "preset": "1080p"})
    pool = WorkerPool(4, namespace, redis_server.url).job("transcode_video", transcode)
    pool.start()
    try:
        yield
    finally:
        release.set()
        pool.stop()
        proc.kill()
        proc.communicate(timeout=30)


def test_screenshots_of_the_main_pages(
    page: Page,
    serve: ServeFn,
    go_driver: GoDriver,
    redis_server: RedisServer,
    namespace: str,
    busy_workers: None,
    tmp_path: Path,
) -> None:
    seed_go(go_driver, namespace)
    seed_python(redis_server.url, namespace)
    live = serve()
    seed_history(live, redis_server)
    client = live.client
    client.pause("sync_crm")
    client.set_max_concurrency("send_email", 5)
    client.add_periodic_schedule(
        PeriodicSchedule(name="nightly-report", job_name="generate_report", spec="0 0 2 * * *", args={"kind": "daily"})
    )
    client.add_periodic_schedule(PeriodicSchedule(name="poll-feeds", job_name="poll_feeds", spec="@every 1m"))
    client.add_periodic_schedule(
        PeriodicSchedule(name="berlin-digest", job_name="weekly_digest", spec="CRON_TZ=Europe/Berlin 0 0 8 * * 1")
    )
    client.add_periodic_schedule(
        PeriodicSchedule(name="hourly-sync", job_name="sync_crm", spec="0 0 * * * *", enabled=False)
    )
    out = screenshot_dir(tmp_path)

    # the overview, after the live chart has seen the queues grow for a while
    page.goto(live.url("/"))
    expect(page.locator("#pools-table tbody tr")).to_have_count(2)
    expect(page.locator("#chart-throughput rect.bar-success").first).to_be_visible()
    for step in range(8):
        for n in range(3 + step % 3):
            live.enqueuer.enqueue("send_email", {"address": f"late{step}-{n}@example.com"})
        queued = sum(q.count for q in client.queues())
        expect(page.locator('[data-stat="queued"]')).to_have_text(f"{queued:,}")
    expect(page.locator("#chart-live path.line")).to_have_count(1)
    page.screenshot(path=str(out / "overview.png"), full_page=True)

    checks = {
        "queues": ("#queues-table tbody tr", len(client.queues())),
        "pools": ("#busy-table tbody tr", 2),
        "dead": ("#jobs-table tbody tr", 5),
        "history": ("#history-table tbody tr", 20),
        "schedules": ("#schedules-table tbody tr", 4),
        "retry": ("#jobs-table tbody tr", 2),
    }
    for name, (rows, count) in checks.items():
        page.goto(live.url(f"/{name}"))
        expect(page.locator(rows)).to_have_count(count)
        expect(page.locator("#updated")).not_to_be_empty()
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    page.goto(live.url("/enqueue"))
    page.locator("#e-name").fill("send_email")
    page.locator("#e-args").fill('{\n  "address": "ada@example.com",\n  "template": "welcome"\n}')
    page.get_by_role("button", name="Enqueue").click()
    expect(page.locator("#enqueue-result h2")).to_contain_text("Enqueued")
    page.screenshot(path=str(out / "enqueue.png"), full_page=True)

    # Flower's tasks table and one failed task
    page.goto(live.url("/tasks?" + urlencode({"search": "state:FAILURE state:RETRY state:STARTED"})))
    expect(page.locator("#tasks-table tbody tr").first).to_be_visible()
    expect(page.locator("#updated")).not_to_be_empty()
    page.screenshot(path=str(out / "tasks.png"), full_page=True)
    page.goto(live.url("/task/" + quote(IMPORT_ID, safe="")))
    expect(page.locator("#task-state .badge")).to_have_text("FAILURE")
    page.screenshot(path=str(out / "task.png"), full_page=True)

    # and the dead jobs on a phone
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live.url("/dead"))
    expect(page.locator("#jobs-table tbody tr")).to_have_count(5)
    page.screenshot(path=str(out / "dead-narrow.png"), full_page=True)

    for name in (*PAGES, "dead-narrow"):
        data = (out / f"{name}.png").read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, name
