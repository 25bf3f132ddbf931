"""The HTML pages: a server-rendered shell per page whose tables and charts the browser fills in.

Every page is the same layout (top nav, a status line, the page's tables) rendered by Tornado with
autoescaping on; the data comes from the JSON API through fetch() in static/js, refreshed in place
every few seconds. The shell itself never reads Redis, so with Redis down a page still loads and
says so instead of failing. Job data is only ever put into the page as text (``textContent``), never
parsed as HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tornado.web

from .base import ApiError, BaseHandler

__all__ = ["PAGES", "STATIC_DIR", "TEMPLATE_DIR", "Page", "PageHandler", "StaticHandler"]

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"

HTML_TYPE = "text/html; charset=utf-8"
REFRESH_MS = 3000  # how often a page re-reads its data (Flower's auto_refresh)
_PAGE_RE = re.compile(r"[0-9]+")
MAX_PAGE = 2**40  # far beyond any real set (the JSON API, as Go, takes pages up to the last int64 offset)


@dataclass(frozen=True)
class Page:
    """One page: its name (also its script's), path under the prefix, nav label and template."""

    name: str
    path: str
    label: str
    template: str
    in_nav: bool = True
    nav: str = ""  # the nav entry a page outside the nav highlights (a task page: "tasks")


PAGES: tuple[Page, ...] = (
    Page("overview", "/", "Overview", "overview.html"),
    Page("queues", "/queues", "Queues", "queues.html"),
    Page("pools", "/pools", "Workers", "pools.html"),
    Page("tasks", "/tasks", "Tasks", "tasks.html"),
    Page("scheduled", "/scheduled", "Scheduled", "jobs.html"),
    Page("retry", "/retry", "Retry", "jobs.html"),
    Page("dead", "/dead", "Dead", "jobs.html"),
    Page("history", "/history", "History", "history.html"),
    Page("schedules", "/schedules", "Schedules", "schedules.html"),
    Page("redis", "/redis", "Redis", "redis.html"),
    Page("enqueue", "/enqueue", "Enqueue", "enqueue.html"),
)


class PageHandler(BaseHandler):
    """``GET`` one page's shell. A malformed ``?page=`` is a 400 page that says what was wrong."""

    def initialize(self, page: str) -> None:
        self.page = next(p for p in PAGES if p.name == page)

    def get(self) -> None:
        problem = ""
        number = 1
        raw = self.get_query_argument("page", "", strip=False)
        if raw:
            if _PAGE_RE.fullmatch(raw) and int(raw) <= MAX_PAGE:
                number = max(int(raw), 1)
            else:
                self.set_status(400)
                problem = f"“{raw}” is not a page number: pages are numbered from 1."
                if _PAGE_RE.fullmatch(raw):
                    problem = f"Page {raw} is beyond any page there can be."
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", HTML_TYPE)
        self.render(self.page.template, **self._context(number, problem))

    def _context(self, number: int, problem: str) -> dict[str, Any]:
        settings = self.web_settings
        # Reading the token sets the _xsrf cookie, which the scripts echo in X-XSRFToken on every
        # POST and DELETE, whether or not the application checks it.
        self.xsrf_token  # noqa: B018
        return {
            "page": self.page,
            "pages": [p for p in PAGES if p.in_nav],
            "prefix": settings.url_prefix,
            "namespace": settings.namespace,
            "read_only": settings.read_only,
            "page_number": number,
            "problem": problem,
            # keys of the wrong Redis type the dashboard's reads skipped lately (work_compat.badkeys)
            "warnings": self.client.warnings(),
            # an embedding application (or a test) may set "page_refresh_ms" in the Tornado settings
            "refresh_ms": int(self.application.settings.get("page_refresh_ms", REFRESH_MS)),
        }

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """An HTML error page (a 401 stays JSON with its challenge, so the browser asks for a login)."""
        if status_code == 401:
            super().write_error(status_code, **kwargs)
            return
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.message if isinstance(exc, ApiError) else "The page could not be shown."
        if status_code == 500:
            message = "The page could not be shown: an internal error was logged on the server."
        self.set_header("Content-Type", HTML_TYPE)
        self.render("error.html", status=status_code, message=message, **self._context(1, ""))


class StaticHandler(BaseHandler, tornado.web.StaticFileHandler):
    """The pages' own scripts, styles and icons (shipped in the package), behind the same auth."""
