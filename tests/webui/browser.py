"""Browser-test helpers: the dashboard served for real, Debian's chromium driven by Playwright, and
the Go driver that puts jobs in place with the real Go library.

The server is make_app(...) on a free loopback port, served by Tornado on its own thread and event
loop (Playwright's sync API owns the test thread). Test modules import the fixtures they use.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tornado.httpserver
import tornado.netutil
from playwright.sync_api import Browser, ConsoleMessage, Error, Locator, Page, expect, sync_playwright

from tests.interop.driver import GoDriver, build, require_go
from tests.redis_server import RedisServer
from webui import WebSettings, make_app
from webui.app import close_app
from work_compat import Client, Enqueuer
from work_compat.connection import RedisTarget

CHROMIUM = "/usr/bin/chromium"
REFRESH_MS = 700  # the pages re-read their data this often in the tests (3 s by default)
WAIT_MS = 15_000  # the longest any expectation waits: the machine is shared and may be slow

expect.set_options(timeout=WAIT_MS)


def chromium_path() -> str:
    """Debian's chromium; without it the browser tests fail (a skipped browser test proves nothing)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"the browser tests need Debian's chromium at {CHROMIUM}: run `apt-get install -y chromium` "
            "(.ci/run installs it when missing)"
        )
    return CHROMIUM


class LiveServer:
    """The dashboard for one namespace, served on a free port until ``stop()``."""

    def __init__(self, namespace: str, target: RedisTarget, settings: WebSettings) -> None:
        self.namespace = namespace
        self.settings = settings
        self.client = Client(namespace, target)
        self.enqueuer = Enqueuer(namespace, target)
        self.port = 0
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="webui-live-server", daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the dashboard server did not start within 15 s")
        if self._failure is not None:
            raise RuntimeError("the dashboard server failed to start") from self._failure
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # reported by start() or stop()
            self._failure = err
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.app = make_app(self.client, self.enqueuer, self.settings)
        self.app.settings["page_refresh_ms"] = REFRESH_MS
        server = tornado.httpserver.HTTPServer(self.app)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.stop()
        try:
            await asyncio.wait_for(server.close_all_connections(), 5)
        except asyncio.TimeoutError:
            pass

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{self.settings.url_prefix}{path}"

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        if hasattr(self, "app"):
            close_app(self.app)
        self.client.close()
        self.enqueuer.close()
        if self._failure is not None and not isinstance(self._failure, (KeyboardInterrupt, SystemExit)):
            raise RuntimeError("the dashboard server failed") from self._failure


ServeFn = Callable[..., LiveServer]


@pytest.fixture
def serve(redis_server: RedisServer, namespace: str) -> Iterator[ServeFn]:
    """``serve(url_prefix=..., read_only=..., target=...)`` starts the dashboard for the test's namespace."""
    servers: list[LiveServer] = []

    def start(target: RedisTarget | None = None, **settings: Any) -> LiveServer:
        live = LiveServer(namespace, target or redis_server.url, WebSettings(namespace=namespace, **settings))
        servers.append(live.start())
        return live

    yield start
    for live in servers:
        live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, headless=True)
        try:
            yield b
        finally:
            b.close()


class PageErrors:
    """Uncaught script errors of a page; a test ends by asserting there were none."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.console: list[str] = []

    def on_error(self, err: Error) -> None:
        self.errors.append(str(err))

    def on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.console.append(msg.text)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context and page at 1280x900; fails the test on any uncaught script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", timezone_id="UTC")
    pg = context.new_page()
    errors = PageErrors()
    pg.on("pageerror", errors.on_error)
    pg.on("console", errors.on_console)
    pg.set_default_timeout(WAIT_MS)
    try:
        yield pg
    finally:
        context.close()
    assert not errors.errors, f"script errors in the page: {errors.errors}"


@pytest.fixture(scope="module")
def go_driver(redis_server: RedisServer) -> GoDriver:
    """The interop driver built against gocraft/work (fails without Go, as the interop tests do)."""
    go = require_go("the browser tests (jobs enqueued, failed and run by the Go library)")
    binary = build("orig", go=go)
    return GoDriver("orig", binary, redis_server.url)


def confirm(page: Page, title: str, *, accept: bool = True) -> None:
    """Answer the confirmation dialog whose title contains ``title``."""
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#confirm-title")).to_contain_text(title)
    dialog.locator("#confirm-ok" if accept else "#confirm-cancel").click()
    expect(dialog).to_be_hidden()


def toast(page: Page, text: str) -> None:
    """Wait for a notification containing ``text``."""
    expect(page.locator(".toast", has_text=text).first).to_be_visible()


def css_string(text: str) -> str:
    """``text`` as a quoted CSS string (ids hold spaces, quotes, slashes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def row(page: Page, table: str, job_id: str) -> Locator:
    """The row of ``table`` (a CSS selector) for job ``job_id``, matched exactly."""
    return page.locator(f"{table} tbody tr[data-job-id={css_string(job_id)}]")


def mark_document(page: Page) -> None:
    """Leave a marker in the page's window: it survives live refresh, not a reload."""
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"


SCREENSHOT_DIR_ENV = "WEBUI_SCREENSHOTS"


def screenshot_dir(default: Path) -> Path:
    """Where the screenshot test writes: ``$WEBUI_SCREENSHOTS`` (docs/screenshots to refresh the
    README's images) or the test's temporary directory."""
    target = os.environ.get(SCREENSHOT_DIR_ENV)
    path = Path(target) if target else default
    path.mkdir(parents=True, exist_ok=True)
    return path
