"""Every job findable at scale: 120,000 dead and 120,000 queued jobs, looked up and revoked at the
far end; a bounded search that says how far it went; probes that answer while the pages read."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from tornado.httpclient import HTTPResponse
from tornado.testing import gen_test

from tests.webui.conftest import T0, WebTestCase
from webui.taskstore import TaskStore
from work_compat import Job

N = 120_000
PLACEHOLDER = "f" * 24


def job_id(kind: str, i: int) -> str:
    return f"{kind}-{i:020d}"


class ScaleCase(WebTestCase):
    def fill(self) -> None:
        """N dead jobs (scores T0 + i) and N queued jobs of name ``charge`` (id 0 pushed first, so it
        is at the list's tail: the next job a pool would run), by pipeline."""
        template = Job(
            name="charge", id=PLACEHOLDER, enqueued_at=T0 - 500, args={"order": 1}, last_err="card declined"
        ).to_bytes()
        pipe = self.r.pipeline(transaction=False)
        for start in range(0, N, 10_000):
            dead = {
                template.replace(PLACEHOLDER.encode(), job_id("d", i).encode()): T0 + i
                for i in range(start, start + 10_000)
            }
            queued = [
                template.replace(PLACEHOLDER.encode(), job_id("q", i).encode()) for i in range(start, start + 10_000)
            ]
            pipe.zadd(self.keys.dead(), dead)
            pipe.lpush(self.keys.jobs("charge"), *queued)
            pipe.execute()
        self.r.sadd(self.keys.known_jobs(), "charge")
        assert self.r.zcard(self.keys.dead()) == N and self.r.llen(self.keys.jobs("charge")) == N

    @property
    def store(self) -> TaskStore:
        s: TaskStore = self.app.settings["work_store"]
        return s


class TestFarEnd(ScaleCase):
    def test_lookups_pages_and_revokes_reach_the_far_end(self) -> None:
        self.fill()
        oldest_dead, next_to_run = job_id("d", 0), job_id("q", 0)
        assert (
            self.r.zrange(self.keys.dead(), 0, 0)
            and job_id("d", 0).encode() in self.r.zrange(self.keys.dead(), 0, 0)[0]
        )
        assert next_to_run.encode() in self.r.lindex(self.keys.jobs("charge"), -1)

        info = self.get_json(f"/api/task/info/{oldest_dead}")
        assert (info["state"], info["gocraft"]["where"], info["failed"]) == ("FAILURE", "dead", T0)
        assert info["exception"] == "card declined"
        info = self.get_json(f"/api/task/info/{next_to_run}")
        assert (info["state"], info["gocraft"]["where"]) == ("PENDING", "queue")
        assert self.call("GET", f"/task/{oldest_dead}").code == 200
        assert self.call("GET", f"/task/{next_to_run}").code == 200

        revoked = self.post_json(f"/api/task/revoke/{next_to_run}")
        assert revoked == {"message": f"Revoked '{next_to_run}'", "removed_from": ["queue"]}
        assert self.r.llen(self.keys.jobs("charge")) == N - 1
        assert job_id("q", 1).encode() in self.r.lindex(self.keys.jobs("charge"), -1)  # no longer next to run
        assert self.get_json(f"/api/task/info/{next_to_run}")["state"] == "REVOKED"

    def test_a_bounded_search_says_how_far_it_went(self) -> None:
        self.fill()
        self.store.lookup_budget = 10_000
        # An id in no set: a ZSCAN reads members in hash order, which changes with each server's
        # seed, so any member of the dead set may come within the first 10,000 entries read.
        beyond = job_id("d", N)
        err = self.get_json(f"/api/task/info/{beyond}", status=404)["error"]
        assert err.startswith(f"Unknown task '{beyond}': the search stopped after 10,000 entries")
        assert "the dead set" in err and "queue 'charge'" in err
        page = self.call("GET", f"/task/{job_id('q', 0)}")
        assert page.code == 404 and "the search stopped after 10,000 entries".encode() in page.body
        revoked = self.post_json(f"/api/task/revoke/{job_id('q', 0)}")
        assert revoked["removed_from"] == [] and revoked["searched_everything"] is False
        assert "may still be queued" in revoked["message"] and "Go workers would run it" in revoked["message"]
        # an id nobody knows, with everything searched, is plainly unknown
        self.store.lookup_budget = 10 * N
        assert self.get_json("/api/task/info/nobody", status=404) == {"error": "Unknown task 'nobody'"}


class TestProbesUnderLoad(ScaleCase):
    @gen_test(timeout=120)
    async def test_probes_answer_while_every_page_thread_is_busy(self) -> None:
        """The stall the issue measured (2.4 s) was /healthcheck queued behind the pages' reads on
        one thread pool. With every thread of that pool held, the probes must still answer."""
        release = threading.Event()
        pool = self.app.settings["work_executor"]
        held = [pool.submit(release.wait, 60) for _ in range(self.app.settings["web_settings"].max_workers)]
        try:
            page = self.http_client.fetch(self.get_url("/api/queues"), request_timeout=60)
            probe: HTTPResponse = await self.http_client.fetch(self.get_url("/healthcheck"), request_timeout=30)
            scrape: HTTPResponse = await self.http_client.fetch(self.get_url("/metrics"), request_timeout=30)
            assert (probe.body, scrape.code) == (b"OK", 200)
            assert not page.done() and not any(h.done() for h in held)  # the pages' pool was full all along
        finally:
            release.set()
        assert (await page).code == 200

    @gen_test(timeout=120)
    async def test_twenty_clients_listing_tasks_share_one_reading(self) -> None:
        self.fill()
        calls = 0
        recent = self.store.recent

        def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            return recent(*args, **kwargs)

        self.store.recent = counted  # type: ignore[method-assign]
        url = self.get_url("/api/tasks?limit=5")
        started = time.monotonic()
        listing = asyncio.gather(*(self.http_client.fetch(url, request_timeout=60) for _ in range(20)))
        probes = []
        while not listing.done():
            t = time.monotonic()
            probe: HTTPResponse = await self.http_client.fetch(self.get_url("/healthcheck"))
            probes.append(time.monotonic() - t)
            assert probe.body == b"OK"
        answers = await listing
        took = time.monotonic() - started
        assert all(a.code == 200 and len(json.loads(a.body)) == 5 for a in answers)
        assert calls == 1, f"20 concurrent listings read Redis {calls} times"
        print(f"20 listings: {took * 1000:.0f} ms; {len(probes)} probes meanwhile, worst {max(probes) * 1000:.0f} ms")


class TestSharedListing(ScaleCase):
    def test_a_change_made_here_is_listed_at_once_though_listings_are_shared(self) -> None:
        assert self.get_json("/api/tasks") == {}
        sent = self.post_json("/api/task/send-task/mail", {"kwargs": {"to": "ada"}})["task-id"]
        assert list(self.get_json("/api/tasks")) == [sent]  # not the listing of a moment ago
        self.post_json(f"/api/task/revoke/{sent}")
        assert self.get_json("/api/tasks")[sent]["state"] == "REVOKED"
