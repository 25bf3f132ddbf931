"""WebSettings: everything the web UI is configured with, one frozen value built by the CLI or a caller."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_ADDRESS", "DEFAULT_PORT", "WebSettings", "normalize_prefix"]

DEFAULT_ADDRESS = "127.0.0.1"  # Go's workwebui listens on ":5040", every interface; loopback is safer
DEFAULT_PORT = 5040


def normalize_prefix(prefix: str) -> str:
    """``"ui"``, ``"/ui/"`` and ``"/ui"`` all become ``"/ui"``; ``""`` and ``"/"`` become ``""``."""
    parts = [p for p in prefix.split("/") if p]
    return "/" + "/".join(parts) if parts else ""


@dataclass(frozen=True)
class WebSettings:
    """How the server reaches Redis, where it listens and who may change what.

    ``redis`` follows workwebui's rules (§7.5): a ``redis://`` or ``rediss://`` URL selects its own
    database; anything else is ``host:port`` plus ``database``. ``basic_auth`` holds
    ``"user:password"`` entries and ``api_token`` a token; when either is set, every route but
    ``/healthcheck`` needs valid basic credentials, ``Authorization: Bearer <token>``, or the
    session cookie a browser gets by opening a page with ``?token=<token>`` (webui.security).
    ``read_only`` refuses every state-changing route.
    ``max_workers`` sizes the thread pool that runs the blocking Redis calls.
    ``metrics_public`` leaves ``/metrics`` open under auth (for a scraper without credentials);
    ``result_backend`` is the Redis URL where celery_shim stores results (Celery's
    ``celery-task-meta-<id>`` keys, with ``result_prefix`` before them), None when results are not
    kept; ``cookie_secret`` signs the browser's session cookie (random per start when None).
    ``allowed_hosts`` are further names the ``Host`` header may carry (webui.hosts; ``*``: any);
    ``xheaders`` trusts a proxy's ``X-Forwarded-Proto``/``X-Real-Ip`` (Flower's ``--xheaders``), so
    behind a TLS proxy cookies are ``Secure`` and the browser's ``https`` origin is this one.
    """

    redis: str = ":6379"
    database: int = 0
    namespace: str = "work"
    address: str = DEFAULT_ADDRESS
    port: int = DEFAULT_PORT
    url_prefix: str = ""
    read_only: bool = False
    basic_auth: tuple[str, ...] = ()
    api_token: str | None = None
    max_workers: int = 4
    metrics_public: bool = False
    result_backend: str | None = None
    result_prefix: str = ""
    cookie_secret: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    xheaders: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "url_prefix", normalize_prefix(self.url_prefix))
        object.__setattr__(self, "basic_auth", tuple(self.basic_auth))
        object.__setattr__(self, "allowed_hosts", tuple(self.allowed_hosts))
        for entry in self.basic_auth:
            user, colon, password = entry.partition(":")
            if not colon:
                raise ValueError(f"basic_auth entry {user!r} must be user:password")
            if not user or not password:  # no browser could log in with it, yet auth would be on
                raise ValueError(f"basic_auth entry {user!r} has an empty {'user name' if not user else 'password'}")
        if self.api_token is not None and not self.api_token.strip():
            raise ValueError("api_token is empty: give a token, or none to serve without one")
        if not 0 <= self.port < 65536:
            raise ValueError(f"port {self.port} is not a port number")
        if self.max_workers < 1:
            raise ValueError("max_workers must be at least 1")

    def credentials(self) -> dict[str, str]:
        """``basic_auth`` as user -> password."""
        return {user: password for user, _, password in (e.partition(":") for e in self.basic_auth)}
