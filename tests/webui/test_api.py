"""Every route of the fork's JSON API (protocol §7.3): status, shape, field order and bytes."""

from __future__ import annotations

import json
import threading
from urllib.parse import quote

from tornado.testing import gen_test

from tests.webui.conftest import T0, WebTestCase, member
from webui.jsonfmt import indent
from work_compat import HistoryJob, Job, Queue, RetryJob, decode_job

JOB_FIELDS = ["name", "id", "t", "args"]


class TestListings(WebTestCase):
    def test_queues_bytes_are_gos_indented_layout(self) -> None:
        # Given two jobs of one name, enqueued now
        self.enqueuer.enqueue("mail", {"to": "a"})
        self.enqueuer.enqueue("mail", {"to": "b"})
        # When the queues are listed
        resp = self.call("GET", "/api/queues")
        # Then the body is Go's MarshalIndent bytes: TABs, ": ", no trailing newline
        assert resp.code == 200
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        assert resp.body == b'[\n\t{\n\t\t"job_name": "mail",\n\t\t"count": 2,\n\t\t"latency": 0\n\t}\n]'

    def test_empty_listings(self) -> None:
        assert self.call("GET", "/api/queues").body == b"[]"
        assert self.call("GET", "/api/worker_pools").body == b"[]"
        assert self.call("GET", "/api/busy_workers").body == b"null"  # Go's nil slice
        assert self.call("GET", "/api/periodic_schedules").body == b"[]"
        assert self.call("GET", "/api/dead_jobs").body == b'{\n\t"count": 0,\n\t"jobs": []\n}'

    def test_retry_scheduled_dead_pages_put_the_score_first(self) -> None:
        self.r.zadd(self.keys.retry(), {member("r", 1, fails=1, last_err="bad", failed_at=T0): T0 + 10})
        self.r.zadd(self.keys.scheduled(), {member("s", 2): T0 + 20})
        self.r.zadd(self.keys.dead(), {member("d", 3, fails=4, last_err="x", failed_at=T0): T0})
        retry = self.get_json("/api/retry_jobs")
        assert list(retry) == ["count", "jobs"]
        assert retry["count"] == 1
        assert list(retry["jobs"][0]) == ["retry_at", *JOB_FIELDS, "fails", "err", "failed_at"]
        assert retry["jobs"][0]["retry_at"] == T0 + 10
        assert list(self.get_json("/api/scheduled_jobs")["jobs"][0]) == ["run_at", *JOB_FIELDS]
        dead = self.get_json("/api/dead_jobs?page=1")["jobs"][0]
        assert list(dead) == ["died_at", *JOB_FIELDS, "fails", "err", "failed_at"]
        # the bytes are the job's own Go-JSON, indented
        job = decode_job(member("r", 1, fails=1, last_err="bad", failed_at=T0))
        expected = indent('{"count":1,"jobs":[' + RetryJob(T0 + 10, job).to_json() + "]}")
        assert self.call("GET", "/api/retry_jobs").body == expected.encode()

    def test_html_characters_are_escaped_as_go_does(self) -> None:
        job = Job(name="h", id="1" * 24, enqueued_at=T0, args={"html": "<b>&\u2028"})
        self.r.zadd(self.keys.dead(), {job.to_bytes(): T0})
        body = self.call("GET", "/api/dead_jobs").body
        assert b'"html": "\\u003cb\\u003e\\u0026\\u2028"' in body

    def test_pages_of_20_and_page_zero_or_empty_is_the_first(self) -> None:
        self.r.zadd(self.keys.dead(), {member("d", n): T0 + n for n in range(25)})
        second = self.get_json("/api/dead_jobs?page=2")
        assert second["count"] == 25
        assert [j["died_at"] for j in second["jobs"]] == [T0 + n for n in range(20, 25)]
        for query in ("", "?page=", "?page=0", "?page=1"):
            assert len(self.get_json("/api/dead_jobs" + query)["jobs"]) == 20

    def test_the_first_page_and_job_name_value_counts_as_in_go(self) -> None:
        # Go reads r.URL.Query().Get: the first value, as sent (Tornado's getter takes the last, stripped)
        self.r.zadd(self.keys.dead(), {member("d", n): T0 + n for n in range(25)})
        assert len(self.get_json("/api/dead_jobs?page=2&page=x")["jobs"]) == 5
        assert len(self.get_json("/api/dead_jobs?page")["jobs"]) == 20
        last = (2**63 - 1) // 20 + 1  # the last page whose offset Redis takes: empty, as Go's
        assert self.get_json(f"/api/dead_jobs?page={last}") == {"count": 25, "jobs": []}
        assert self.get_json(f"/api/dead_jobs?page={last + 1}", status=400)["error"].startswith("invalid page")
        self.r.zadd(self.keys.history_for("d"), {HistoryJob(T0, "dead", decode_job(member("d", 1))).to_json(): T0})
        assert self.get_json("/api/history_jobs?job_name=d&job_name=x")["count"] == 1
        assert self.get_json("/api/history_jobs?job_name=%20d")["count"] == 0

    def test_listed_args_are_what_gos_float64_makes_of_them(self) -> None:
        # Given a job with numbers Go cannot hold exactly, a negative zero, and a field beside Go's
        job = Job(name="n", id="1" * 24, enqueued_at=T0, args={"big": 2**53 + 1, "neg0": -0.0, "list": [10**20]})
        job.extra["meta"] = {"x": 1}
        self.r.zadd(self.keys.dead(), {job.to_bytes(): T0})
        # Then the listing shows them as Go's client does: float64 values, no extra field
        body = self.call("GET", "/api/dead_jobs").body
        assert b'"big": 9007199254740992' in body and b'"neg0": -0' in body and b"100000000000000000000" in body
        assert b"meta" not in body
        assert self.r.zrange(self.keys.dead(), 0, -1) == [job.to_bytes()]  # nothing rewritten

    def test_head_answers_as_get_without_a_body(self) -> None:
        self.enqueuer.enqueue("mail", {})
        for path in ("/api/queues", "/api/dashboard", "/api/dead_jobs", "/api/history_jobs", "/api/redis_info"):
            resp = self.call("HEAD", path)
            assert (resp.code, resp.headers["Content-Type"], resp.body) == (200, "application/json; charset=utf-8", b"")
        assert self.call("HEAD", "/api/dead_jobs?page=x").code == 400

    def test_worker_pools_and_busy_workers(self) -> None:
        self.r.sadd(self.keys.worker_pools(), "p1")
        self.r.hset(
            self.keys.heartbeat("p1"),
            mapping={
                "started_at": T0,
                "heartbeat_at": T0 + 5,
                "job_names": "b,a",
                "concurrency": 2,
                "host": "h",
                "pid": 42,
                "worker_ids": "w2,w1",
            },
        )
        pools = self.get_json("/api/worker_pools")
        assert list(pools[0]) == [
            "worker_pool_id",
            "started_at",
            "heartbeat_at",
            "job_names",
            "concurrency",
            "host",
            "pid",
            "worker_ids",
        ]
        assert pools[0]["job_names"] == ["a", "b"]
        assert self.call("GET", "/api/busy_workers").body == b"null"
        self.r.hset(
            self.keys.worker_observation("w1"),
            mapping={
                "job_name": "a",
                "job_id": "j1",
                "started_at": T0,
                "args": '{"x":1}',
                "checkin": "",
                "checkin_at": 0,
            },
        )
        busy = self.get_json("/api/busy_workers")
        assert [o["worker_id"] for o in busy] == ["w1"]
        assert list(busy[0]) == [
            "worker_id",
            "is_busy",
            "job_name",
            "job_id",
            "started_at",
            "args_json",
            "checkin",
            "checkin_at",
        ]
        assert busy[0]["args_json"] == '{"x":1}'

    def test_dashboard_counts_everything(self) -> None:
        self.enqueuer.enqueue("a", {})
        self.enqueuer.enqueue("a", {})
        self.enqueuer.enqueue("b", {})
        self.r.zadd(self.keys.dead(), {member("d", 1): T0, member("d", 2): T0})
        self.r.zadd(self.keys.retry(), {member("r", 1): T0})
        self.r.sadd(self.keys.worker_pools(), "p1")
        self.r.hset(self.keys.heartbeat("p1"), mapping={"worker_ids": "w1,w2", "heartbeat_at": T0})
        self.r.hset(self.keys.worker_observation("w2"), mapping={"job_name": "a", "job_id": "x"})
        dash = self.get_json("/api/dashboard")
        assert dash == {
            "queues": {"total": 2, "jobs": 3},
            "retry": {"count": 1},
            "scheduled": {"count": 0},
            "dead": {"count": 2},
            "history": {"count": 0},
            "workers": {"active": 1, "total": 2, "pools": 1},
            "schedules": {"count": 0},
        }
        assert list(dash) == ["queues", "retry", "scheduled", "dead", "history", "workers", "schedules"]
        assert list(dash["workers"]) == ["active", "total", "pools"]

    def test_redis_info_fields_in_gos_order(self) -> None:
        info = self.get_json("/api/redis_info")
        assert list(info) == [
            "version",
            "uptime_seconds",
            "connected_clients",
            "used_memory",
            "used_memory_human",
            "used_memory_peak_human",
            "total_commands_processed",
            "instantaneous_ops_per_sec",
            "keyspace_hits",
            "keyspace_misses",
            "db_keys",
        ]
        assert info["version"]

    def test_healthcheck_says_ok(self) -> None:
        resp = self.call("GET", "/healthcheck")
        assert (resp.code, resp.body) == (200, b"OK")


