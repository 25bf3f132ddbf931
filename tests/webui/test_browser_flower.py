"""Flower's pages in a real browser: the tasks table filtered by state, a task's page with its
actions (revoke, retry now), and a worker pool's page with a busy job's check-in; jobs made by the
Go library and by Python pools (and a Celery result stored as celery_shim stores it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from celery_shim.backends.redis import RedisBackend
from tests.interop.driver import GoDriver
from tests.redis_server import RedisServer
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
from tests.webui.test_browser_jobs import PERIODIC_ID, SCRIPT, go_dead_jobs, kill, run_python_pool
from work_compat import Enqueuer, Job, WorkerPool, connect

PREFIX = "/flower"


def task_url(prefix_url: str, job_id: str) -> str:
    return f"{prefix_url}/task/{quote(job_id, safe='')}"


def test_tasks_filtered_by_state_a_task_page_revoke_and_retry_now(
    page: Page, serve: ServeFn, go_driver: GoDriver, redis_server: RedisServer, namespace: str
) -> None:
    # Given a job killed by a Go pool, one scheduled by Go, one killed by a Python pool (a periodic
    # id, markup in its args), one finished by a Python pool, and a stored Celery result
    go_dead_jobs(go_driver, namespace, "go_charge", 1)
    later = {"call": "EnqueueIn", "job_name": "go_later", "args": {"n": 1}, "seconds_from_now": 600}
    go_driver.enqueue(namespace, [later])
    enq = Enqueuer(namespace, redis_server.url)
    enq.enqueue_job(Job(name="py_charge", id=PERIODIC_ID, enqueued_at=0, args={"order": "A-1", "note": SCRIPT}))
    ok_id = enq.enqueue("py_ok", {"n": 7}).id
    enq.close()
    run_python_pool(redis_server.url, namespace, "py_charge", kill)
    run_python_pool(redis_server.url, namespace, "py_ok", lambda job: None)
    conn = connect(redis_server.client())
    RedisBackend(conn).store_result(ok_id, {"total": 42}, "SUCCESS")  # as a celery_shim task's return
    conn.close()
    live = serve(url_prefix=PREFIX, result_backend=redis_server.url)
    client = live.client
    go_dead_id = next(d.job.id for d in client.dead_jobs()[0] if d.job.name == "go_charge")
    scheduled_id = client.scheduled_jobs()[0][0].job.id

    # When the tasks page opens from the nav (under the prefix)
    page.goto(live.url("/"))
    page.get_by_role("navigation").get_by_role("link", name="Tasks").click()
    expect(page).to_have_url(live.url("/tasks"))
    rows = page.locator("#tasks-table tbody tr")
    expect(rows).to_have_count(4)
    expect(row(page, "#tasks-table", ok_id).locator(".badge")).to_have_text("SUCCESS")
    expect(row(page, "#tasks-table", ok_id).locator("td").nth(5)).to_contain_text('{"total": 42}')
    expect(row(page, "#tasks-table", scheduled_id).locator(".badge")).to_have_text("PENDING")
    # Then markup in args is shown as text, never run
    kwargs_cell = row(page, "#tasks-table", PERIODIC_ID).locator("td").nth(4)
    expect(kwargs_cell).to_contain_text("<script>window.__pwned = 1</script>")
    assert page.locator("#tasks-table script, #tasks-table img").count() == 0
    assert page.evaluate("window.__pwned") is None

    # When filtered by state FAILURE
    page.locator("#f-state").select_option("FAILURE")
    expect(page).to_have_url(live.url("/tasks?state=FAILURE"))
    expect(rows).to_have_count(2)
    for state in rows.evaluate_all("rs => rs.map(r => r.dataset.state)"):
        assert state == "FAILURE"
    expect(page.locator("#count-line")).to_have_text("2 tasks")
    # and searched by free text (Flower's search box), then by name
    page.locator("#f-search").fill("go_charge")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(1)
    expect(row(page, "#tasks-table", go_dead_id)).to_have_count(1)
    page.locator("#tasks-clear").click()
    expect(rows).to_have_count(4)
    page.goto(live.url("/tasks?state=FAILURE"))
    expect(rows).to_have_count(2)

    # When the Python task with the periodic id is opened
    row(page, "#tasks-table", PERIODIC_ID).get_by_role("link", name=PERIODIC_ID).click()
    expect(page).to_have_url(task_url(live.url(""), PERIODIC_ID))
    expect(page.locator("#task-state .badge")).to_have_text("FAILURE")
    field = lambda name: page.locator(f'#task-table tr[data-field="{name}"] td')  # noqa: E731
    expect(field("UUID")).to_have_text(PERIODIC_ID)
    expect(field("Exception")).to_have_text("the card was declined")
    expect(field("Where in gocraft")).to_contain_text("in the dead set")
    expect(field("Kwargs")).to_contain_text('"note": "<script>window.__pwned = 1</script>')
    expect(field("Retries")).to_have_text("1")
    assert page.evaluate("window.__pwned") is None
    mark_document(page)

    # Then "Retry now" (behind its confirmation) puts it back on its queue, and the page follows
    page.get_by_role("button", name="Retry now").click()
    confirm(page, "Retry this job now?")
    toast(page, f"Retried py_charge {PERIODIC_ID}")
    # (its state stays the history's verdict, FAILURE, as AsyncResult.state says: spec D5)
    expect(field("Where in gocraft")).to_contain_text("queued")
    expect(page.get_by_role("button", name="Retry now")).to_have_count(0)
    assert {q.job_name: q.count for q in client.queues()}.get("py_charge") == 1
    assert_not_reloaded(page)

    # When the scheduled Go task is revoked (cancelled first, then confirmed)
    page.goto(task_url(live.url(""), scheduled_id))
    expect(page.locator("#task-state .badge")).to_have_text("PENDING")
    expect(field("Name")).to_have_text("go_later")
    expect(field("Where in gocraft")).to_contain_text("in the scheduled set")
    page.get_by_role("button", name="Revoke").click()
    confirm(page, "Revoke this task?", accept=False)
    assert client.scheduled_count() == 1
    page.get_by_role("button", name="Revoke").click()
    confirm(page, "Revoke this task?")
    # Then it becomes REVOKED and leaves the scheduled set; no action is left to offer
    expect(page.locator("#task-state .badge")).to_have_text("REVOKED")
    expect(page.locator("#task-actions-panel")).to_be_hidden()
    assert client.scheduled_count() == 0

    # A stored Celery result shows its value
    page.goto(task_url(live.url(""), ok_id))
    expect(page.locator("#task-state .badge")).to_have_text("SUCCESS")
    expect(field("Result")).to_contain_text('{"total": 42}')

    # An unknown id is a page that says so
    page.goto(task_url(live.url(""), "periodic:nobody:@every 1s:1"))
    expect(page.locator(".problem")).to_contain_text("No task with id “periodic:nobody:@every 1s:1”")


@pytest.fixture
def busy_pools(go_driver: GoDriver, redis_server: RedisServer, namespace: str) -> Iterator[None]:
    """A Go pool and a Python pool, each with one busy worker that checked in."""
    go_driver.enqueue(namespace, [{"call": "Enqueue", "job_name": "go_report", "args": {"month": "2024-05"}}])
    proc = go_driver.start_work(
        namespace, ["go_report"], expect="1", timeout="90", concurrency="3",
        sleep_ms="go_report=60000", checkin="go_report=rendering page 3 of 12",
    )
    release = threading.Event()

    def transcode(job: Job) -> None:
        job.checkin("encoded 40%")
        release.wait(90)

    enq = Enqueuer(namespace, redis_server.url)
    enq.enqueue("transcode", {"video": "v-2291", "*args": ["1080p"]})
    enq.close()
    pool = WorkerPool(2, namespace, redis_server.url).job("transcode", transcode).job("thumbnail", transcode)
    pool.start()
    try:
        yield
    finally:
        release.set()
        pool.stop()
        proc.kill()
        proc.communicate(timeout=30)


def test_worker_pages_show_heartbeat_job_names_and_busy_check_ins(
    page: Page, serve: ServeFn, busy_pools: None, namespace: str
) -> None:
    live = serve()
    client = live.client

    # When the workers page opens under Flower's name, and a pool is followed to its page
    page.goto(live.url("/workers"))
    expect(page).to_have_url(live.url("/pools"))
    expect(page.locator("#busy-table tbody tr")).to_have_count(2)
    python_pool = next(p for p in client.worker_pool_heartbeats() if "transcode" in (p.job_names or []))
    go_pool = next(p for p in client.worker_pool_heartbeats() if "go_report" in (p.job_names or []))
    page.locator("#pools-table").get_by_role("link", name=python_pool.worker_pool_id).click()
    expect(page).to_have_url(live.url(f"/worker/{python_pool.worker_pool_id}"))

    # Then its heartbeat, job names and the busy job's check-in show
    field = lambda name: page.locator(f'#worker-table tr[data-field="{name}"] td')  # noqa: E731
    expect(page.locator("#worker-state .badge")).to_have_text("online")
    expect(field("Host")).to_have_text(python_pool.host)
    expect(field("PID")).to_have_text(str(python_pool.pid))
    expect(field("Concurrency")).to_have_text("2")
    expect(page.locator("#names-table tbody tr")).to_have_count(2)
    busy = page.locator("#active-table tbody tr")
    expect(busy).to_have_count(1)
    expect(busy.locator("td.checkin")).to_have_text("encoded 40%")
    expect(busy.locator("td").nth(2)).to_contain_text('["1080p"]')
    expect(busy.locator("td").nth(3)).to_contain_text('{"video": "v-2291"}')

    # When a job name is paused from here (behind a confirmation)
    name_row = page.locator('#names-table tbody tr[data-name="thumbnail"]')
    name_row.get_by_role("button", name="Pause").click()
    confirm(page, "Pause thumbnail?")
    expect(name_row.locator(".badge")).to_have_text("paused")
    assert client.is_paused("thumbnail")
    name_row.get_by_role("button", name="Resume").click()
    confirm(page, "Resume thumbnail?")
    expect(name_row.locator(".badge")).to_have_text("active")
    assert not client.is_paused("thumbnail")

    # The busy job's id leads to its task page, which says where it runs
    busy.get_by_role("link").click()
    expect(page.locator("#task-state .badge")).to_have_text("STARTED")
    expect(page.locator('#task-table tr[data-field="Worker"] a')).to_have_text(python_pool.worker_pool_id)

    # And the Go pool's page, reached from the overview, shows its busy job's check-in
    page.goto(live.url("/"))
    page.locator("#pools-table").get_by_role("link", name=go_pool.worker_pool_id).click()
    expect(page.locator("#active-table tbody tr td.checkin")).to_have_text("rendering page 3 of 12")
    expect(page.locator('#names-table tbody tr[data-name="go_report"]')).to_have_count(1)

    # A pool that is not beating is a page that says so
    page.goto(live.url("/worker/gone-pool"))
    expect(page.locator(".problem")).to_contain_text("No worker pool with id “gone-pool”")
