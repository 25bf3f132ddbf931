"""Cross-site refusal, the XSRF token for browser sessions, the token's session cookie, and what is
reachable when auth is configured."""

from __future__ import annotations

from tests.webui.conftest import T0, WebTestCase, member
from tests.webui.test_errors_and_access import basic
from webui import WebSettings
from webui.security import exposure_warning, is_loopback

XSRF = "0123456789abcdef0123456789abcdef"  # a token as Tornado's version-1 cookie holds it (hex)


class TestCrossSite(WebTestCase):
    """An open local dashboard, as Go's tool: scripts need nothing, foreign pages are refused."""

    def dead_count(self) -> int:
        return int(self.r.zcard(self.keys.dead()))

    def setUp(self) -> None:
        super().setUp()
        self.r.zadd(self.keys.dead(), {member("d", 1): T0})

    def test_a_script_without_cookies_or_origin_works_as_with_go(self) -> None:
        assert self.post_json("/api/delete_all_dead_jobs") == {"status": "ok"}
        assert self.dead_count() == 0

    def test_a_foreign_origin_referer_or_fetch_site_is_refused_and_changes_nothing(self) -> None:
        foreign = (
            {"Origin": "http://evil.example"},
            {"Origin": "null"},
            {"Origin": f"http://127.0.0.1:{self.get_http_port() + 1}"},  # another port is another origin
            {"Referer": "https://evil.example/page"},
            {"Sec-Fetch-Site": "cross-site", "Origin": f"http://127.0.0.1:{self.get_http_port()}"},
            {"Sec-Fetch-Site": "same-site"},
        )
        for headers in foreign:
            err = self.post_json("/api/delete_all_dead_jobs", headers=headers, status=403)["error"]
            assert err.startswith("cross-site request refused"), (headers, err)
            assert self.parse(self.call("DELETE", "/api/periodic_schedules/x", headers=headers), 403)
        assert self.dead_count() == 1

    def test_same_origin_browser_requests_pass(self) -> None:
        own = f"http://127.0.0.1:{self.get_http_port()}"
        assert self.post_json("/api/retry_all_dead_jobs", headers={"Origin": own}) == {"status": "ok"}
        assert self.post_json("/api/retry_all_dead_jobs", headers={"Referer": own + "/dead"}) == {"status": "ok"}
        assert self.post_json("/api/retry_all_dead_jobs", headers={"Sec-Fetch-Site": "same-origin"})["status"] == "ok"

    def test_reads_are_never_refused(self) -> None:
        assert self.get_json("/api/dead_jobs", headers={"Origin": "http://evil.example"})["count"] == 1

    def test_a_browser_session_must_echo_the_xsrf_cookie(self) -> None:
        cookie = {"Cookie": f"_xsrf={XSRF}"}
        err = self.post_json("/api/delete_all_dead_jobs", headers=cookie, status=403)["error"]
        assert err.startswith("XSRF token missing or wrong")
        wrong = {**cookie, "X-XSRFToken": "ff" * 16}
        assert self.post_json("/api/delete_all_dead_jobs", headers=wrong, status=403)
        assert self.dead_count() == 1
        assert self.post_json("/api/delete_all_dead_jobs", headers={**cookie, "X-XSRFToken": XSRF})["status"] == "ok"
        assert self.dead_count() == 0


class TestTokenSession(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, api_token="s3cret-token")

    def test_nothing_but_healthcheck_without_the_token(self) -> None:
        for path in ("/api/queues", "/api/tasks", "/metrics", "/api/openapi.json", "/", "/nope"):
            resp = self.call("GET", path)
            assert resp.code == 401, path
            assert resp.headers["WWW-Authenticate"] == 'Bearer realm="workwebui"'
        assert self.call("GET", "/healthcheck").code == 200
        assert self.get_json("/api/queues", headers={"Authorization": "Bearer s3cret-token"}) == []
        assert self.call("GET", "/metrics", headers={"Authorization": "Bearer s3cret-token"}).code == 200

    def test_a_page_opened_with_the_token_gets_a_session_cookie_and_loses_the_token(self) -> None:
        resp = self.call("GET", "/api/queues?token=s3cret-token&x=1", follow_redirects=False)
        assert resp.code == 302
        assert resp.headers["Location"] == "/api/queues?x=1"
        cookie = resp.headers["Set-Cookie"]
        assert cookie.startswith("workwebui_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        session = {"Cookie": cookie.split(";")[0]}
        assert self.get_json("/api/queues", headers=session) == []
        # a state change from that browser session needs the XSRF token too
        assert self.post_json("/api/delete_all_dead_jobs", headers=session, status=403)
        echo = {"Cookie": f"{session['Cookie']}; _xsrf={XSRF}", "X-XSRFToken": XSRF}
        assert self.post_json("/api/delete_all_dead_jobs", headers=echo) == {"status": "ok"}
        # a wrong token in the URL is no login, and a forged cookie is no session
        assert self.call("GET", "/api/queues?token=nope", follow_redirects=False).code == 401
        assert self.call("GET", "/api/queues", headers={"Cookie": "workwebui_session=forged"}).code == 401


class TestBasicAuthEverywhere(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, basic_auth=("ada:pw",))

    def test_pages_api_metrics_and_description_need_it(self) -> None:
        for path in ("/", "/api/workers", "/api/task/info/x", "/metrics", "/api/openapi.json"):
            assert self.call("GET", path).code == 401, path
        assert self.call("GET", "/api/openapi.json", headers=basic("ada", "pw")).code == 200
        # a script with basic auth needs no XSRF token
        assert self.post_json("/api/task/send-task/later", {}, headers=basic("ada", "pw"))["task-id"]


class TestReadOnlyRefusesFlowerActions(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, read_only=True)

    def test_every_action_is_refused(self) -> None:
        for path in ("/api/task/async-apply/x", "/api/task/send-task/x", "/api/task/revoke/x"):
            assert self.post_json(path, {}, status=403) == {"error": "the web UI is read-only"}
        assert self.get_json("/api/tasks") == {}


def test_loopback_and_the_start_warning() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("") and not is_loopback("192.168.1.5")
    assert exposure_warning(WebSettings()) is None
    assert exposure_warning(WebSettings(address="0.0.0.0", basic_auth=("a:b",))) is None
    warning = exposure_warning(WebSettings(address=""))
    assert warning is not None and "every interface without authentication" in warning
