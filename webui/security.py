"""Who may do what: credentials, the browser's cookie session, and cross-site request refusal.

The rules, in the order a request meets them:

1. **Cross-site refusal** (state-changing methods only). A browser says where a request comes
   from: ``Sec-Fetch-Site`` (modern browsers, not forgeable by a page), else ``Origin``, else
   ``Referer``. Anything but this dashboard's own origin is refused, whatever credentials the
   browser attaches (it sends cached basic-auth credentials and cookies cross-site too). Scripts
   send none of these headers and pass.
2. **XSRF token for cookie sessions.** A request carrying one of this dashboard's cookies comes
   from a browser that loaded a page; it must echo the ``_xsrf`` cookie's value in the
   ``X-XSRFToken`` header or an ``_xsrf`` form field (Tornado's double-submit check). Requests
   without cookies (curl with basic auth or the token, or any script on an open local dashboard,
   as Go's workwebui allows) are unchanged.
3. **Authentication**, when basic auth or a token is configured: every route but
   ``/healthcheck`` (and ``/metrics`` with ``metrics_public``) needs valid basic credentials, the
   token as ``Authorization: Bearer``, or the session cookie. A browser gets the session cookie by
   opening any page once with ``?token=...``; the token then leaves the address bar.

Flower 2's ``FLOWER_UNAUTHENTICATED_API`` guard (refuse the API when no auth is set) is not
adopted: Go's workwebui API is open by default and scripts written against it must keep working.
The dashboard listens on loopback unless told otherwise and warns at start when it is reachable
from elsewhere without authentication or with a short secret. Before all of these, a request whose
``Host`` is not one of the dashboard's names is refused (webui.hosts: DNS rebinding). Every answer
forbids framing (``X-Frame-Options``, CSP ``frame-ancestors``) so no other page can click the
dashboard's buttons for a user, and what is logged about a request has its control characters
escaped and the ``?token=`` value removed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from tornado.httputil import HTTPServerRequest

from .settings import WebSettings

__all__ = [
    "MIN_SECRET_LENGTH",
    "SECURITY_HEADERS",
    "SESSION_COOKIE",
    "SESSION_DAYS",
    "XSRF_COOKIE",
    "basic_user",
    "cross_site_refusal",
    "exposure_warning",
    "has_browser_cookies",
    "is_loopback",
    "log_request",
    "loggable",
    "request_summary",
    "session_value",
    "start_warnings",
    "token_matches",
]

SESSION_COOKIE = "workwebui_session"
SESSION_DAYS = 7  # how long a signed session cookie is accepted (the browser drops it at exit)
XSRF_COOKIE = "_xsrf"  # Tornado's name; the pages' scripts read it
_ALLOWED_FETCH_SITES = ("same-origin", "none")  # "none": typed in the address bar, a bookmark
_DEFAULT_PORTS = {"http": "80", "https": "443"}
MIN_SECRET_LENGTH = 16  # a shorter token or password on a reachable dashboard gets a start warning

# Sent with every answer, errors and static files included. The pages load only their own scripts
# and styles (no inline code), so the policy can be strict; frame-ancestors and X-Frame-Options
# (for older browsers) keep other pages from framing the dashboard and clicking its buttons.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

access_log = logging.getLogger("tornado.access")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TOKEN_PARAM = re.compile(r"(?i)([?&]token=)[^&#]*")


def is_loopback(address: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    host = address.strip("[]")
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(settings: WebSettings) -> str | None:
    """The warning to print at start when other machines can reach an unauthenticated dashboard."""
    if is_loopback(settings.address) or settings.basic_auth or settings.api_token:
        return None
    where = settings.address or "every interface"
    mode = "read-only" if settings.read_only else "including retry, delete and enqueue"
    return (
        f"WARNING: listening on {where} without authentication: anyone who can reach this port can use the "
        f"dashboard and its API ({mode}); set --basic-auth or --api-token, or listen on 127.0.0.1"
    )


def start_warnings(settings: WebSettings) -> list[str]:
    """Everything to warn about at start: no authentication where others can reach the dashboard,
    or a token or password short enough to guess there."""
    warnings = [w for w in (exposure_warning(settings),) if w is not None]
    if is_loopback(settings.address):
        return warnings
    short = [f"the password of {user!r}" for user, pw in settings.credentials().items() if len(pw) < MIN_SECRET_LENGTH]
    if settings.api_token is not None and len(settings.api_token) < MIN_SECRET_LENGTH:
        short.insert(0, "the API token")
    if short:
        warnings.append(
            f"WARNING: {', '.join(short)} has fewer than {MIN_SECRET_LENGTH} characters and the dashboard is reachable "
            "from other machines: use a long random secret (python -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    return warnings


def loggable(text: str) -> str:
    """``text`` safe to put in one log line: newlines, NULs and other control characters escaped,
    so a crafted path or job id cannot start a forged line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def request_summary(request: HTTPServerRequest) -> str:
    """``METHOD uri (ip)`` for the logs, without the ``?token=`` value and with control characters
    escaped (the uri is percent-encoded as sent, but a raw byte may still be there)."""
    uri = _TOKEN_PARAM.sub(r"\1[redacted]", request.uri or "")
    return loggable(f"{request.method} {uri} ({request.remote_ip})")


