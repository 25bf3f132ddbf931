"""Errors as valid JSON with meaningful statuses; Redis down; read-only; basic auth; url prefix."""

from __future__ import annotations

import base64
import json

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.webui.conftest import T0, WebTestCase, member
from webui import WebSettings
from work_compat.connection import RedisTarget
from work_compat.embedded import free_port


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class TestErrors(WebTestCase):
    def test_bad_page_is_400_json_and_the_message_is_escaped(self) -> None:
        for query in ("x", "-1", "1.5", "+1", "%22%3C"):
            err = self.get_json(f"/api/retry_jobs?page={query}", status=400)
            assert err["error"].startswith("invalid page")
        resp = self.call("GET", "/api/history_jobs?page=%22%3C")
        assert resp.body == b'{"error": "invalid page \'\\"\\u003c\': want a page number from 1"}'

    def test_unknown_routes_are_404_json(self) -> None:
        assert self.get_json("/api/nope", status=404) == {"error": "not found"}
        assert self.get_json("/nope", status=404) == {"error": "not found"}  # "/" is the overview page
        assert self.post_json("/api/nope", status=404) == {"error": "not found"}

    def test_wrong_method_on_a_known_path_is_405_json(self) -> None:
        assert self.get_json("/api/delete_all_dead_jobs", status=405) == {"error": "method not allowed"}
        assert self.post_json("/api/queues", status=405) == {"error": "method not allowed"}
        assert self.parse(self.call("DELETE", "/api/enqueue"), 405) == {"error": "method not allowed"}

    def test_a_405_names_the_methods_the_route_takes(self) -> None:
        assert self.call("PUT", "/api/queues").headers["Allow"] == "GET, HEAD"
        assert self.call("GET", "/api/enqueue").headers["Allow"] == "POST"
        assert self.call("PUT", "/api/periodic_schedules").headers["Allow"] == "GET, HEAD, POST"

    def test_an_unexpected_failure_is_a_500_without_traceback(self) -> None:
        # WRONGTYPE from Redis inside a script (listings skip wrong-type keys and warn, see
        # test_wrong_type_keys.py; a write through one fails)
        self.r.sadd(self.keys.known_jobs(), "a")
        self.r.set(self.keys.jobs("a"), "not a list")
        self.r.zadd(self.keys.dead(), {member("a", 1): T0 - 10})
        resp = self.call("POST", "/api/retry_all_dead_jobs")
        assert (resp.code, json.loads(resp.body)) == (500, {"error": "internal server error"})


class TestRedisDown(WebTestCase):
    def redis_target(self) -> RedisTarget:
        # nothing listens there; no retries, so each refusal is immediate
        return redis.Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0))

    def test_every_route_answers_503_json(self) -> None:
        for path in ("/api/queues", "/api/dashboard", "/api/dead_jobs", "/api/redis_info"):
            err = self.get_json(path, status=503)
            assert err["error"].startswith("cannot reach Redis at 127.0.0.1:")
        # the probe route is open to anyone even under auth: it does not say where Redis is
        assert self.get_json("/healthcheck", status=503) == {"error": "redis unavailable"}
        assert self.post_json(f"/api/delete_dead_job/{T0}/x", status=503)["error"]
        assert self.post_json("/api/enqueue", {"job_name": "j"}, status=503)["error"]


class TestReadOnly(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, read_only=True)

    def test_state_changing_routes_are_403_and_reads_work(self) -> None:
        self.r.zadd(self.keys.dead(), {member("d", 1): T0})
        for path in (
            "/api/delete_all_dead_jobs",
            "/api/retry_all_dead_jobs",
            f"/api/delete_dead_job/{T0}/{1:024x}",
            f"/api/retry_dead_job/{T0}/{1:024x}",
            "/api/enqueue",
            "/api/periodic_schedules",
            "/api/periodic_schedules/x/enable",
        ):
            assert self.post_json(path, {"job_name": "j"}, status=403) == {"error": "the web UI is read-only"}
        assert self.parse(self.call("DELETE", "/api/periodic_schedules/x"), 403)["error"]
        assert self.r.zcard(self.keys.dead()) == 1
        assert self.get_json("/api/dead_jobs")["count"] == 1
        assert self.post_json("/api/queues", status=405)  # wrong method stays a 405
        assert self.post_json("/api/nope", status=404)


class TestBasicAuth(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, basic_auth=("ada:s3cret", "bob:pw:with:colons"), api_token="tok")

    def test_401_without_or_with_wrong_credentials_200_with(self) -> None:
        resp = self.call("GET", "/api/queues")
        assert resp.code == 401
        assert resp.headers["WWW-Authenticate"] == 'Basic realm="workwebui"'
        assert json.loads(resp.body) == {"error": "authentication required"}
        assert self.call("GET", "/api/queues", headers=basic("ada", "nope")).code == 401
        assert self.call("GET", "/api/queues", headers=basic("eve", "s3cret")).code == 401
        assert self.call("GET", "/api/queues", headers={"Authorization": "Basic !!!"}).code == 401
        assert self.call("GET", "/api/nope").code == 401  # unknown paths reveal nothing either
        assert self.get_json("/api/queues", headers=basic("ada", "s3cret")) == []
        assert self.get_json("/api/queues", headers=basic("bob", "pw:with:colons")) == []
        assert self.post_json("/api/delete_all_dead_jobs", headers=basic("ada", "s3cret")) == {"status": "ok"}

    def test_the_api_token_opens_the_api(self) -> None:
        assert self.get_json("/api/queues", headers={"Authorization": "Bearer tok"}) == []
        assert self.call("GET", "/api/queues", headers={"Authorization": "Bearer bad"}).code == 401

    def test_healthcheck_stays_open(self) -> None:
        resp = self.call("GET", "/healthcheck")
        assert (resp.code, resp.body) == (200, b"OK")


class TestUrlPrefix(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, url_prefix="/work/ui/")

    def test_routes_live_under_the_prefix(self) -> None:
        assert self.get_json("/work/ui/api/queues") == []
        assert self.call("GET", "/work/ui/healthcheck").body == b"OK"
        assert self.get_json("/api/queues", status=404) == {"error": "not found"}
