"""The HTML pages served by make_app: shells, prefix, bad input, read-only, Redis down, packaging.

What a user sees in a browser (tables filled, actions clicked) is proven in test_browser_*.py; these
tests check what the server itself answers.
"""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.webui.conftest import WebTestCase
from webui import WebSettings
from webui.handlers.pages import PAGES, STATIC_DIR, TEMPLATE_DIR
from work_compat.connection import RedisTarget
from work_compat.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]


class Links(HTMLParser):
    """Every href/src of a page, its forms' hidden fields and its body's data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.hidden: dict[str, str] = {}
        self.body: dict[str, str] = {}
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.urls += [a[k] for k in ("href", "src") if k in a]
        if tag == "input" and a.get("type") == "hidden":
            self.hidden[a.get("name", "")] = a.get("value", "")
        if tag == "body":
            self.body = a
        if "id" in a:
            self.ids.add(a["id"])


def parse(html: bytes) -> Links:
    links = Links()
    links.feed(html.decode("utf-8"))
    return links


class TestPages(WebTestCase):
    def test_every_page_is_an_html_shell_with_the_nav_and_its_script(self) -> None:
        for page in PAGES:
            resp = self.call("GET", page.path)
            assert resp.code == 200, (page.path, resp.code)
            assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
            html = resp.body.decode()
            links = parse(resp.body)
            assert links.body["data-page"] == page.name
            assert links.body["data-read-only"] == "false"
            for other in PAGES:
                assert other.path in links.urls, (page.path, other.path)
            scripts = [u for u in links.urls if u.startswith("/static/js/")]
            assert [s.split("?")[0] for s in scripts] == [
                "/static/js/core.js",
                "/static/js/charts.js",
                "/static/js/widgets.js",  # the shared widgets, split from core.js
                f"/static/js/{'jobs' if page.template == 'jobs.html' else page.name}.js",
            ]
            assert f"<title>{page.label} · {self.ns} · work</title>" in html
            assert "onclick=" not in html  # behaviour lives in the scripts only

    def test_static_files_are_served_with_their_types(self) -> None:
        links = parse(self.call("GET", "/").body)
        types = {
            ".js": ("text/javascript", "application/javascript"),
            ".css": ("text/css",),
            ".svg": ("image/svg+xml",),
        }
        for u in {u for u in links.urls if u.startswith("/static/")}:
            resp = self.call("GET", u)
            assert resp.code == 200, u
            ext = Path(u.split("?")[0]).suffix
            assert resp.headers["Content-Type"].startswith(types[ext]), (u, resp.headers["Content-Type"])
        assert self.call("GET", "/static/js/nope.js").code == 404
        assert self.call("GET", "/static/../handlers/pages.py").code in (403, 404)

    def test_a_malformed_page_number_is_a_400_page_that_says_so(self) -> None:
        for raw in ("abc", "-1", "1.5", "%3Cscript%3E", "9" * 20):
            resp = self.call("GET", f"/dead?page={raw}")
            assert resp.code == 400, raw
            assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
            html = resp.body.decode()
            assert "is not a page number: pages are numbered from 1." in html or "is beyond any page" in html
            assert "<script>" not in html.split("<main", 1)[1].split("</main>")[0]
            assert "Traceback" not in html
        assert "&lt;script&gt;" in self.call("GET", "/dead?page=%3Cscript%3E").body.decode()
        # page 0 is the first page, as the API reads it; a page past the end is the script's to explain
        assert parse(self.call("GET", "/retry?page=0").body).body["data-page-number"] == "1"
        assert parse(self.call("GET", "/retry?page=99").body).body["data-page-number"] == "99"

    def test_forms_carry_the_xsrf_field_and_the_page_sets_the_cookie(self) -> None:
        for path in ("/dead", "/schedules", "/enqueue"):
            resp = self.call("GET", path)
            assert "_xsrf" in parse(resp.body).hidden, path
            assert any(c.startswith("_xsrf=") for c in resp.headers.get_list("Set-Cookie")), path

    def test_action_forms_are_on_the_pages_that_act(self) -> None:
        assert {"bulk-form", "retry-all", "delete-all"} <= parse(self.call("GET", "/dead").body).ids
        retry_ids = parse(self.call("GET", "/retry").body).ids
        assert "delete-all" in retry_ids and "retry-all" not in retry_ids  # the pools retry those
        assert "schedule-form" in parse(self.call("GET", "/schedules").body).ids
        assert "enqueue-form" in parse(self.call("GET", "/enqueue").body).ids


class TestReadOnlyPages(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, read_only=True)

    def test_pages_leave_out_every_action(self) -> None:
        for page in PAGES:
            resp = self.call("GET", page.path)
            assert resp.code == 200
            links = parse(resp.body)
            assert links.body["data-read-only"] == "true"
            assert not {"bulk-form", "retry-all", "delete-all", "schedule-form", "enqueue-form"} & links.ids
            assert ">read-only</span>" in resp.body.decode()
        assert "jobs cannot be enqueued from here" in self.call("GET", "/enqueue").body.decode()


class TestPrefixedPages(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, url_prefix="/work/ui/")

    def test_every_link_and_asset_is_under_the_prefix(self) -> None:
        for page in PAGES:
            resp = self.call("GET", "/work/ui" + page.path)
            assert resp.code == 200, page.path
            links = parse(resp.body)
            assert links.body["data-prefix"] == "/work/ui"
            assert links.urls and all(u.startswith("/work/ui/") for u in links.urls), links.urls
        assert self.call("GET", "/work/ui/static/css/webui.css").code == 200
        assert self.call("GET", "/static/css/webui.css").code == 404
        assert self.call("GET", "/queues").code == 404

    def test_the_bare_prefix_redirects_to_the_overview(self) -> None:
        resp = self.call("GET", "/work/ui", follow_redirects=False)
        assert (resp.code, resp.headers["Location"]) == (301, "/work/ui/")


class TestPagesWithRedisDown(WebTestCase):
    def redis_target(self) -> RedisTarget:
        return redis.Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0))

    def test_the_shells_load_and_the_data_routes_say_why_not(self) -> None:
        for page in PAGES:
            resp = self.call("GET", page.path)
            assert resp.code == 200, page.path
            assert b"Traceback" not in resp.body
        for path in ("/api/ui/queues", "/api/ui/activity", "/api/ui/periodic_schedules"):
            err = self.get_json(path, status=503)
            assert err["error"].startswith("cannot reach Redis at 127.0.0.1:")


# -- packaging ------------------------------------------------------------------------------------
def _package_data() -> list[str]:
    """The ``webui = [...]`` line of ``[tool.setuptools.package-data]`` (tomllib needs Python 3.11)."""
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    section = text.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    match = re.search(r"^webui\s*=\s*(\[.*\])\s*$", section, re.M)
    assert match, "pyproject.toml has no package-data for webui"
    data: list[str] = ast.literal_eval(match.group(1))
    return data


def test_every_template_and_static_file_ships_as_package_data() -> None:
    patterns = _package_data()
    package = ROOT / "webui"
    files = [p for d in (TEMPLATE_DIR, STATIC_DIR) for p in d.rglob("*") if p.is_file()]
    assert files
    for f in files:
        rel = f.relative_to(package)
        assert any(rel.match(p) for p in patterns), f"{rel} is not in pyproject's package-data for webui"


def test_the_pages_load_nothing_from_elsewhere_and_need_no_build() -> None:
    # No CDN, no npm bundle: every script and style is a hand-written file in the package.
    allowed = {"http://www.w3.org/2000/svg"}
    for f in [*TEMPLATE_DIR.rglob("*"), *STATIC_DIR.rglob("*")]:
        if not f.is_file():
            continue
        text = f.read_text("utf-8")
        for found in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text):
            assert found in allowed, f"{f.name} refers to {found}"
        assert "import " not in text or f.suffix != ".js", f"{f.name} uses module imports (needs a bundler?)"
    assert not list(STATIC_DIR.rglob("*.map")) and not (ROOT / "package.json").exists()
