"""A base test case serving make_app(...) over HTTP for one fresh namespace on the session's Redis.

Tornado's AsyncHTTPTestCase is a unittest.TestCase; the autouse fixture hands it the pytest
fixtures before its setUp builds the app.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tornado.httpclient import HTTPResponse
from tornado.testing import AsyncHTTPTestCase
from tornado.web import Application

from tests.redis_server import RedisServer
from webui import WebSettings, make_app
from webui.app import close_app
from work_compat import Client, Enqueuer, Job, ManualClock
from work_compat.connection import RedisTarget

T0 = 1_800_000_000


def member(name: str, n: int, **fields: Any) -> bytes:
    """A job's Go-JSON bytes, as Go stores it in a sorted set."""
    job = Job(name=name, id=fields.pop("id", f"{n:024x}"), enqueued_at=T0 - 100, args={"n": n}, **fields)
    return job.to_bytes()


class WebTestCase(AsyncHTTPTestCase):
    """Serves the app; ``self.r`` is a raw client, ``self.keys`` the namespace's keys."""

    def redis_target(self) -> RedisTarget:
        return self.redis_server.url

    @pytest.fixture(autouse=True)
    def _fixtures(self, redis_server: RedisServer, namespace: str) -> Iterator[None]:
        self.redis_server = redis_server
        self.ns = namespace
        self.r = redis_server.client()
        yield
        self.r.close()

    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns)

    def get_app(self) -> Application:
        target = self.redis_target()
        self.clock = ManualClock(T0)
        self.client = Client(self.ns, target, clock=self.clock)
        self.enqueuer = Enqueuer(self.ns, target, clock=self.clock)
        self.keys = self.client.keys
        self.app = make_app(self.client, self.enqueuer, self.web_settings())
        return self.app

    def tearDown(self) -> None:
        super().tearDown()
        close_app(self.app)
        self.client.close()
        self.enqueuer.close()

    # -- requests ---------------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> HTTPResponse:
        if method in ("POST", "PUT") and body is None:
            body = b""
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        return self.fetch(path, method=method, body=body, raise_error=False, **kw)

    def get_json(self, path: str, status: int = 200, **kw: Any) -> Any:
        return self.parse(self.call("GET", path, **kw), status)

    def post_json(self, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        return self.parse(self.call("POST", path, body, **kw), status)

    @staticmethod
    def parse(resp: HTTPResponse, status: int) -> Any:
        assert resp.code == status, (resp.code, resp.body)
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        assert not resp.body.endswith(b"\n")
        return json.loads(resp.body)  # dicts keep the field order of the body


@pytest.fixture
def raw_redis(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    yield client
    client.close()
