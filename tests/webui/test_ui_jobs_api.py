"""The pages' routes for single jobs and queues (/api/ui/...): set pages in either order, run now,
a queue's jobs next to run first, purge, and the progress of a long action."""

from __future__ import annotations

from tests.webui.conftest import T0, WebTestCase, member


class TestSetPages(WebTestCase):
    def test_dead_jobs_latest_first_by_default_and_oldest_first_on_request(self) -> None:
        self.r.zadd(self.keys.dead(), {member("d", n, id=f"d{n:02d}"): T0 + n for n in range(45)})
        ids = lambda body: [j["id"] for j in body["jobs"]]  # noqa: E731
        first = self.get_json("/api/ui/dead_jobs")
        assert first["count"] == 45 and ids(first) == [f"d{n:02d}" for n in range(44, 24, -1)]
        assert ids(self.get_json("/api/ui/dead_jobs?page=3")) == [f"d{n:02d}" for n in range(4, -1, -1)]
        assert self.get_json("/api/ui/dead_jobs?page=4")["jobs"] == []
        oldest = self.get_json("/api/ui/dead_jobs?order=oldest&page=2")
        assert ids(oldest) == [f"d{n:02d}" for n in range(20, 40)]
        # the items are the fork's, byte for byte the same as /api/dead_jobs gives
        assert self.get_json("/api/ui/dead_jobs?order=oldest") == self.get_json("/api/dead_jobs")
        assert self.get_json("/api/ui/dead_jobs?order=sideways", status=400)["error"].startswith("invalid order")

    def test_scheduled_jobs_soonest_first_by_default(self) -> None:
        self.r.zadd(self.keys.scheduled(), {member("s", n, id=f"s{n}"): T0 + n for n in range(3)})
        assert [j["id"] for j in self.get_json("/api/ui/scheduled_jobs")["jobs"]] == ["s0", "s1", "s2"]


class TestRunNow(WebTestCase):
    def test_a_scheduled_job_becomes_due_now_and_a_moved_one_is_a_409(self) -> None:
        job = member("later", 1, id="later-1")
        self.r.zadd(self.keys.scheduled(), {job: T0 + 3600})
        assert self.post_json(f"/api/ui/scheduled_jobs/run_now/{T0 + 3600}/later-1") == {"status": "ok"}
        assert self.r.zscore(self.keys.scheduled(), job) == T0  # the bytes unchanged, the score now
        err = self.post_json(f"/api/ui/scheduled_jobs/run_now/{T0 + 3600}/later-1", status=409)
        assert "error" in err
        self.r.zadd(self.keys.retry(), {member("r", 2, id="r-2"): T0 + 60})
        assert self.post_json(f"/api/ui/retry_jobs/run_now/{T0 + 60}/r-2") == {"status": "ok"}
        assert self.call("POST", f"/api/ui/dead_jobs/run_now/{T0}/x").code == 404  # dead jobs are retried instead


class TestQueues(WebTestCase):
    def test_browse_next_to_run_first_then_purge_with_progress(self) -> None:
        for n in range(25):
            self.enqueuer.enqueue("mail", {"n": n})
        self.r.lpush(self.keys.jobs("mail"), b"not json")  # the newest entry cannot be decoded
        page1 = self.get_json("/api/ui/queues/mail/jobs")
        assert page1["count"] == 26
        assert [j["position"] for j in page1["jobs"]] == list(range(1, 21))
        assert page1["jobs"][0]["job"]["args"] == {"n": 0}  # the oldest: the next a pool takes
        page2 = self.get_json("/api/ui/queues/mail/jobs?page=2")
        assert page2["jobs"][-1] == {"position": 26, "job": None, "raw": "not json"}
        assert self.get_json("/api/ui/progress/abcdefgh1234", status=404)
        purged = self.post_json("/api/ui/queues/mail/purge", {"progress_id": "abcdefgh1234"})
        assert purged == {"status": "ok", "purged": 26}
        assert self.r.llen(self.keys.jobs("mail")) == 0
        assert self.get_json("/api/ui/progress/abcdefgh1234") == {"done": 26, "total": 26}
        assert self.post_json("/api/ui/queues/mail/purge", {"progress_id": "x"}, status=400)
        assert self.get_json("/api/ui/queues/a:b/jobs", status=400)["error"]

    def test_purge_releases_unique_locks_and_leaves_other_queues(self) -> None:
        assert self.enqueuer.enqueue_unique("report", {"day": 1}) is not None
        assert self.enqueuer.enqueue_unique("report", {"day": 1}) is None  # locked while queued
        self.enqueuer.enqueue("other", {})
        assert self.post_json("/api/ui/queues/report/purge")["purged"] == 1
        assert self.enqueuer.enqueue_unique("report", {"day": 1}) is not None
        assert self.r.llen(self.keys.jobs("other")) == 1


class TestPagesExist(WebTestCase):
    def test_the_queue_page_and_its_404(self) -> None:
        self.enqueuer.enqueue("mail", {})
        assert self.call("GET", "/queue/mail").code == 200
        missing = self.call("GET", "/queue/nothing")
        assert missing.code == 404 and "No queue named" in missing.body.decode()