class TestDeadRetryScheduledActions(WebTestCase):
    def test_delete_dead_job_then_409_when_already_gone(self) -> None:
        self.r.zadd(self.keys.dead(), {member("d", 1): T0})
        resp = self.call("POST", f"/api/delete_dead_job/{T0}/{1:024x}")
        assert (resp.code, resp.body) == (200, b'{\n\t"status": "ok"\n}')
        assert self.r.zcard(self.keys.dead()) == 0
        again = self.post_json(f"/api/delete_dead_job/{T0}/{1:024x}", status=409)
        assert again == {"error": "nothing deleted"}

    def test_retry_dead_job_requeues_then_409(self) -> None:
        self.r.sadd(self.keys.known_jobs(), "d")
        self.r.zadd(self.keys.dead(), {member("d", 1, fails=3, last_err="x", failed_at=T0): T0})
        assert self.post_json(f"/api/retry_dead_job/{T0}/{1:024x}") == {"status": "ok"}
        requeued = decode_job(self.r.lindex(self.keys.jobs("d"), 0))
        assert (requeued.id, requeued.fails, requeued.last_err) == (f"{1:024x}", 0, "")
        assert self.post_json(f"/api/retry_dead_job/{T0}/{1:024x}", status=409) == {"error": "nothing retried"}

    def test_retry_all_and_delete_all_dead(self) -> None:
        self.r.sadd(self.keys.known_jobs(), "d")
        self.r.zadd(self.keys.dead(), {member("d", n): T0 - 10 for n in range(3)})
        assert self.post_json("/api/retry_all_dead_jobs") == {"status": "ok"}
        assert self.r.llen(self.keys.jobs("d")) == 3
        self.r.zadd(self.keys.dead(), {member("d", 9): T0})
        assert self.post_json("/api/delete_all_dead_jobs") == {"status": "ok"}
        assert self.r.exists(self.keys.dead()) == 0

    def test_a_periodic_id_with_spaces_and_slash_round_trips(self) -> None:
        job_id = "periodic:name:*/5 * * * * *:1795821860"
        self.r.zadd(self.keys.scheduled(), {member("p", 1, id=job_id): 1795821860})
        listed = self.get_json("/api/scheduled_jobs")["jobs"][0]
        assert listed["id"] == job_id
        path = f"/api/delete_scheduled_job/{listed['run_at']}/{quote(listed['id'], safe='')}"
        assert "%2F" in path and "%20" in path
        assert self.post_json(path) == {"status": "ok"}
        assert self.r.zcard(self.keys.scheduled()) == 0
        assert self.post_json(path, status=409) == {"error": "nothing deleted"}

    def test_delete_retry_job(self) -> None:
        self.r.zadd(self.keys.retry(), {member("r", 1): T0 + 5})
        assert self.post_json(f"/api/delete_retry_job/{T0 + 5}/{1:024x}") == {"status": "ok"}
        assert self.post_json(f"/api/delete_retry_job/{T0 + 5}/{1:024x}", status=409) == {"error": "nothing deleted"}

    def test_non_numeric_scores_are_400(self) -> None:
        for path in ("/api/delete_retry_job/soon/x", "/api/delete_dead_job/1.5/x", "/api/retry_dead_job/9e9/x"):
            assert "want a base-10 integer" in self.post_json(path, status=400)["error"]
        too_big = self.post_json("/api/delete_scheduled_job/99999999999999999999/x", status=400)
        assert too_big["error"].startswith("invalid run_at")