def log_request(handler: Any) -> None:
    """The access log line (Tornado's ``log_function``): Tornado's format over request_summary."""
    status = handler.get_status()
    log = access_log.info if status < 400 else access_log.warning if status < 500 else access_log.error
    log("%d %s %.2fms", status, request_summary(handler.request), 1000.0 * handler.request.request_time())


def _url_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, without the scheme's default port; None if
    not an http(s) URL. The scheme counts: ``https://host`` is another origin than ``http://host``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    default = ":" + _DEFAULT_PORTS[parts.scheme]
    return f"{parts.scheme}://{host[: -len(default)] if host.endswith(default) else host}"


def _origin(request: HTTPServerRequest) -> str:
    """This dashboard's origin as the browser sees it: scheme (``https`` behind a TLS proxy only
    with ``--xheaders``) and ``host[:port]`` without the scheme's default port."""
    scheme = request.protocol if request.protocol in _DEFAULT_PORTS else "http"
    host = request.host.lower()
    default = ":" + _DEFAULT_PORTS[scheme]
    return f"{scheme}://{host[: -len(default)] if host.endswith(default) else host}"


def cross_site_refusal(request: HTTPServerRequest) -> str | None:
    """Why a state-changing request is refused as cross-site, or None when it may go on."""
    headers = request.headers
    site = headers.get("Sec-Fetch-Site")
    if site is not None:
        if site.strip().lower() in _ALLOWED_FETCH_SITES:
            return None
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    for name in ("Origin", "Referer"):
        value = headers.get(name)
        if value is None:
            continue
        if _url_origin(value) != _origin(request):
            return f"cross-site request refused ({name} {value!r} is not this dashboard)"
        return None
    return None


def has_browser_cookies(request: HTTPServerRequest) -> bool:
    """True when the request carries this dashboard's cookies: a browser that loaded a page."""
    try:
        cookies = request.cookies
    except Exception:  # an unparsable Cookie header: treat it as a browser's, so the token is required
        return True
    return XSRF_COOKIE in cookies or SESSION_COOKIE in cookies


def token_matches(given: str, token: str) -> bool:
    """Constant-time comparison of a presented token with the configured one."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass"))


def session_value(token: str) -> str:
    """What the signed session cookie holds: a digest of the token, so a new token ends old sessions."""
    return hashlib.sha256(b"workwebui-session:" + token.encode("utf-8", "surrogatepass")).hexdigest()


def basic_user(header: str, users: dict[str, str]) -> str | None:
    """The user a ``Basic`` Authorization header proves, or None."""
    if not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    expected = users.get(user)
    # compare against a dummy as well, so a wrong user costs what a wrong password does
    ok = hmac.compare_digest(password.encode(), (expected or "\0").encode())
    return user if ok and expected is not None else None
