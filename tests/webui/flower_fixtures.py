"""A namespace with a task in every place, made by a real worker pool: history entries for a
success, a death and a retry, a job running (held by its handler until the test releases it), a
job queued for a name no pool runs, one scheduled, one stored result."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from celery_shim.backends.redis import RedisBackend
from tests.webui.conftest import T0, WebTestCase
from tests.work_compat.conftest import FAST, FAST_SLEEP_BACKOFFS, wait_until
from webui import WebSettings
from work_compat import Clock, Job, JobOptions, WorkerPool, connect


class BoomError(Exception):
    pass


@dataclass
class Made:
    """The ids of what ``populate`` made, by what happened to them."""

    ok: str = ""
    boom: str = ""
    flaky: str = ""
    slow: str = ""
    queued: str = ""
    scheduled: str = ""
    pool_id: str = ""
    release: threading.Event = field(default_factory=threading.Event)


class FlowerTestCase(WebTestCase):
    """The app with a result backend on the session's Redis; ``populate()`` starts a real pool."""

    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, result_backend=self.redis_server.url)

    def setUp(self) -> None:
        super().setUp()
        self.pools: list[WorkerPool] = []
        self.made = Made()

    def tearDown(self) -> None:
        self.made.release.set()
        for pool in self.pools:
            pool.stop()
        results = self.app.settings["work_results"]
        super().tearDown()
        if results is not None:
            results.close()

    def backend(self) -> RedisBackend:
        return RedisBackend(connect(self.redis_server.client()))

    def start_pool(self, clock: Clock | None = None) -> WorkerPool:
        made = self.made

        def ok(job: Job) -> None:
            return None

        def boom(job: Job) -> None:
            raise BoomError("boom")

        def slow(job: Job) -> None:
            job.checkin("halfway")
            assert made.release.wait(30)

        pool = WorkerPool(
            2, self.ns, self.redis_server.url, settings=FAST, sleep_backoffs=FAST_SLEEP_BACKOFFS, clock=clock or self.clock
        )
        pool.job("ok", ok)
        pool.job_with_options("boom", JobOptions(max_fails=1), boom)
        pool.job_with_options("flaky", JobOptions(max_fails=5), boom)
        pool.job("slow", slow)
        self.pools.append(pool)
        pool.start()
        return pool

    def populate(self) -> Made:
        """Run ok, boom and flaky to completion, then hold slow running; queue and schedule more."""
        made = self.made
        made.ok = self.enqueuer.enqueue("ok", {"n": 1}).id
        made.boom = self.enqueuer.enqueue("boom", {"*args": [1, 2], "who": "ada"}).id
        made.flaky = self.enqueuer.enqueue("flaky", {}).id
        pool = self.start_pool()
        assert pool.drain(10)
        made.pool_id = pool.pool_id
        made.slow = self.enqueuer.enqueue("slow", {"why": "wait"}).id
        wait_until(
            lambda: any(o.is_busy and o.job_id == made.slow for o in self.client.worker_observations()),
            what="the slow job to be observed running",
        )
        made.queued = self.enqueuer.enqueue("later", {"x": 1}).id
        made.scheduled = self.enqueuer.enqueue_in("later", 600, {"x": 2}).job.id
        return made


__all__ = ["T0", "BoomError", "FlowerTestCase", "Made"]
