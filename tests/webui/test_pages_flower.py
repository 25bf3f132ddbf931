"""Flower's pages as the server answers them: /tasks, /task/<id>, /worker/<name> and the /workers
and /broker aliases; status codes, the 404 page, read-only, the URL prefix and odd ids.

What the scripts put in these shells is proven in test_browser_flower.py.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.webui.conftest import WebTestCase
from tests.webui.flower_fixtures import FlowerTestCase
from tests.webui.test_pages import parse
from webui import WebSettings
from work_compat import Job
from work_compat.connection import RedisTarget
from work_compat.embedded import free_port

PERIODIC_ID = "periodic:report:@every 10s:1700000000"
CRON_ID = "periodic:cleanup:0 */5 * * * *:1795821860"
UUID_ID = "0b0e4bd8-6f5e-4a2b-9c1c-3c7a1f5e2d10"
ODD_IDS = (PERIODIC_ID, CRON_ID, UUID_ID, 'a"quote<b>&amp;')


def seg(text: str) -> str:
    return quote(text, safe="")


class TaskHead(HTMLParser):
    """The ``data-task-id`` of the task page's head, as the browser reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.task_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id") == "task-head":
            self.task_id = a.get("data-task-id")


class TestFlowerPages(FlowerTestCase):
    def enqueue_ids(self) -> None:
        for n, job_id in enumerate(ODD_IDS):
            self.enqueuer.enqueue_job(Job(name="later", id=job_id, enqueued_at=0, args={"n": n}))

    def test_the_tasks_page_is_in_the_nav_of_every_page(self) -> None:
        resp = self.call("GET", "/tasks")
        assert resp.code == 200
        links = parse(resp.body)
        assert links.body["data-page"] == "tasks"
        assert {"tasks-form", "f-state", "f-name", "f-search", "tasks-table"} <= links.ids
        assert "/static/js/tasks.js" in [u.split("?")[0] for u in links.urls]
        for path in ("/", "/pools", "/dead"):
            assert "/tasks" in parse(self.call("GET", path).body).urls

    def test_a_task_page_for_any_id_carries_the_id_exactly_and_its_actions(self) -> None:
        self.enqueue_ids()
        for job_id in ODD_IDS:
            resp = self.call("GET", "/task/" + seg(job_id))
            assert resp.code == 200, (job_id, resp.code)
            html = resp.body.decode()
            links = parse(resp.body)
            assert links.body["data-page"] == "task"
            assert {"task-head", "task-table", "task-actions-panel", "traceback-panel"} <= links.ids
            assert "<b>" not in html  # the id is escaped, never markup
            head = TaskHead()
            head.feed(html)
            assert head.task_id == job_id
            # the nav marks Tasks as the current section
            assert 'href="/tasks" class="active"' in html

    def test_an_unknown_task_id_is_a_404_page_that_says_so(self) -> None:
        for job_id in ("no-such-task", PERIODIC_ID):
            resp = self.call("GET", "/task/" + seg(job_id))
            assert resp.code == 404
            assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
            html = resp.body.decode()
            assert f"No task with id “{job_id}”" in html
            assert "Traceback" not in html and "task-table" not in html

    def test_finished_running_and_stored_tasks_have_pages(self) -> None:
        made = self.populate()
        for job_id in (made.ok, made.boom, made.flaky, made.slow, made.queued, made.scheduled):
            assert self.call("GET", "/task/" + seg(job_id)).code == 200, job_id
        stored = "c0ffee00-0000-4000-8000-000000000001"
        self.backend().store_result(stored, {"total": 3}, "SUCCESS")
        assert self.call("GET", "/task/" + stored).code == 200

    def test_a_worker_page_for_a_beating_pool_and_404_for_an_unknown_one(self) -> None:
        pool = self.start_pool()
        resp = self.call("GET", "/worker/" + seg(pool.pool_id))
        assert resp.code == 200
        html = resp.body.decode()
        links = parse(resp.body)
        assert links.body["data-page"] == "worker"
        assert {"worker-table", "names-table", "active-table"} <= links.ids
        assert f'data-worker="{pool.pool_id}"' in html
        assert 'href="/pools" class="active"' in html
        assert ">Actions</th>" in html
        gone = self.call("GET", "/worker/" + seg("no pool/here"))
        assert gone.code == 404
        assert "No worker pool with id “no pool/here”" in gone.body.decode()

    def test_flower_aliases_redirect_to_the_workers_and_queues_pages(self) -> None:
        for alias, target in (("/workers", "/pools"), ("/broker", "/queues")):
            resp = self.call("GET", alias, follow_redirects=False)
            assert (resp.code, resp.headers["Location"]) == (302, target)
            assert self.call("GET", alias).code == 200


class TestReadOnlyFlowerPages(FlowerTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, read_only=True, result_backend=self.redis_server.url)

    def test_task_and_worker_pages_have_no_actions(self) -> None:
        self.enqueuer.enqueue_job(Job(name="later", id=PERIODIC_ID, enqueued_at=0, args={}))
        resp = self.call("GET", "/task/" + seg(PERIODIC_ID))
        assert resp.code == 200
        assert "task-actions" not in resp.body.decode()
        assert parse(resp.body).body["data-read-only"] == "true"
        pool = self.start_pool()
        html = self.call("GET", "/worker/" + seg(pool.pool_id)).body.decode()
        assert ">Actions</th>" not in html
        # and the revoke behind the button is refused anyway
        assert self.post_json("/api/task/revoke/" + seg(PERIODIC_ID), status=403)["error"] == "the web UI is read-only"


class TestPrefixedFlowerPages(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, url_prefix="/work/ui/")

    def test_links_assets_and_aliases_are_under_the_prefix(self) -> None:
        self.enqueuer.enqueue_job(Job(name="later", id=CRON_ID, enqueued_at=0, args={}))
        for path in ("/tasks", "/task/" + seg(CRON_ID)):
            resp = self.call("GET", "/work/ui" + path)
            assert resp.code == 200, path
            links = parse(resp.body)
            assert links.urls and all(u.startswith("/work/ui/") for u in links.urls), links.urls
        missing = self.call("GET", "/work/ui/task/nothing")
        assert missing.code == 404
        assert all(u.startswith("/work/ui/") for u in parse(missing.body).urls)
        for alias, target in (("/workers", "/work/ui/pools"), ("/broker", "/work/ui/queues")):
            resp = self.call("GET", "/work/ui" + alias, follow_redirects=False)
            assert (resp.code, resp.headers["Location"]) == (302, target)
        assert self.call("GET", "/tasks").code == 404


class TestFlowerPagesWithRedisDown(WebTestCase):
    def redis_target(self) -> RedisTarget:
        return redis.Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0))

    def test_the_shells_still_load(self) -> None:
        for path in ("/tasks", "/task/" + seg(PERIODIC_ID), "/worker/some-pool"):
            resp = self.call("GET", path)
            assert resp.code == 200, path
            assert b"Traceback (most recent call last)" not in resp.body