class TestHistory(WebTestCase):
    def add_history(self, n: int, name: str, completed_at: int, status: str = "success") -> HistoryJob:
        h = HistoryJob(completed_at, status, Job(name=name, id=f"{n:024x}", enqueued_at=T0, args={"n": n}))
        raw = h.to_json().encode()
        self.r.zadd(self.keys.history(), {raw: completed_at})
        self.r.zadd(self.keys.history_for(name), {raw: completed_at})
        self.r.hset(self.keys.history_index(), h.job.id, raw)
        return h

    def test_history_newest_first_by_name_and_by_id(self) -> None:
        self.add_history(1, "a", T0 + 1)
        self.add_history(2, "b", T0 + 2, "retry")
        self.add_history(3, "a", T0 + 3, "dead")
        all_ = self.get_json("/api/history_jobs")
        assert all_["count"] == 3
        assert [j["completed_at"] for j in all_["jobs"]] == [T0 + 3, T0 + 2, T0 + 1]
        assert list(all_["jobs"][0]) == ["completed_at", "status", *JOB_FIELDS]
        only_a = self.get_json("/api/history_jobs?page=1&job_name=a")
        assert [j["id"] for j in only_a["jobs"]] == [f"{3:024x}", f"{1:024x}"]
        one = self.get_json(f"/api/history_jobs/{2:024x}")
        assert (one["status"], one["name"]) == ("retry", "b")

    def test_unknown_history_id_is_gos_404(self) -> None:
        assert self.get_json("/api/history_jobs/nope", status=404) == {"error": "job not found"}


