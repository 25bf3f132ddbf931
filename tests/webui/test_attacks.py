"""Attacks on a running dashboard that must fail: framing, DNS rebinding, forged log lines, the
token in the access log, an https Origin on plain HTTP; and settings that would look safe but are
not (an empty password or token, a short secret on a reachable dashboard)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.webui.conftest import T0, WebTestCase, member
from tests.webui.test_cli import settings as cli_settings
from webui import WebSettings
from webui.cli import main
from webui.hosts import HostCheck
from webui.security import SECURITY_HEADERS, start_warnings

XSRF = "0123456789abcdef0123456789abcdef"


class CapturingCase(WebTestCase):
    @pytest.fixture(autouse=True)
    def _logs(self, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
        caplog.set_level(logging.INFO)
        self.caplog = caplog
        yield

    def log_lines(self) -> list[str]:
        """What the handlers would write: each record formatted, then split as a file would be."""
        out: list[str] = []
        for record in self.caplog.records:
            out.extend(record.getMessage().split("\n"))
        return out


class TestNoFraming(WebTestCase):
    def test_every_kind_of_answer_forbids_framing_and_sniffing(self) -> None:
        self.r.zadd(self.keys.dead(), {member("d", 1): T0})
        for method, path in (
            ("GET", "/dead"),
            ("GET", "/api/dead_jobs"),
            ("GET", "/nope"),
            ("GET", "/static/js/core.js"),
            ("GET", "/healthcheck"),
            ("GET", "/workers"),
            ("GET", "/task/unknown"),
            ("POST", "/api/delete_all_dead_jobs?x"),
        ):
            resp = self.call(method, path, follow_redirects=False, headers={"Origin": "http://evil.example"})
            for name, value in SECURITY_HEADERS.items():
                assert resp.headers.get(name) == value, (path, name)
            assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
            assert resp.headers["X-Frame-Options"] == "DENY"
        assert self.r.zcard(self.keys.dead()) == 1


class TestRebinding(WebTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.r.zadd(self.keys.dead(), {member("d", 1): T0})

    def rebound(self, host: str) -> dict[str, str]:
        return {"Host": host, "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}

    def test_a_rebound_name_can_neither_change_nor_read_anything(self) -> None:
        evil = f"rebind.evil.example:{self.get_http_port()}"
        err = self.post_json("/api/delete_all_dead_jobs", headers=self.rebound(evil), status=403)["error"]
        assert "not a name this dashboard answers to" in err and "--allowed-hosts rebind.evil.example" in err
        assert self.r.zcard(self.keys.dead()) == 1
        for path in ("/api/dead_jobs", "/api/tasks", "/metrics", "/healthcheck"):
            assert self.call("GET", path, headers={"Host": evil}).code == 403, path
        page = self.call("GET", "/dead", headers={"Host": evil})
        assert page.code == 403 and b"DNS rebinding" in page.body

    def test_addresses_and_loopback_names_are_answered(self) -> None:
        port = self.get_http_port()
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"app.localhost:{port}", "10.1.2.3"):
            assert self.get_json("/api/dead_jobs", headers={"Host": host})["count"] == 1, host
        assert self.post_json("/api/retry_all_dead_jobs", headers=self.rebound(f"localhost:{port}"))["status"] == "ok"


class TestAllowedHosts(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, allowed_hosts=("dash.example.com", ".corp.example"))

    def test_the_allow_list_admits_its_names_and_subdomains_only(self) -> None:
        for host in ("dash.example.com", "DASH.example.com.:443", "corp.example", "a.b.corp.example:8080"):
            assert self.call("GET", "/api/queues", headers={"Host": host}).code == 200, host
        for host in ("example.com", "evil-corp.example", "dash.example.com.evil.example"):
            assert self.call("GET", "/api/queues", headers={"Host": host}).code == 403, host


def test_host_check_rules() -> None:
    check = HostCheck("0.0.0.0", (), machine_name="buildbox")
    assert check.allows("buildbox:5040") and check.allows("0.0.0.0:5040") and check.allows("[fe80::1]")
    assert not check.allows("") and not check.allows("rebind.evil.example")
    assert HostCheck("dash.local", ["*"], machine_name="x").allows("anything.example")
    assert HostCheck("dash.local", [], machine_name="x").allows("dash.local:5040")


class TestLogs(CapturingCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, api_token="a-long-enough-token-0123")

    def test_a_forged_log_line_stays_inside_its_own_line(self) -> None:
        forged = "2026-01-01 00:00:00,000 INFO tornado.access: 200 GET /admin (10.0.0.1)"
        path = "/worker/abc%0a" + quote(forged, safe="") + "%00%0d%e2%80%a8"
        auth = {"Authorization": "Bearer a-long-enough-token-0123"}
        assert self.call("GET", path, headers=auth).code == 404
        assert self.call("GET", "/api/task/info/x%0a" + quote(forged, safe=""), headers=auth).code == 404
        lines = self.log_lines()
        assert any("abc\\n2026-01-01" in line for line in lines), lines
        assert not any(line.startswith("2026-01-01") for line in lines), lines
        assert not any("\x00" in line or "\r" in line or "\u2028" in line for line in lines)

    def test_the_login_token_never_reaches_the_access_log(self) -> None:
        resp = self.call("GET", "/dead?token=a-long-enough-token-0123&page=2", follow_redirects=False)
        assert resp.code == 302
        assert self.call("GET", "/dead?token=wrong-guess").code == 401
        text = "\n".join(self.log_lines())
        assert "a-long-enough-token-0123" not in text and "wrong-guess" not in text
        assert "GET /dead?token=[redacted]&page=2" in text


class TestOriginScheme(WebTestCase):
    def test_an_https_origin_is_another_origin_on_plain_http(self) -> None:
        self.r.zadd(self.keys.dead(), {member("d", 1): T0})
        own = f"127.0.0.1:{self.get_http_port()}"
        err = self.post_json("/api/delete_all_dead_jobs", headers={"Origin": f"https://{own}"}, status=403)["error"]
        assert err.startswith("cross-site request refused")
        assert self.r.zcard(self.keys.dead()) == 1


class TestCookiesOverTls(WebTestCase):
    """Behind a TLS proxy with --xheaders, the session and XSRF cookies are Secure; without TLS not."""

    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, api_token="a-long-enough-token-0123", xheaders=True)

    def get_httpserver_options(self) -> dict[str, Any]:
        return {"xheaders": True}

    def cookies(self, **headers: str) -> list[str]:
        resp = self.call("GET", "/dead?token=a-long-enough-token-0123", follow_redirects=False, headers=headers)
        assert resp.code == 302
        return resp.headers.get_list("Set-Cookie")

    def test_secure_only_over_tls(self) -> None:
        assert all("Secure" in c for c in self.cookies(**{"X-Forwarded-Proto": "https"}))
        assert not any("Secure" in c for c in self.cookies())
        session = self.cookies(**{"X-Forwarded-Proto": "https"})[0].split(";")[0]
        page = self.call("GET", "/dead", headers={"Cookie": session, "X-Forwarded-Proto": "https"})
        assert page.code == 200 and all("Secure" in c for c in page.headers.get_list("Set-Cookie"))
        # the browser's https origin is this dashboard's own when the proxy says so
        own = f"https://127.0.0.1:{self.get_http_port()}"
        echo = {"Cookie": f"{session}; _xsrf={XSRF}", "X-XSRFToken": XSRF, "X-Forwarded-Proto": "https"}
        assert self.post_json("/api/retry_all_dead_jobs", headers={**echo, "Origin": own})["status"] == "ok"


def test_settings_that_would_look_safe_but_are_not_are_refused() -> None:
    with pytest.raises(ValueError, match="empty password"):
        WebSettings(basic_auth=("admin:",))
    with pytest.raises(ValueError, match="empty user name"):
        WebSettings(basic_auth=(":pw",))
    with pytest.raises(ValueError, match="api_token is empty"):
        WebSettings(api_token="")
    with pytest.raises(ValueError, match="api_token is empty"):
        cli_settings("--api-token", "")


def test_cli_refuses_an_empty_password_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--basic_auth", "admin:"]) == 2
    assert "basic_auth entry 'admin' has an empty password" in capsys.readouterr().err
    assert main(["--api-token", ""]) == 2
    assert "api_token is empty" in capsys.readouterr().err


def test_a_short_secret_on_a_reachable_dashboard_is_warned_about() -> None:
    (warning,) = start_warnings(WebSettings(address="0.0.0.0", api_token="x"))
    assert "the API token has fewer than 16 characters" in warning
    (warning,) = start_warnings(WebSettings(address="", basic_auth=("ada:pw",)))
    assert "the password of 'ada'" in warning
    assert start_warnings(WebSettings(address="127.0.0.1", api_token="x")) == []
    assert start_warnings(WebSettings(address="0.0.0.0", api_token="k" * 16)) == []
    (warning,) = start_warnings(WebSettings(address="0.0.0.0"))
    assert "without authentication" in warning


def test_cli_allowed_hosts_and_xheaders() -> None:
    s = cli_settings("--allowed-hosts", "dash.example.com, .corp.example", "--xheaders")
    assert (s.allowed_hosts, s.xheaders) == (("dash.example.com", ".corp.example"), True)
    s = cli_settings("--allowed_hosts", "*")
    assert (s.allowed_hosts, s.xheaders) == (("*",), False)


class TestUncaughtErrorLog(CapturingCase):
    def test_an_unexpected_failure_logs_its_traceback_without_the_token(self) -> None:
        # WRONGTYPE inside a script: a 500 (listings skip wrong-type keys, a write through one fails)
        self.r.sadd(self.keys.known_jobs(), "a")
        self.r.set(self.keys.jobs("a"), "not a list")
        self.r.zadd(self.keys.dead(), {member("a", 1): T0 - 10})
        assert self.call("POST", "/api/retry_all_dead_jobs?token=not-a-login-attempt-xyz").code == 500
        records = [r for r in self.caplog.records if r.name == "tornado.application"]
        assert records and records[0].exc_info is not None  # the traceback is kept for the operator
        assert "not-a-login-attempt-xyz" not in "\n".join(self.log_lines())
