"""Attacks from a real browser that must fail: another local page framing the dashboard to click
its buttons, and a DNS-rebound name reading and emptying the dead set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.redis_server import RedisServer
from tests.webui.browser import (  # noqa: F401 (fixtures)
    WAIT_MS,
    ServeFn,
    browser,
    chromium_path,
    page,
    serve,
)
from work_compat import Job
from work_compat.embedded import free_port

REBOUND = "rebind.evil.example"


def fill_dead(redis_server: RedisServer, namespace: str, n: int = 3) -> None:
    r = redis_server.client()
    for i in range(n):
        job = Job(name="charge", id=f"dead-{i}", enqueued_at=1_700_000_000, args={"n": i})
        r.zadd(f"{namespace}:dead", {job.to_bytes(): 1_700_000_000 + i})
    r.close()


def dead_count(redis_server: RedisServer, namespace: str) -> int:
    r = redis_server.client()
    try:
        return int(r.zcard(f"{namespace}:dead"))
    finally:
        r.close()


def test_a_page_on_another_port_cannot_frame_the_dashboard(
    page: Page, serve: ServeFn, redis_server: RedisServer, namespace: str
) -> None:
    fill_dead(redis_server, namespace)
    live = serve()
    # the dashboard works when opened directly ...
    page.goto(live.url("/dead"))
    expect(page.locator("#delete-all")).to_be_visible()
    # ... but a page served from another local port that frames it gets nothing to click
    evil = f"http://127.0.0.1:{free_port()}/"
    framing = f'<!doctype html><title>win a prize</title><iframe id="f" src="{live.url("/dead")}"></iframe>'
    page.route(evil + "**", lambda route: route.fulfill(status=200, content_type="text/html", body=framing))
    page.goto(evil)
    page.wait_for_load_state("load")  # the iframe's load counts: its answer has come
    (framed,) = [f for f in page.frames if f.name == "f"]
    assert framed.url.startswith("chrome-error://"), framed.url  # chromium refused to show it
    frame = page.frame_locator("#f")
    assert frame.locator("#delete-all").count() == 0
    assert frame.locator("#jobs").count() == 0
    assert dead_count(redis_server, namespace) == 3


@pytest.fixture(scope="module")
def rebinding_browser(browser: Browser) -> Iterator[Browser]:
    """A chromium whose resolver sends the attacker's name to 127.0.0.1, as a rebound DNS answer does."""
    b = browser.browser_type.launch(
        executable_path=chromium_path(), headless=True, args=[f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"]
    )
    try:
        yield b
    finally:
        b.close()


def test_a_rebound_name_gets_neither_the_pages_nor_the_api(
    rebinding_browser: Browser, serve: ServeFn, redis_server: RedisServer, namespace: str
) -> None:
    fill_dead(redis_server, namespace)
    live = serve()
    context = rebinding_browser.new_context()
    try:
        pg = context.new_page()
        pg.set_default_timeout(WAIT_MS)
        origin = f"http://{REBOUND}:{live.port}"
        resp = pg.goto(origin + "/dead")
        assert resp is not None and resp.status == 403
        expect(pg.locator("main")).to_contain_text("DNS rebinding")
        # the attacker's script, same-origin with the rebound name, tries to read and to delete
        read = pg.evaluate("fetch('/api/dead_jobs').then(r => r.status)")
        wiped = pg.evaluate("fetch('/api/delete_all_dead_jobs', {method: 'POST'}).then(r => r.status)")
        assert (read, wiped) == (403, 403)
        assert dead_count(redis_server, namespace) == 3
        # the same browser by address still works
        own = pg.goto(live.url("/dead"))
        assert own is not None and own.status == 200
    finally:
        context.close()


def test_every_page_lives_within_its_content_security_policy(
    page: Page, serve: ServeFn, redis_server: RedisServer, namespace: str
) -> None:
    """The strict CSP that stops framing must not break a page: no script, style or frame of ours
    is refused anywhere (a refused one is a console error naming the policy)."""
    fill_dead(redis_server, namespace)
    live = serve()
    live.enqueuer.enqueue("charge", {"n": 1})
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    for path in (
        "/",
        "/queues",
        "/queue/charge",
        "/pools",
        "/tasks",
        "/task/dead-0",
        "/scheduled",
        "/retry",
        "/dead",
        "/history",
        "/schedules",
        "/redis",
        "/enqueue",
    ):
        page.goto(live.url(path))
        expect(page.locator("#updated")).not_to_be_empty()
    assert refused == []
