"""What operators used to Flower and Sidekiq expect, in a real browser: dead jobs latest first with
a switchable order, ids that lead to the task page, long text capped, "Run now", browsing and
purging a queue, bulk actions that show their progress, sortable columns, narrow screens."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from playwright.sync_api import Page, expect

from tests.redis_server import RedisServer
from tests.webui.browser import (  # noqa: F401 (fixtures)
    ServeFn,
    browser,
    confirm,
    css_string,
    page,
    row,
    serve,
    toast,
)
from tests.work_compat.conftest import wait_until
from work_compat import HistoryJob, Job, PeriodicSchedule, WorkerPool, decode_job

T0 = 1_700_000_000


def dead(name: str, i: int, err: str = "boom") -> Job:
    return Job(name=name, id=f"{name}-{i:06d}", enqueued_at=T0, args={"i": i}, fails=4, failed_at=T0 + i, last_err=err)


def fill_dead(redis_server: RedisServer, key: str, jobs: list[Job]) -> None:
    r = redis_server.client()
    pipe = r.pipeline(transaction=False)
    for start in range(0, len(jobs), 5000):
        pipe.zadd(key, {j.to_bytes(): T0 + int(j.args["i"]) for j in jobs[start : start + 5000]})  # type: ignore[index]
        pipe.execute()
    r.close()


def test_dead_jobs_latest_first_order_switch_links_and_long_text(
    page: Page, serve: ServeFn, redis_server: RedisServer
) -> None:
    live = serve()
    long_err = "Traceback: " + "x" * 3000
    jobs = [dead("charge", i) for i in range(25)] + [dead("charge", 25, long_err)]
    fill_dead(redis_server, live.client.keys.dead(), jobs)
    page.goto(live.url("/dead"))
    rows = page.locator("#jobs-table tbody tr")
    expect(rows).to_have_count(20)
    expect(rows.first).to_have_attribute("data-job-id", "charge-000025")  # the latest death first
    # a 3,000-character error is capped: the row stays short until asked
    err_cell = rows.first.locator("td.err")
    assert err_cell.bounding_box()["height"] < 160  # type: ignore[index]
    err_cell.get_by_role("button", name="show all 3,011 characters").click()
    expect(err_cell).to_contain_text("x" * 2900)
    err_cell.get_by_role("button", name="show less").click()
    # the order is switchable and kept in the address
    page.select_option("#jobs-order", "oldest")
    expect(rows.first).to_have_attribute("data-job-id", "charge-000000")
    assert "order=oldest" in page.url
    # page 2 of the oldest-first order holds the six latest
    page.locator("#pager-top a", has_text="2").click()
    expect(rows).to_have_count(6)
    expect(rows.first).to_have_attribute("data-job-id", "charge-000020")
    # every id leads to its task page
    rows.first.get_by_role("link", name="charge-000020").click()
    expect(page.locator("#task-state .badge")).to_have_text("FAILURE")


def test_run_now_sends_a_scheduled_job_to_its_queue(
    page: Page, serve: ServeFn, redis_server: RedisServer, namespace: str
) -> None:
    live = serve()
    ran = threading.Event()
    job = live.enqueuer.enqueue_in("py_later", 3600, {"n": 1}).job
    pool = WorkerPool(1, namespace, redis_server.url).job("py_later", lambda j: ran.set())
    pool.start()
    try:
        page.goto(live.url("/scheduled"))
        target = row(page, "#jobs-table", job.id)
        target.get_by_role("button", name="Run now").click()
        confirm(page, "Run this job now?")
        toast(page, "is due now")
        assert ran.wait(30), "the Python pool's requeuer did not queue the job made due"
    finally:
        pool.stop()
    expect(page.locator("#jobs-table tbody tr")).to_have_count(0)


def test_a_queue_can_be_browsed_next_to_run_first_and_purged(
    page: Page, serve: ServeFn, redis_server: RedisServer
) -> None:
    live = serve()
    for n in range(25):
        live.enqueuer.enqueue("py_mail", {"n": n})
    unique = live.enqueuer.enqueue_unique("py_mail", {"only": "once"})
    assert unique is not None
    long_name = "report_" + "z" * 5000
    live.enqueuer.enqueue(long_name, {})
    page.goto(live.url("/queues"))
    # a 5,000-character name does not make the table 40,000 px wide
    assert page.locator("#queues-table").bounding_box()["width"] < 1400  # type: ignore[index]
    page.locator('#queues-table tr[data-name="py_mail"] a', has_text="py_mail").first.click()
    expect(page.locator("#count-line")).to_contain_text("of 26 jobs waiting")
    rows = page.locator("#queue-table tbody tr")
    expect(rows.first.locator("td").first).to_have_text("1")
    next_to_run = live.client.connection.client.lindex(live.client.keys.jobs("py_mail"), -1)  # pools pop the tail
    assert next_to_run is not None
    expect(rows.first.locator("a.id")).to_have_text(decode_job(next_to_run).id)
    page.get_by_role("button", name="Purge…").click()
    confirm(page, "Purge py_mail?")
    toast(page, "Purged 26 jobs from py_mail")
    expect(page.locator("#queue-empty")).to_be_visible()
    assert live.client.connection.client.llen(live.client.keys.jobs("py_mail")) == 0
    # the unique job's lock went with it: the same unique job can be enqueued again
    assert live.enqueuer.enqueue_unique("py_mail", {"only": "once"}) is not None
    assert live.client.connection.client.llen(live.client.keys.jobs(long_name)) == 1  # other queues stay


def test_a_bulk_action_shows_progress_and_disables_its_buttons(
    page: Page, serve: ServeFn, redis_server: RedisServer
) -> None:
    live = serve()
    fill_dead(redis_server, live.client.keys.dead(), [dead("sync", i) for i in range(20_000)])
    live.client.connection.client.sadd(live.client.keys.known_jobs(), "sync")  # a pool knows the name
    page.goto(live.url("/dead"))
    expect(page.locator("#count-line")).to_contain_text("20,000")
    page.locator("#bulk-name").fill("sync")
    page.locator('#bulk-form button[data-bulk="retry"]').click()
    confirm(page, "Retry every dead job named sync?")
    progress = page.locator("#bulk-progress")
    expect(progress).to_be_visible()
    expect(progress).to_contain_text("Retrying every dead job named “sync”")
    for button in ("#retry-all", "#delete-all", '#bulk-form button[data-bulk="delete"]'):
        expect(page.locator(button)).to_be_disabled()
    expect(progress).to_contain_text("of 20,000 done", timeout=60_000)
    toast(page, "Retried 20,000 dead jobs named “sync”")
    expect(progress).to_be_hidden()
    expect(page.locator("#retry-all")).to_be_enabled()


def test_sortable_columns_on_the_tasks_and_queues_tables(page: Page, serve: ServeFn) -> None:
    live = serve()
    for name, n in (("b_mail", 3), ("a_sync", 1), ("c_report", 2)):
        for i in range(n):
            live.enqueuer.enqueue(name, {"i": i})
    page.goto(live.url("/queues"))
    names = page.locator("#queues-table tbody tr")
    expect(names).to_have_count(3)
    expect(names.first).to_have_attribute("data-name", "a_sync")
    page.locator("#queues-table th", has_text="Queued").get_by_role("button").click()
    expect(names.first).to_have_attribute("data-name", "a_sync")
    page.locator("#queues-table th", has_text="Queued").get_by_role("button").click()  # again: descending
    expect(names.first).to_have_attribute("data-name", "b_mail")
    expect(page.locator("#queues-table th", has_text="Queued")).to_have_attribute("aria-sort", "descending")

    page.goto(live.url("/tasks"))
    rows = page.locator("#tasks-table tbody tr")
    expect(rows).to_have_count(6)
    page.locator("#tasks-table th", has_text="Name").get_by_role("button").click()
    expect(rows.first.locator("td").first).to_have_text("a_sync")
    assert "sort=name" in page.url
    page.locator("#tasks-table th", has_text="Name").get_by_role("button").click()
    expect(rows.first.locator("td").first).to_have_text("c_report")
    assert "sort=-name" in page.url


def test_narrow_screens_keep_the_current_page_and_labels_in_view(page: Page, serve: ServeFn) -> None:
    live = serve()
    live.client.add_periodic_schedule(
        PeriodicSchedule(
            name="nightly-" + "reconciliation-" * 4 + "report", job_name="generate_report", spec="0 0 2 * * *"
        )
    )
    # a busy worker (as a Go pool writes its heartbeat and observation) with a long check-in
    now = int(time.time())
    r = live.client.connection.client
    keys = live.client.keys
    r.sadd(keys.worker_pools(), "pool-1")
    r.hset(
        keys.heartbeat("pool-1"),
        mapping={
            "heartbeat_at": now,
            "started_at": now - 60,
            "job_names": "generate_report",
            "concurrency": 1,
            "worker_ids": "w-1",
            "host": "vm",
            "pid": 7,
        },
    )
    r.hset(
        keys.worker_observation("w-1"),
        mapping={
            "job_name": "generate_report",
            "job_id": "j-1",
            "started_at": now - 5,
            "args": "{}",
            "checkin": "processed " + "rows-12000-of-90000-" * 4,
            "checkin_at": now,
        },
    )
    page.set_viewport_size({"width": 390, "height": 844})
    # nothing in a schedule's or a busy worker's row is cut off: names, next runs, check-ins wrap
    for path, table in (("/schedules", "#schedules-table"), ("/pools", "#busy-table")):
        page.goto(live.url(path))
        cells = page.locator(f"{table} tbody tr td")
        expect(cells.first).to_be_visible()
        clipped = cells.evaluate_all(
            "tds => tds.flatMap(td => [td, ...td.querySelectorAll('*')])"
            ".filter(n => n.scrollWidth > n.clientWidth + 1 && getComputedStyle(n).overflowX !== 'auto')"
            ".map(n => n.textContent.slice(0, 40))"
        )
        assert clipped == [], (path, clipped)
    for path in ("/dead", "/history", "/schedules"):
        page.goto(live.url(path))
        nav = page.locator(".nav").bounding_box()
        active = page.locator(".nav a.active").bounding_box()
        assert nav is not None and active is not None
        assert nav["x"] <= active["x"] and active["x"] + active["width"] <= nav["x"] + nav["width"] + 1, path
    page.goto(live.url("/tasks"))
    for field in ("f-state", "f-name", "f-search", "f-sort"):
        label = page.locator(f"label[for={css_string(field)}]").bounding_box()
        box = page.locator(f"#{field}").bounding_box()
        assert label is not None and box is not None
        # the label sits on its field's line, not at the end of the line above
        assert abs((label["y"] + label["height"] / 2) - (box["y"] + box["height"] / 2)) < box["height"], field


def test_the_live_chart_shows_the_queue_from_the_first_paint(page: Page, serve: ServeFn) -> None:
    live = serve()
    live.enqueuer.enqueue("mail", {})
    page.goto(live.url("/"))
    expect(page.locator("#chart-live svg path.line")).to_have_count(1)
    expect(page.locator("#chart-live")).not_to_contain_text("Collecting samples")


def test_finished_tasks_show_start_pool_and_runtime_where_the_pool_recorded_them(
    page: Page, serve: ServeFn, redis_server: RedisServer, namespace: str
) -> None:
    live = serve()
    py_job = live.enqueuer.enqueue("py_resize", {"path": "a.png"})
    pool = WorkerPool(1, namespace, redis_server.url).job("py_resize", lambda job: time.sleep(0.12))
    pool.start()
    try:
        assert pool.drain(30)
        r = redis_server.client()
        wait_until(lambda: r.zcard(live.client.keys.run_times()) == 1, what="the Python pool's run-time record")
        r.close()
    finally:
        pool.stop()
    # a job the fork's Go pool ran leaves its history entry and index, and nothing else (the proxy
    # here refuses LarnTechKe/work, so the entry is written as that pool writes it)
    now = int(time.time())
    go_entry = HistoryJob(now, "success", Job(name="go_mail", id="go-mail-1", enqueued_at=now - 2, args={"to": "ada"}))
    r = redis_server.client()
    r.zadd(live.client.keys.history(), {go_entry.to_json(): now})
    r.hset(live.client.keys.history_index(), go_entry.job.id, go_entry.to_json())
    r.close()

    def field(name: str) -> Any:
        return page.locator("#task-table tr", has=page.locator("th", has_text=name)).locator("td")

    page.goto(live.url(f"/task/{py_job.id}"))
    expect(page.locator("#task-state .badge")).to_have_text("SUCCESS")
    expect(field("Runtime")).to_have_text(re.compile(r"^(1[2-9]\d|[2-9]\d\d) ms$"))  # slept 120 ms
    expect(field("Worker")).to_have_text(pool.pool_id)
    expect(field("Started")).not_to_contain_text("not recorded")
    page.goto(live.url(f"/task/{go_entry.job.id}"))
    expect(page.locator("#task-state .badge")).to_have_text("SUCCESS")
    expect(field("Started")).to_have_text("not recorded (Go pools keep no start time or pool in the history)")
    expect(field("Worker")).to_contain_text("not recorded")
    expect(field("Runtime")).to_contain_text("whole seconds")
