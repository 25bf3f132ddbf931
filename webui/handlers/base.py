"""BaseHandler: access to the Client and Enqueuer, Go-layout JSON, JSON errors, auth, run_blocking.

Everything a handler needs reaches it through ``self.application.settings`` (set by ``make_app``);
nothing lives at module level, so two apps on two namespaces can share a process.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

import redis
import tornado.web
from tornado.ioloop import IOLoop

from work_compat import (
    Client,
    EncodeError,
    Enqueuer,
    InvalidJobNameError,
    NotDeletedError,
    NotRetriedError,
    RedisUnavailableError,
    ScheduleNotFoundError,
    gojson,
)

from ..jsonfmt import error_body, indent
from ..settings import WebSettings

__all__ = ["ApiError", "BaseHandler", "NotFoundHandler"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

JSON_TYPE = "application/json; charset=utf-8"
_STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")

# What a failed Client or Enqueuer call means to an HTTP caller. Go answers 500 for all of them.
_STATUS_OF: tuple[tuple[tuple[type[BaseException], ...], int], ...] = (
    ((RedisUnavailableError, redis.ConnectionError, redis.TimeoutError), 503),
    ((NotDeletedError, NotRetriedError), 409),  # the entry moved (or went) since it was listed
    ((ScheduleNotFoundError,), 404),
    ((InvalidJobNameError, EncodeError), 400),
)


class ApiError(tornado.web.HTTPError):
    """An HTTP error whose message is shown to the caller as ``{"error": message}``."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code, "%s", message)
        self.message = message


class BaseHandler(tornado.web.RequestHandler):
    """Shared by every handler: auth and read-only checks, JSON output, errors as JSON."""

    # /healthcheck is open to probes even when basic auth is on (as Flower's).
    requires_auth = True

    @property
    def client(self) -> Client:
        c: Client = self.application.settings["work_client"]
        return c

    @property
    def enqueuer(self) -> Enqueuer:
        e: Enqueuer = self.application.settings["work_enqueuer"]
        return e

    @property
    def web_settings(self) -> WebSettings:
        s: WebSettings = self.application.settings["web_settings"]
        return s

    @property
    def executor(self) -> Executor:
        ex: Executor = self.application.settings["work_executor"]
        return ex

    # -- checks before every method ---------------------------------------------------------------
    def prepare(self) -> None:
        if self.requires_auth and not self._authorized():
            raise ApiError(401, "authentication required")
        if self.web_settings.read_only and self.request.method in _STATE_CHANGING and self._implements_method():
            raise ApiError(403, "the web UI is read-only")

    def _implements_method(self) -> bool:
        """True when this handler serves the request's method (otherwise Tornado answers 405)."""
        name = (self.request.method or "").lower()
        return getattr(type(self), name, None) is not getattr(tornado.web.RequestHandler, name, None)

    def _authorized(self) -> bool:
        settings = self.web_settings
        header = self.request.headers.get("Authorization", "")
        users = settings.credentials()
        is_api = self.request.path.startswith(settings.url_prefix + "/api/")
        token = settings.api_token
        if not users and not (token and is_api):
            return True
        if token and is_api and header.startswith("Bearer "):
            return hmac.compare_digest(header[7:].strip().encode(), token.encode())
        if users and header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, _, password = decoded.partition(":")
            expected = users.get(user)
            # compare_digest on a dummy as well, so a wrong user costs what a wrong password does
            ok = hmac.compare_digest(password.encode(), (expected or "\0").encode())
            return ok and expected is not None
        return False

    # -- output -----------------------------------------------------------------------------------
    def write_go_json(self, compact: str, status: int = 200) -> None:
        """Answer with compact Go-JSON text laid out as workwebui does (TABs, no final newline)."""
        self.set_status(status)
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(gojson.to_bytes(indent(compact)))

    def write_ok(self) -> None:
        self.write_go_json('{"status":"ok"}')

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            message = exc.message
        elif isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        else:  # an unexpected failure: Tornado logged the traceback; the caller sees none of it
            message = self._reason.lower() if status_code != 500 else "internal server error"
        if status_code == 401:  # set here: send_error clears the headers set before it
            self.set_header("WWW-Authenticate", 'Basic realm="workwebui"')
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(gojson.to_bytes(error_body(message)))

    # -- blocking work ----------------------------------------------------------------------------
    async def run_blocking(
        self, fn: Callable[..., T], *args: Any, bad_input: tuple[type[BaseException], ...] = (), **kwargs: Any
    ) -> T:
        """Run a blocking Client/Enqueuer call on the app's thread pool, mapping its errors to HTTP.

        ``bad_input`` lists further exception types that mean the caller's input was wrong (400).
        """
        call = functools.partial(fn, *args, **kwargs)
        try:
            return await IOLoop.current().run_in_executor(self.executor, call)
        except Exception as err:
            for types, status in _STATUS_OF:
                if isinstance(err, types):
                    raise ApiError(status, str(err)) from err
            if bad_input and isinstance(err, bad_input):
                raise ApiError(400, str(err)) from err
            raise


class NotFoundHandler(BaseHandler):
    """Every path no route matches: a JSON 404 for any method (Go serves its SPA to unknown GETs)."""

    def prepare(self) -> None:
        super().prepare()
        raise ApiError(404, "not found")
