"""Scheduled, retry and dead jobs in a real browser: jobs failed by the Go library and by Python
pools, odd ids, every action behind its confirmation, paging, and args shown as text."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

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
from work_compat import DeadNow, Enqueuer, Job, WorkerPool, make_identifier

PERIODIC_ID = "periodic:report:@every 10s:1700000000"
CRON_ID = "periodic:cleanup:0 */5 * * * *:1795821860"
UUID_ID = "0b0e4bd8-6f5e-4a2b-9c1c-3c7a1f5e2d10"
SCRIPT = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">"
PREFIX = "/work/ui"


def run_python_pool(url: str, ns: str, name: str, handler: Any) -> None:
    """A Python pool runs every queued ``name`` job once, then stops."""
    pool = WorkerPool(4, ns, url, sleep_backoffs=(0, 5, 10, 20, 50)).job(name, handler)
    pool.start()
    try:
        assert pool.drain(timeout=30), f"the Python pool did not drain the {name} queue"
    finally:
        pool.stop()


def kill(job: Job) -> None:
    raise DeadNow("the card was declined")


def fail(job: Job) -> None:
    raise RuntimeError("upstream timed out")


def python_dead_jobs(url: str, ns: str) -> None:
    """Three dead jobs with odd ids, killed by a Python pool; one carries markup in its args."""
    enq = Enqueuer(ns, url)
    for job_id in (PERIODIC_ID, CRON_ID, UUID_ID):
        enq.enqueue_job(Job(name="py_charge", id=job_id, enqueued_at=0, args={"order": "A-1", "note": SCRIPT}))
    enq.close()
    run_python_pool(url, ns, "py_charge", kill)


def go_dead_jobs(go: GoDriver, ns: str, name: str, count: int) -> None:
    go.enqueue(ns, [{"call": "Enqueue", "job_name": name, "args": {"n": n}} for n in range(count)])
    out = go.work(ns, [name], expect=count, fail=name, maxfails=f"{name}=1")
    assert not out["timed_out"]


def test_dead_jobs_retry_delete_bulk_and_retry_all(
    page: Page, serve: ServeFn, go_driver: GoDriver, redis_server: RedisServer, namespace: str
) -> None:
    # Given dead jobs from a Go pool and from a Python pool (with ids holding spaces, slashes, colons)
    go_dead_jobs(go_driver, namespace, "go_flaky", 2)
    python_dead_jobs(redis_server.url, namespace)
    live = serve(url_prefix=PREFIX)
    client = live.client
    assert client.dead_count() == 5

    # When the dead page opens (under the URL prefix)
    page.goto(live.url("/dead"))
    expect(page.locator("#count-line")).to_have_text("5 dead jobs")
    expect(page.locator('[data-nav-count="dead"]')).to_have_text("5")
    mark_document(page)

    # Then the markup in the args is shown as text, never run
    script_row = row(page, "#jobs-table", CRON_ID)
    expect(script_row.locator("pre.json")).to_contain_text('"note": "<script>window.__pwned = 1</script>')
    assert page.locator("#jobs-table script, #jobs-table img").count() == 0
    assert page.evaluate("window.__pwned") is None
    expect(script_row.locator("td.err")).to_have_text("the card was declined")

    # When the periodic job (its id holds spaces, a slash, colons) is retried, behind its confirmation
    script_row.get_by_role("button", name="Retry").click()
    confirm(page, "Retry this job?")
    toast(page, f"Retried py_charge {CRON_ID}")
    # Then it leaves the dead list and is back on its queue
    expect(script_row).to_have_count(0)
    expect(page.locator("#count-line")).to_have_text("4 dead jobs")
    queued = [q for q in client.queues() if q.job_name == "py_charge"]
    assert queued and queued[0].count == 1

    # When a Go job is deleted, but the confirmation is cancelled first
    go_id = client.dead_jobs()[0][0].job.id
    go_row = row(page, "#jobs-table", go_id)
    go_row.get_by_role("button", name="Delete").click()
    confirm(page, "Delete this job?", accept=False)
    expect(go_row).to_have_count(1)
    assert client.dead_count() == 4
    go_row.get_by_role("button", name="Delete").click()
    confirm(page, "Delete this job?")
    expect(go_row).to_have_count(0)
    assert client.dead_count() == 3

    # When a job moves behind the page's back (live refresh off), then is deleted from the page
    page.locator("#live-toggle").uncheck()
    uuid_row = row(page, "#jobs-table", UUID_ID)
    expect(uuid_row).to_have_count(1)
    died_at = next(d.died_at for d in client.dead_jobs()[0] if d.job.id == UUID_ID)
    client.retry_dead_job(died_at, UUID_ID)
    uuid_row.get_by_role("button", name="Delete").click()
    confirm(page, "Delete this job?")
    # Then the page says nothing was changed, and the job is where the other move put it
    toast(page, "Nothing was changed: this dead job is no longer there")
    assert {q.job_name: q.count for q in client.queues()}["py_charge"] == 2
    page.locator("#live-toggle").check()
    expect(page.locator("#count-line")).to_have_text("2 dead jobs")

    # When every dead job of one name is retried by name
    page.locator("#bulk-name").fill("go_flaky")
    page.locator('#bulk-form button[data-bulk="retry"]').click()
    confirm(page, "Retry every dead job named go_flaky?")
    toast(page, "Retried 1 dead job named “go_flaky”")
    expect(page.locator("#count-line")).to_have_text("1 dead job")

    # When "Retry all" is cancelled, nothing moves; confirmed, the dead list empties
    page.locator("#retry-all").click()
    confirm(page, "Retry all 1 dead jobs?", accept=False)
    assert client.dead_count() == 1
    page.locator("#retry-all").click()
    confirm(page, "Retry all 1 dead jobs?")
    expect(page.locator("#count-line")).to_have_text("No dead jobs")
    expect(page.locator("#jobs-empty")).to_be_visible()
    assert client.dead_count() == 0
    assert {q.job_name: q.count for q in client.queues()} == {"go_flaky": 1, "py_charge": 3}
    assert_not_reloaded(page)


def test_retry_and_scheduled_jobs_paging_and_deletes(
    page: Page, serve: ServeFn, go_driver: GoDriver, redis_server: RedisServer, namespace: str
) -> None:
    # Given 24 jobs that failed once in a Python pool and one in a Go pool, all waiting to retry
    enq = Enqueuer(namespace, redis_server.url)
    for n in range(23):
        enq.enqueue("py_sync", {"n": n})
    enq.enqueue_job(Job(name="py_sync", id=CRON_ID, enqueued_at=0, args={"n": 23}))
    run_python_pool(redis_server.url, namespace, "py_sync", fail)
    go_driver.enqueue(namespace, [{"call": "Enqueue", "job_name": "go_sync", "args": {"n": 1}}])
    assert not go_driver.work(namespace, ["go_sync"], expect=1, fail="go_sync", maxfails="go_sync=5")["timed_out"]
    # and jobs scheduled for later by both
    go_driver.enqueue(namespace, [{"call": "EnqueueIn", "job_name": "go_later", "args": {}, "seconds_from_now": 600}])
    enq.enqueue_in("py_later", 900, {"when": "later"})
    enq.close()
    live = serve()
    client = live.client
    assert client.retry_count() == 25

    # When the retry page opens, it shows the first 20 of 25 and pages on
    page.goto(live.url("/retry"))
    expect(page.locator("#count-line")).to_have_text("1–20 of 25 jobs waiting to retry")
    expect(page.locator("#jobs-table tbody tr")).to_have_count(20)
    page.locator("#pager-bottom").get_by_role("link", name="Next ›").click()
    expect(page).to_have_url(live.url("/retry?page=2"))
    expect(page.locator("#count-line")).to_have_text("21–25 of 25 jobs waiting to retry")
    expect(page.locator("#jobs-table tbody tr")).to_have_count(5)

    # A page past the end says so and links to the last one
    page.goto(live.url("/retry?page=9"))
    expect(page.locator(".past-end")).to_contain_text("Page 9 is past the end: there are 2 pages")
    page.get_by_role("link", name="Go to the last page").click()
    expect(page.locator("#count-line")).to_have_text("21–25 of 25 jobs waiting to retry")

    # A malformed page number is a clear message, not a traceback
    page.goto(live.url("/retry?page=2x"))
    expect(page.locator(".problem")).to_contain_text("“2x” is not a page number")
    assert "Traceback" not in page.content()

    # When the Go job is deleted from the retry list
    page.goto(live.url("/retry"))
    go_id = next(r.job.id for r in client.retry_jobs()[0] + client.retry_jobs(2)[0] if r.job.name == "go_sync")
    page.locator("#bulk-name").fill("go_sync")  # by name: it may be on either page
    page.locator('#bulk-form button[data-bulk="delete"]').click()
    confirm(page, "Delete every job waiting to retry named go_sync?")
    toast(page, "Deleted 1 job waiting to retry named “go_sync”")
    expect(page.locator("#count-line")).to_have_text("1–20 of 24 jobs waiting to retry")
    assert all(r.job.id != go_id for r in client.retry_jobs()[0] + client.retry_jobs(2)[0])

    # And the Python job with the periodic id by its row (on whichever page it is)
    on_first = any(r.job.id == CRON_ID for r in client.retry_jobs()[0])
    page.goto(live.url("/retry" if on_first else "/retry?page=2"))
    row(page, "#jobs-table", CRON_ID).get_by_role("button", name="Delete").click()
    confirm(page, "Delete this job?")
    toast(page, f"Deleted py_sync {CRON_ID}.")
    expect(row(page, "#jobs-table", CRON_ID)).to_have_count(0)
    assert client.retry_count() == 23
    assert all(r.job.id != CRON_ID for r in client.retry_jobs()[0] + client.retry_jobs(2)[0])

    # When the scheduled page deletes everything, behind its confirmation
    page.get_by_role("navigation").get_by_role("link", name="Scheduled").click()
    expect(page.locator("#count-line")).to_have_text("2 scheduled jobs")
    expect(page.locator("#jobs-table tbody")).to_contain_text("go_later")
    expect(page.locator("#jobs-table tbody")).to_contain_text("py_later")
    page.locator("#delete-all").click()
    confirm(page, "Delete all 2 scheduled jobs?")
    toast(page, "Deleted 2 scheduled jobs.")
    expect(page.locator("#count-line")).to_have_text("No scheduled jobs")
    assert client.scheduled_count() == 0


def test_a_dead_job_without_an_id_cannot_be_addressed_alone(
    page: Page, serve: ServeFn, redis_server: RedisServer, namespace: str
) -> None:
    # Given a dead member nobody can decode, beside a normal one
    live = serve()
    r = redis_server.client()
    ok = Job(name="d", id=make_identifier(), enqueued_at=1, args={"n": 1}, fails=3, last_err="boom")
    r.zadd(live.client.keys.dead(), {b"{half a job": 1_700_000_000, ok.to_bytes(): 1_700_000_001})
    r.close()
    page.goto(live.url("/dead"))
    expect(page.locator("#count-line")).to_have_text("2 dead jobs")
    broken = page.locator("#jobs-table tbody tr").filter(has_text="(no id)")
    expect(broken.get_by_role("button", name="Retry")).to_be_disabled()
    expect(broken.get_by_role("button", name="Delete")).to_be_disabled()
    expect(broken.locator("pre.json")).to_contain_text('"raw": "{half a job"')
    # "Delete all" still clears it
    page.locator("#delete-all").click()
    confirm(page, "Delete all 2 dead jobs?")
    expect(page.locator("#count-line")).to_have_text("No dead jobs")
