"""The pages' own JSON routes under /api/ui/: queue states, pause, limits, bulk actions by job name,
activity from the history, schedules with their next runs, and the spec preview."""

from __future__ import annotations

import time
from urllib.parse import quote

from tests.webui.conftest import T0, WebTestCase, member
from webui import WebSettings
from webui.activity import history_activity
from work_compat import HistoryJob, Job, PeriodicSchedule, decode_job

ODD_IDS = [
    "periodic:report:@every 10s:1700000000",
    "periodic:n:*/5 * * * * *:1795821860",
    "0b0e4bd8-6f5e-4a2b-9c1c-3c7a1f5e2d10",
    "a/b?c#d%20e+f",
]


def path_id(job_id: str) -> str:
    return quote(job_id, safe="")


class TestQueues(WebTestCase):
    def test_queue_states_pause_and_limit(self) -> None:
        # Given two queues
        self.enqueuer.enqueue("mail", {"to": "a"})
        self.enqueuer.enqueue("mail", {"to": "b"})
        self.enqueuer.enqueue("img/resize", {})
        assert self.get_json("/api/ui/queues") == [
            {"job_name": "img/resize", "count": 1, "latency": 0, "paused": False, "max_concurrency": 0},
            {"job_name": "mail", "count": 2, "latency": 0, "paused": False, "max_concurrency": 0},
        ]
        # When one is paused (its name holds a slash, sent as %2F) and the other limited
        assert self.post_json(f"/api/ui/queues/{path_id('img/resize')}/pause") == {"status": "ok", "paused": True}
        assert self.post_json("/api/ui/queues/mail/max_concurrency", {"max_concurrency": 3})["max_concurrency"] == 3
        # Then the pools' keys say so, and the listing too
        assert self.client.is_paused("img/resize") and not self.client.is_paused("mail")
        assert self.client.max_concurrency("mail") == 3
        states = {q["job_name"]: q for q in self.get_json("/api/ui/queues")}
        assert states["img/resize"]["paused"] and states["mail"]["max_concurrency"] == 3
        # And unpause and no cap undo it
        self.post_json(f"/api/ui/queues/{path_id('img/resize')}/unpause")
        self.post_json("/api/ui/queues/mail/max_concurrency", {"max_concurrency": 0})
        assert not self.client.is_paused("img/resize") and self.client.max_concurrency("mail") == 0

    def test_a_bad_limit_is_refused(self) -> None:
        for body in ({"max_concurrency": -1}, {"max_concurrency": 1.5}, {"max_concurrency": "2"}, {}, [1]):
            err = self.post_json("/api/ui/queues/mail/max_concurrency", body, status=400)
            assert "must be" in err["error"]
        assert self.post_json("/api/ui/queues/mail/max_concurrency", b"{nope", status=400)["error"].startswith(
            "request body is not valid JSON"
        )
        assert self.client.max_concurrency("mail") == 0


class TestBulk(WebTestCase):
    def test_retry_every_dead_job_of_one_name_with_odd_ids(self) -> None:
        # Given dead jobs of two names, with ids that hold spaces, slashes and colons
        for n, job_id in enumerate(ODD_IDS):
            self.r.zadd(self.keys.dead(), {member("flaky", n, id=job_id, fails=4): T0 - n})
        self.r.zadd(self.keys.dead(), {member("other", 9, fails=4): T0})
        self.r.sadd(self.keys.known_jobs(), "flaky", "other")
        # When every dead "flaky" job is retried
        result = self.post_json("/api/ui/dead_jobs/bulk", {"action": "retry", "job_name": "flaky"})
        # Then all four are back on their queue, and "other" stays dead
        assert result == {"status": "ok", "matched": 4, "changed": 4, "skipped": 0}
        queued = sorted(decode_job(raw).id for raw in self.r.lrange(self.keys.jobs("flaky"), 0, -1))
        assert queued == sorted(ODD_IDS)
        assert [d.job.name for d in self.client.dead_jobs()[0]] == ["other"]

    def test_delete_one_name_from_retry_and_everything_from_scheduled(self) -> None:
        self.r.zadd(self.keys.retry(), {member("a", n, id=f"r{n}"): T0 + n for n in range(30)})
        self.r.zadd(self.keys.retry(), {member("b", 99): T0})
        self.r.zadd(self.keys.scheduled(), {member("s", n): T0 + n for n in range(3)})
        deleted = self.post_json("/api/ui/retry_jobs/bulk", {"action": "delete", "job_name": "a"})
        assert deleted == {"status": "ok", "matched": 30, "changed": 30, "skipped": 0}  # over two pages
        assert [r.job.name for r in self.client.retry_jobs()[0]] == ["b"]
        assert self.post_json("/api/ui/scheduled_jobs/bulk", {"action": "delete", "all": True})["changed"] == 3
        assert self.client.scheduled_count() == 0

    def test_no_match_changes_nothing_and_says_so(self) -> None:
        self.r.zadd(self.keys.dead(), {member("d", 1): T0})
        result = self.post_json("/api/ui/dead_jobs/bulk", {"action": "delete", "job_name": "nope"})
        assert result == {"status": "ok", "matched": 0, "changed": 0, "skipped": 0}
        assert self.client.dead_count() == 1

    def test_undecodable_members_are_counted_not_acted_on(self) -> None:
        self.r.zadd(self.keys.dead(), {b"{not json": T0, member("d", 1): T0})
        result = self.post_json("/api/ui/dead_jobs/bulk", {"action": "delete", "all": True})
        assert result == {"status": "ok", "matched": 2, "changed": 1, "skipped": 1}

    def test_bad_bulk_requests(self) -> None:
        cases = [
            ("/api/ui/dead_jobs/bulk", {"action": "retry"}, 'job_name is required (or "all": true)'),
            ("/api/ui/dead_jobs/bulk", {"action": "retry", "job_name": ""}, 'job_name is required (or "all": true)'),
            ("/api/ui/dead_jobs/bulk", {"action": "nuke", "job_name": "a"}, "unknown action 'nuke'"),
            ("/api/ui/dead_jobs/bulk", {"job_name": "a"}, "action must be retry or delete"),
            ("/api/ui/retry_jobs/bulk", {"action": "retry", "job_name": "a"}, "only dead jobs can be retried"),
        ]
        for path, body, message in cases:
            assert self.post_json(path, body, status=400)["error"].startswith(message), body
        assert self.post_json("/api/ui/other_jobs/bulk", {"action": "delete", "all": True}, status=404)


