"""BaseHandler: access to the Client and Enqueuer, Go-layout JSON, JSON errors, auth, run_blocking.

Everything a handler needs reaches it through ``self.application.settings`` (set by ``make_app``);
nothing lives at module level, so two apps on two namespaces can share a process.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlencode

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
    OutcomeUnknownError,
    RedisUnavailableError,
    ScheduleNotFoundError,
    gojson,
)

from .. import security
from ..hosts import HostCheck
from ..jsonfmt import error_body, indent
from ..settings import WebSettings

__all__ = ["ApiError", "BaseHandler", "NotFoundHandler", "RedirectHandler"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

JSON_TYPE = "application/json; charset=utf-8"
_STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")

# What a failed Client or Enqueuer call means to an HTTP caller. Go answers 500 for all of them.
_STATUS_OF: tuple[tuple[tuple[type[BaseException], ...], int], ...] = (
    ((RedisUnavailableError, OutcomeUnknownError, redis.ConnectionError, redis.TimeoutError), 503),
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
    # /healthcheck and /metrics run on their own small pool, never queued behind the pages' reads
    probe = False

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
        ex: Executor = self.application.settings["work_probe_executor" if self.probe else "work_executor"]
        return ex

    def set_default_headers(self) -> None:
        """No framing, no sniffing, only the dashboard's own scripts: on every answer, errors too."""
        for name, value in security.SECURITY_HEADERS.items():
            self.set_header(name, value)

    def set_cookie(self, name: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        """Every cookie (the session, Tornado's _xsrf) is ``Secure`` when the page came over TLS."""
        if self.request.protocol == "https":
            kwargs.setdefault("secure", True)
        super().set_cookie(name, value, *args, **kwargs)

    def log_exception(
        self, typ: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Tornado's log lines for a failed request, with the request and message made single-line
        (a message may quote an id taken from the path, ``%0a`` decoded to a newline) and without
        the ``?token=`` value (Tornado would log the whole request)."""
        summary = security.request_summary(self.request)
        if isinstance(value, tornado.web.HTTPError):
            message = value.get_message()
            if message:
                logging.getLogger("tornado.general").warning(
                    "%d %s: %s", value.status_code, summary, security.loggable(message)
                )
            return
        logging.getLogger("tornado.application").error("Uncaught exception %s", summary, exc_info=value)

    def on_finish(self) -> None:
        """After a change made through this dashboard, its shared task listing is read afresh, so a
        script that sends or revokes a task and then lists tasks sees the change."""
        if self.request.method in _STATE_CHANGING and self.get_status() < 400:
            self.application.settings["work_shared_tasks"].clear()

    # -- checks before every method ---------------------------------------------------------------
    def check_xsrf_cookie(self) -> None:
        """Tornado calls this before ``prepare`` on state-changing methods (``xsrf_cookies`` is on):
        refuse cross-site browser requests, and require the XSRF token from cookie sessions only,
        so scripts authenticating by header (or none, on an open dashboard) work as with Go's tool."""
        reason = security.cross_site_refusal(self.request)
        if reason is not None:
            raise ApiError(403, reason)
        if not security.has_browser_cookies(self.request):
            return
        try:
            super().check_xsrf_cookie()
        except tornado.web.HTTPError as err:
            raise ApiError(
                403, "XSRF token missing or wrong: send the _xsrf cookie's value in the X-XSRFToken header"
            ) from err

    def prepare(self) -> None:
        hosts: HostCheck = self.application.settings["work_hosts"]
        refusal = hosts.refusal(self.request.host)
        if refusal is not None:
            raise ApiError(403, refusal)
        if self.requires_auth and self._session_from_query():
            return
        if self.requires_auth and not self._authorized():
            raise ApiError(401, "authentication required")
        if self.web_settings.read_only and self.request.method in _STATE_CHANGING and self._implements_method():
            raise ApiError(403, "the web UI is read-only")

    def _implements_method(self) -> bool:
        """True when this handler serves the request's method (otherwise Tornado answers 405)."""
        return self._serves(self.request.method or "")

    def _serves(self, method: str) -> bool:
        name = method.lower()
        return getattr(type(self), name, None) is not getattr(tornado.web.RequestHandler, name, None)

    def _authorized(self) -> bool:
        """Basic credentials, the token (``Authorization: Bearer``) or the session cookie, when
        either is configured; anyone otherwise."""
        settings = self.web_settings
        users = settings.credentials()
        token = settings.api_token
        if not users and not token:
            return True
        header = self.request.headers.get("Authorization", "")
        if token and header.startswith("Bearer ") and security.token_matches(header[7:].strip(), token):
            return True
        if users and security.basic_user(header, users) is not None:
            return True
        if token:
            session = self.get_signed_cookie(security.SESSION_COOKIE, max_age_days=security.SESSION_DAYS)
            return session is not None and security.token_matches(session.decode(), security.session_value(token))
        return False

    def _session_from_query(self) -> bool:
        """``GET <page>?token=...`` with the right token: set the session cookie and redirect to the
        same URL without the token, so a browser can open a token-protected dashboard."""
        token = self.web_settings.api_token
        given = self.get_query_argument("token", None)
        if self.request.method != "GET" or not token or given is None or not security.token_matches(given, token):
            return False
        self.set_signed_cookie(
            security.SESSION_COOKIE,
            security.session_value(token),
            expires_days=None,
            httponly=True,
            samesite="Lax",  # sent when following a link here; cross-site POSTs are refused anyway
            path=self.web_settings.url_prefix or "/",
        )
        rest = [(k, v.decode("utf-8", "replace")) for k, vs in self.request.query_arguments.items() for v in vs]
        query = urlencode([(k, v) for k, v in rest if k != "token"])
        self.redirect(self.request.path + ("?" + query if query else ""))
        return True

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
            scheme = "Basic" if self.web_settings.basic_auth else "Bearer"
            self.set_header("WWW-Authenticate", f'{scheme} realm="workwebui"')
        if status_code == 405:  # the methods this route takes, sorted as Go's ServeMux lists them
            self.set_header("Allow", ", ".join(sorted(m for m in self.SUPPORTED_METHODS if self._serves(m))))
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


class RedirectHandler(BaseHandler):
    """A fixed redirect (Flower's ``/workers`` and ``/broker``), behind the same checks as the rest."""

    def initialize(self, url: str, permanent: bool = False) -> None:
        self.target = url
        self.permanent = permanent

    def get(self) -> None:
        self.redirect(self.target, permanent=self.permanent)


class NotFoundHandler(BaseHandler):
    """Every path no route matches: a JSON 404 for any method (Go serves its SPA to unknown GETs)."""

    def prepare(self) -> None:
        super().prepare()
        raise ApiError(404, "not found")