class TestPeriodicSchedules(WebTestCase):
    def test_add_list_toggle_delete(self) -> None:
        body = {"name": "every min", "job_name": "tick", "spec": "0 * * * * *", "args": {"k": 1}, "enabled": True}
        assert self.post_json("/api/periodic_schedules", body) == {"status": "ok"}
        listed = self.get_json("/api/periodic_schedules")
        assert list(listed[0]) == ["name", "job_name", "spec", "args", "enabled", "created_at", "updated_at"]
        assert (listed[0]["name"], listed[0]["created_at"], listed[0]["updated_at"]) == ("every min", T0, T0)
        name = quote("every min", safe="")
        assert self.post_json(f"/api/periodic_schedules/{name}/disable") == {"status": "ok"}
        assert self.get_json("/api/periodic_schedules")[0]["enabled"] is False
        assert self.post_json(f"/api/periodic_schedules/{name}/enable") == {"status": "ok"}
        assert self.get_json("/api/periodic_schedules")[0]["enabled"] is True
        resp = self.call("DELETE", f"/api/periodic_schedules/{name}")
        assert (resp.code, json.loads(resp.body)) == (200, {"status": "ok"})
        assert self.call("GET", "/api/periodic_schedules").body == b"[]"
        assert self.call("DELETE", f"/api/periodic_schedules/{name}").code == 200  # absent: still ok

    def test_unknown_schedule_toggles_are_404(self) -> None:
        err = self.post_json("/api/periodic_schedules/ghost/enable", status=404)
        assert "ghost" in err["error"]

    def test_bad_schedules_are_400(self) -> None:
        assert "not a periodic schedule" in self.post_json("/api/periodic_schedules", b"{nope", status=400)["error"]
        bad_spec = {"name": "x", "job_name": "tick", "spec": "99 * * * * *", "enabled": True}
        assert self.post_json("/api/periodic_schedules", bad_spec, status=400)["error"]
        assert self.post_json("/api/periodic_schedules", {"name": 3}, status=400)["error"]
        assert self.call("GET", "/api/periodic_schedules").body == b"[]"