class TestActivity(WebTestCase):
    def _history(self, name: str, status: str, t: int, n: int) -> None:
        entry = HistoryJob(t, status, Job(name=name, id=f"{name}{n}", enqueued_at=t - 1, args={"n": n}))
        self.r.zadd(self.keys.history(), {entry.to_json(): t})

    def test_attempts_per_minute_by_status(self) -> None:
        now = int(time.time())
        this_minute = now - now % 60
        self._history("a", "success", this_minute, 1)
        self._history("a", "success", this_minute, 2)
        self._history("a", "retry", this_minute - 60, 3)
        self._history("a", "dead", this_minute - 120, 4)
        self._history("a", "success", this_minute - 3600, 5)  # an hour ago: outside the window
        a = self.get_json("/api/ui/activity?minutes=60")
        assert a["bucket_seconds"] == 60 and len(a["success"]) == 60
        assert a["start"] == this_minute - 59 * 60
        assert (a["success"][-1], a["retry"][-2], a["dead"][-3]) == (2, 1, 1)
        assert sum(a["success"]) == 2 and a["complete"] is True
        for bad in ("0", "x", "100000"):
            assert self.get_json(f"/api/ui/activity?minutes={bad}", status=400)["error"].startswith("invalid minutes")

    def test_a_long_history_is_scanned_up_to_a_bound_and_says_so(self) -> None:
        now = int(time.time())
        for n in range(45):
            self._history("b", "success", now - n, n)
        full = history_activity(self.client, now, 10)
        assert (sum(full.success), full.complete) == (45, True)
        bounded = history_activity(self.client, now, 10, max_entries=20)
        assert (sum(bounded.success), bounded.complete) == (20, False)


class TestSchedules(WebTestCase):
    def test_schedules_come_with_their_next_runs(self) -> None:
        self.client.add_periodic_schedule(PeriodicSchedule(name="every-min", job_name="j", spec="0 * * * * *"))
        self.client.add_periodic_schedule(PeriodicSchedule(name="ev", job_name="j", spec="@every 30s"))
        self.client.add_periodic_schedule(PeriodicSchedule(name="off", job_name="j", spec="0 0 * * * *", enabled=False))
        # a schedule written by something that does not validate (Go's client stores anything)
        self.r.hset(self.keys.periodic_schedules(), "bad", '{"name":"bad","job_name":"j","spec":"61 * * * * *"}')
        data = self.get_json("/api/ui/periodic_schedules")
        by_name = {s["name"]: s for s in data["schedules"]}
        assert list(by_name) == ["bad", "ev", "every-min", "off"]
        runs = by_name["every-min"]["next_runs"]
        assert len(runs) == 3 and runs[0] > data["now"] and all(t % 60 == 0 for t in runs)
        assert [b - a for a, b in zip(runs, runs[1:])] == [60, 60]
        assert by_name["every-min"]["approximate"] is False and by_name["every-min"]["problem"] == ""
        assert by_name["ev"]["approximate"] is True
        assert by_name["off"]["next_runs"] == [] and by_name["off"]["enabled"] is False
        assert by_name["bad"]["problem"] == "invalid cron spec '61 * * * * *': second: 61 is above 59"

    def test_spec_preview(self) -> None:
        ok = self.get_json("/api/ui/cron_preview?spec=" + quote("0 */15 * * * *"))
        assert len(ok["next_runs"]) == 5 and all(t % 900 == 0 for t in ok["next_runs"])
        never = self.get_json("/api/ui/cron_preview?spec=" + quote("0 0 0 30 2 *"), status=400)
        assert never["error"] == "invalid cron spec '0 0 0 30 2 *': day-of-month: never fires: February has no day 30"
        assert "a spec is required" in self.get_json("/api/ui/cron_preview?spec=", status=400)["error"]


class TestReadOnlyUiRoutes(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, read_only=True)

    def test_every_changing_route_is_refused(self) -> None:
        self.r.zadd(self.keys.dead(), {member("d", 1): T0})
        for path, body in (
            ("/api/ui/queues/d/pause", None),
            ("/api/ui/queues/d/max_concurrency", {"max_concurrency": 1}),
            ("/api/ui/dead_jobs/bulk", {"action": "delete", "all": True}),
        ):
            assert self.post_json(path, body, status=403) == {"error": "the web UI is read-only"}
        assert not self.client.is_paused("d") and self.client.dead_count() == 1
        assert self.get_json("/api/ui/queues") == []
