"""Every other page in a real browser: live overview, queues, Go and Python workers with check-ins,
history search, schedules, the enqueue form, Redis info, read-only mode, Redis down, narrow screens."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import redis
from playwright.sync_api import Page, expect
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.interop.driver import GoDriver
from tests.redis_server import RedisServer
from tests.webui import browser as browser_helpers
from tests.webui.browser import (  # noqa: F401 (fixtures)
    ServeFn,
    assert_not_reloaded,
    browser,
    confirm,
    go_driver,
    mark_document,
    page,
    row,
    serve,
    toast,
)
from webui.handlers.pages import PAGES
from work_compat import Enqueuer, HistoryJob, Job, PeriodicSchedule, WorkerPool
from work_compat.embedded import free_port

ODD_ID = "periodic:report:0 */5 * * * *:1700000000"  # spaces, a slash, colons


def test_overview_refreshes_live_and_draws_its_charts(
    page: Page, serve: ServeFn, go_driver: GoDriver, redis_server: RedisServer, namespace: str
) -> None:
    # Given queued jobs from Go and Python, and an hour of history (as the fork's pools write it)
    go_driver.enqueue(namespace, [{"call": "Enqueue", "job_name": "go_mail", "args": {"n": n}} for n in range(3)])
    live = serve()
    live.enqueuer.enqueue("py_resize", {"path": "/a.png"})
    now = int(time.time())
    r = redis_server.client()
    for n in range(30):
        status = "dead" if n % 10 == 0 else "retry" if n % 5 == 0 else "success"
        entry = HistoryJob(now - n * 90, status, Job(name="go_mail", id=f"h{n}", enqueued_at=now - n * 90, args={}))
        r.zadd(live.client.keys.history(), {entry.to_json(): now - n * 90})
    r.close()

    page.goto(live.url("/"))
    mark_document(page)
    expect(page.locator('[data-stat="queued"]')).to_have_text("4")
    expect(page.locator('[data-stat="queues-note"]')).to_have_text("2 queues")
    expect(page.locator('[data-stat="history"]')).to_have_text("30")
    # the charts are drawn from the history: one green bar per busy minute, failures stacked
    expect(page.locator("#chart-throughput rect.bar-success").first).to_be_visible()
    expect(page.locator("#throughput-note")).to_have_text("24 in the hour")
    expect(page.locator("#failures-note")).to_have_text("6 in the hour")
    assert page.locator("#chart-failures rect.bar-dead").count() == 3
    expect(page.locator("#chart-queues text.hbar-label", has_text="go_mail")).to_be_visible()

    # When jobs are enqueued elsewhere, the count changes in place, without a reload
    for n in range(5):
        live.enqueuer.enqueue("py_resize", {"n": n})
    expect(page.locator('[data-stat="queued"]')).to_have_text("9")
    expect(page.locator("#chart-live path.line")).to_have_count(1)
    assert_not_reloaded(page)


def test_queues_pause_resume_and_limit(page: Page, serve: ServeFn, go_driver: GoDriver, namespace: str) -> None:
    go_driver.enqueue(namespace, [{"call": "Enqueue", "job_name": "go_mail", "args": {"n": n}} for n in range(2)])
    live = serve()
    live.enqueuer.enqueue("py/resize", {"path": "/a.png"})  # a slash in the name travels as %2F
    page.goto(live.url("/queues"))
    mail = page.locator('#queues-table tr[data-name="go_mail"]')
    resize = page.locator('#queues-table tr[data-name="py/resize"]')
    expect(mail.locator("td").nth(1)).to_have_text("2")
    expect(resize.locator(".badge")).to_have_text("active")

    resize.get_by_role("button", name="Pause").click()
    confirm(page, "Pause py/resize?")  # every action is confirmed, pause and resume too
    toast(page, "Queue py/resize paused")
    expect(resize.locator(".badge")).to_have_text("paused")
    assert live.client.is_paused("py/resize")
    resize.get_by_role("button", name="Resume").click()
    confirm(page, "Resume py/resize?")
    expect(resize.locator(".badge")).to_have_text("active")
    assert not live.client.is_paused("py/resize")

    mail.get_by_role("button", name="Limit…").click()
    page.locator("#confirm-input").fill("3")
    confirm(page, "Max concurrency of go_mail")
    expect(mail.locator("td").nth(4)).to_have_text("3")
    assert live.client.max_concurrency("go_mail") == 3
    # a negative limit is refused by the form itself; cancelling leaves the limit as it was
    mail.get_by_role("button", name="Limit…").click()
    page.locator("#confirm-input").fill("-2")
    page.locator("#confirm-ok").click()
    assert page.locator("#confirm-input").evaluate("input => !input.checkValidity()")
    confirm(page, "Max concurrency of go_mail", accept=False)
    assert live.client.max_concurrency("go_mail") == 3


@pytest.fixture
def busy_python_pool(redis_server: RedisServer, namespace: str) -> Iterator[WorkerPool]:
    """A Python pool whose one job checked in and waits until the test ends."""
    release = threading.Event()

    def slow(job: Job) -> None:
        job.checkin("resizing 3 of 12")
        release.wait(60)

    Enqueuer(namespace, redis_server.url).enqueue("py_resize", {"path": "<b>photo</b>.png"})
    pool = WorkerPool(2, namespace, redis_server.url).job("py_resize", slow)
    pool.start()
    try:
        yield pool
    finally:
        release.set()
        pool.stop()


def test_go_and_python_pools_and_their_busy_workers(
    page: Page, serve: ServeFn, go_driver: GoDriver, namespace: str, busy_python_pool: WorkerPool
) -> None:
    # Given a Go pool busy with a job that checked in, beside the busy Python pool
    go_driver.enqueue(namespace, [{"call": "Enqueue", "job_name": "go_report", "args": {"month": "2024-05"}}])
    proc = go_driver.start_work(
        namespace, ["go_report"], expect="1", timeout="40", sleep_ms="go_report=20000", checkin="go_report=half way"
    )
    try:
        live = serve()
        page.goto(live.url("/pools"))
        expect(page.locator("#pools-table tbody tr")).to_have_count(2)
        expect(page.locator("#busy-table tbody tr")).to_have_count(2)
        python = page.locator(f'#pools-table tr[data-pool="{busy_python_pool.pool_id}"]')
        expect(python.locator(".badge")).to_have_text("online")
        expect(python.locator("td").nth(4)).to_have_text("1 / 2")
        go_busy = page.locator("#busy-table tbody tr", has_text="go_report")
        expect(go_busy.locator(".checkin-text")).to_have_text("half way")
        expect(go_busy.locator("pre.json")).to_have_text('{"month": "2024-05"}')
        py_busy = page.locator("#busy-table tbody tr", has_text="py_resize")
        expect(py_busy.locator(".checkin-text")).to_have_text("resizing 3 of 12")
        expect(py_busy.locator("pre.json")).to_have_text('{"path": "<b>photo</b>.png"}')
        expect(py_busy.locator("td").nth(1)).to_have_text(busy_python_pool.pool_id)
        assert page.locator("#busy-table b").count() == 0
        # the overview lists both pools live
        page.goto(live.url("/"))
        expect(page.locator("#pools-table tbody tr")).to_have_count(2)
        expect(page.locator('[data-stat="busy"]')).to_have_text("2")
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def test_history_search_by_id_and_filter_by_name(
    page: Page, serve: ServeFn, redis_server: RedisServer, namespace: str
) -> None:
    # Given a Python pool that ran jobs of two names, one with a periodic id
    enq = Enqueuer(namespace, redis_server.url)
    enq.enqueue_job(Job(name="report", id=ODD_ID, enqueued_at=0, args={"kind": "daily"}))
    for n in range(3):
        enq.enqueue("mail", {"n": n})
    enq.close()
    pool = WorkerPool(2, namespace, redis_server.url).job("report", lambda job: None).job("mail", lambda job: None)
    pool.start()
    try:
        assert pool.drain(timeout=30)
    finally:
        pool.stop()
    live = serve(url_prefix="/ui")
    page.goto(live.url("/history"))
    expect(page.locator("#count-line")).to_have_text("4 attempts")
    mark_document(page)

    # When the periodic id is searched for
    page.locator("#search-id").fill(ODD_ID)
    page.locator("#search-form").get_by_role("button", name="Find").click()
    detail = page.locator("#detail")
    expect(detail.locator("h2")).to_have_text(f"Job {ODD_ID}")
    expect(detail).to_contain_text("success")
    expect(detail.locator("pre.json")).to_have_text('{"kind": "daily"}')
    address = urlsplit(page.url)  # the search is in the address, to bookmark or share
    assert (address.path, parse_qs(address.query)) == ("/ui/history", {"id": [ODD_ID]})
    # an id no job has, and an empty one, say so
    page.locator("#search-id").fill("no-such-id")
    page.locator("#search-form").get_by_role("button", name="Find").click()
    expect(detail.locator("h2")).to_have_text("No history for this id")
    page.locator("#search-id").fill("")
    page.locator("#search-form").get_by_role("button", name="Find").click()
    expect(detail).to_contain_text("Type a job id")

    # When the list is filtered by name
    page.locator("#filter-name").fill("mail")
    page.locator("#filter-form").get_by_role("button", name="Filter").click()
    expect(page.locator("#count-line")).to_have_text("3 attempts of mail")
    expect(page.locator("#history-table tbody tr")).to_have_count(3)
    page.locator("#filter-clear").click()
    expect(page.locator("#count-line")).to_have_text("4 attempts")
    # a history row's id opens its detail
    page.locator("#history-table tbody tr", has_text="report").locator("a.id").click()
    expect(detail.locator("h2")).to_have_text(f"Job {ODD_ID}")
    assert_not_reloaded(page)

    # Opened from a link, the search runs at once
    page.goto(live.url("/history?id=" + quote(ODD_ID, safe="")))
    expect(page.locator("#detail h2")).to_have_text(f"Job {ODD_ID}")


def test_schedules_add_refuse_toggle_delete(page: Page, serve: ServeFn) -> None:
    live = serve()
    page.goto(live.url("/schedules"))
    expect(page.locator("#schedules-empty")).to_be_visible()

    # An impossible spec is refused with the reason, live and on submit
    page.locator("#s-name").fill("nightly / report")
    page.locator("#s-job").fill("report")
    page.locator("#s-spec").fill("0 0 0 30 2 *")
    expect(page.locator("#spec-preview")).to_have_text(
        "invalid cron spec '0 0 0 30 2 *': day-of-month: never fires: February has no day 30"
    )
    page.get_by_role("button", name="Add schedule").click()
    expect(page.locator("#schedule-error")).to_contain_text("Refused: invalid cron spec '0 0 0 30 2 *': day-of-month")
    assert live.client.periodic_schedules() == []

    # A valid one is added, with its next run times
    page.locator("#s-spec").fill("0 30 2 * * *")
    expect(page.locator("#spec-preview")).to_contain_text("Next runs:")
    page.locator("#s-args").fill('{"kind": "daily"}')
    page.get_by_role("button", name="Add schedule").click()
    toast(page, "Schedule nightly / report saved.")
    sched = page.locator("#schedules-table tbody tr").first
    expect(sched.locator("td").first).to_have_text("nightly / report")
    expect(sched.locator(".runs li")).to_have_count(3)
    expect(sched.locator(".runs li").first).to_contain_text(":30:00")
    (stored,) = live.client.periodic_schedules()
    assert (stored.name, stored.job_name, stored.spec, stored.args, stored.enabled) == (
        "nightly / report",
        "report",
        "0 30 2 * * *",
        {"kind": "daily"},
        True,
    )

    # Disable, enable (the name holds a slash and spaces), delete behind a confirmation
    sched.get_by_role("button", name="Disable").click()
    expect(sched.locator(".badge")).to_have_text("disabled")
    assert not live.client.periodic_schedules()[0].enabled
    sched.get_by_role("button", name="Enable").click()
    expect(sched.locator(".badge")).to_have_text("enabled")
    sched.get_by_role("button", name="Delete").click()
    confirm(page, "Delete schedule nightly / report?")
    expect(page.locator("#schedules-empty")).to_be_visible()
    assert live.client.periodic_schedules() == []


def test_enqueue_from_the_form(page: Page, serve: ServeFn) -> None:
    live = serve()
    page.goto(live.url("/enqueue"))
    page.locator("#e-name").fill("send_email")
    page.locator("#e-args").fill("[1, 2]")
    page.get_by_role("button", name="Enqueue").click()
    expect(page.locator("#enqueue-error")).to_have_text(
        'Args must be a JSON object, such as {"address": "ada@example.com"}.'
    )
    page.locator("#e-args").fill('{"address": "ada@example.com", "html": "<i>hi</i>"}')
    page.locator(".retry-options summary").click()
    page.locator("#e-max").fill("4")
    page.locator("#e-strategy").select_option("linear")
    page.get_by_role("button", name="Enqueue").click()
    result = page.locator("#enqueue-result")
    expect(result.locator("h2")).to_contain_text("Enqueued")
    expect(result.locator("pre.json")).to_contain_text('"html": "<i>hi</i>"')
    assert page.locator("#enqueue-result i").count() == 0
    (queue,) = live.client.queues()
    assert (queue.job_name, queue.count) == ("send_email", 1)
    result.get_by_role("link", name="See the queues").click()
    expect(page.locator('#queues-table tr[data-name="send_email"] td').nth(1)).to_have_text("1")


def test_redis_page(page: Page, serve: ServeFn) -> None:
    live = serve()
    page.goto(live.url("/redis"))
    expect(page.locator('[data-info="version"]')).to_have_text(live.client.redis_info().version)
    expect(page.locator("#redis-table tbody tr")).to_have_count(11)


def test_read_only_mode_hides_every_action(page: Page, serve: ServeFn, redis_server: RedisServer) -> None:
    live = serve(read_only=True)
    live.enqueuer.enqueue("mail", {})
    r = redis_server.client()
    r.zadd(live.client.keys.dead(), {Job(name="mail", id="d1", enqueued_at=1, args={}).to_bytes(): 1_700_000_000})
    r.close()
    live.client.add_periodic_schedule(PeriodicSchedule(name="s", job_name="mail", spec="@hourly"))
    for path in ("/queues", "/dead", "/schedules"):
        page.goto(live.url(path))
        expect(page.locator("main table tbody tr")).to_have_count(1)
        expect(page.locator("main button")).to_have_count(0)
        expect(page.locator("main form")).to_have_count(0)
    page.goto(live.url("/enqueue"))
    expect(page.locator("main")).to_contain_text("jobs cannot be enqueued from here")
    # and the API refuses what a crafted request would try
    status = page.evaluate("fetch('/api/delete_all_dead_jobs', {method: 'POST'}).then(r => r.status)")
    assert status == 403 and live.client.dead_count() == 1


def test_redis_down_is_a_clear_message_on_every_page(page: Page, serve: ServeFn) -> None:
    nowhere = redis.Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0))
    live = serve(target=nowhere)
    for p in PAGES:
        page.goto(live.url(p.path))
        expect(page.locator("#banner")).to_contain_text("Redis is unreachable: cannot reach Redis at 127.0.0.1:")
        assert "Traceback" not in page.content()


def test_narrow_screens_scroll_nothing_sideways(page: Page, serve: ServeFn, redis_server: RedisServer) -> None:
    live = serve()
    r = redis_server.client()
    long_job = Job(
        name="a_rather_long_job_name", id=ODD_ID, enqueued_at=1, args={"text": "x" * 300}, last_err="e" * 200
    )
    r.zadd(live.client.keys.dead(), {long_job.to_bytes(): 1_700_000_000})
    r.close()
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/", "/dead", "/queues", "/pools", "/history", "/schedules", "/enqueue", "/redis"):
        page.goto(live.url(path))
        expect(page.locator("#updated")).not_to_be_empty()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 390px"


def test_a_missing_chromium_fails_the_browser_tests_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_helpers, "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y chromium"):
        browser_helpers.chromium_path()