class TestEnqueue(WebTestCase):
    def enqueued(self, name: str) -> Job:
        raw = self.r.lindex(self.keys.jobs(name), 0)
        assert raw is not None
        return decode_job(raw)  # what a Go pool decodes

    def test_enqueue_with_retry_options_and_gos_number_rules(self) -> None:
        body = (
            b'{"job_name":"charge","args":{"big":12345678901234567890,"x":2.50,"i":3,"s":"<a>"},'
            b'"retry":{"max_retries":5,"strategy":"linear","base_delay":30}}'
        )
        job = self.post_json("/api/enqueue", body)
        assert list(job) == ["name", "id", "t", "args", "max_retries", "backoff_base", "backoff_type"]
        assert (job["name"], job["t"], job["backoff_type"]) == ("charge", T0, 1)
        raw = self.r.lindex(self.keys.jobs("charge"), 0)
        assert b'"args":{"big":12345678901234567000,"i":3,"s":"\\u003ca\\u003e","x":2.5}' in raw
        stored = self.enqueued("charge")
        assert (stored.id, stored.max_retries, stored.backoff_base, stored.backoff_type) == (job["id"], 5, 30, 1)
        assert self.r.sismember(self.keys.known_jobs(), "charge")

    def test_strategy_mapping(self) -> None:
        for strategy, expected in (("fixed", 2), ("linear", 1), ("exponential", 0), ("bogus", 0), (None, 0)):
            retry = {"max_retries": 2} if strategy is None else {"strategy": strategy}
            job = self.post_json("/api/enqueue", {"job_name": "j", "retry": retry})
            assert job["backoff_type"] == expected
            assert self.enqueued("j").backoff_type == expected
        plain = self.post_json("/api/enqueue", {"job_name": "plain"})
        assert list(plain) == ["name", "id", "t", "args"]  # no retry fields; nil args are null, as Go
        assert plain["args"] is None
        assert self.enqueued("plain").backoff_type is None

    def test_delay_schedules_and_answers_with_the_job(self) -> None:
        job = self.post_json("/api/enqueue", {"job_name": "later", "args": {}, "delay": 60})
        assert "run_at" not in job and job["t"] == T0
        [(raw, score)] = self.r.zrange(self.keys.scheduled(), 0, -1, withscores=True)
        assert (decode_job(raw).id, score) == (job["id"], T0 + 60)
        assert self.r.llen(self.keys.jobs("later")) == 0

    def test_bad_enqueue_requests_are_400(self) -> None:
        assert self.post_json("/api/enqueue", {"args": {}}, status=400) == {"error": "job_name is required"}
        assert self.post_json("/api/enqueue", {"job_name": ""}, status=400) == {"error": "job_name is required"}
        assert "not valid JSON" in self.post_json("/api/enqueue", b"{", status=400)["error"]
        assert self.post_json("/api/enqueue", {"job_name": "j", "args": [1]}, status=400)["error"]
        assert self.post_json("/api/enqueue", {"job_name": "j", "delay": "soon"}, status=400)["error"]
        assert self.post_json("/api/enqueue", {"job_name": "a:b"}, status=400)["error"]  # invalid job name
        assert self.post_json("/api/enqueue", b'{"job_name":"j","args":{"x":NaN}}', status=400)["error"]
        assert self.r.exists(self.keys.known_jobs()) == 0


class TestEnqueueBodyAsGoDecodesIt(WebTestCase):
    def test_member_names_match_without_case_and_integers_must_be_integer_literals(self) -> None:
        job = self.post_json("/api/enqueue", b'{"JOB_NAME": "mail", "Args": {"n": 1}, "Retry": {"Strategy": "fixed"}}')
        assert (job["name"], job["args"], job["backoff_type"]) == ("mail", {"n": 1}, 2)
        for delay in ("1e3", "1.0", "true", "99999999999999999999"):
            body = b'{"job_name": "mail", "delay": ' + delay.encode() + b"}"
            assert self.post_json("/api/enqueue", body, status=400) == {"error": "delay must be an integer"}
        refused = self.post_json("/api/enqueue", {"job_name": "mail", "retry": {"strategy": 1}}, status=400)
        assert refused == {"error": "retry.strategy must be a string: exponential, linear or fixed"}
        assert self.r.llen(self.keys.jobs("mail")) == 1


class TestEventLoop(WebTestCase):
    @gen_test(timeout=20)
    async def test_a_slow_redis_call_does_not_stall_other_requests(self) -> None:
        # Given a listing whose Redis call hangs in its thread until released
        release = threading.Event()
        real = self.client.queues

        def slow() -> list[Queue]:
            release.wait(10)
            return real()

        self.client.queues = slow  # type: ignore[method-assign]
        pending = self.http_client.fetch(self.get_url("/api/queues"), raise_error=False)
        # When another request comes in meanwhile, it is answered at once
        fast = await self.http_client.fetch(self.get_url("/api/redis_info"))
        assert fast.code == 200
        assert not pending.done()
        # Then the slow one completes once Redis answers
        release.set()
        assert (await pending).body == b"[]"
