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
    ``"user:password"`` entries; when set, every route but ``/healthcheck`` needs one of them.
    ``api_token``, when set, must be sent as ``Authorization: Bearer <token>`` to reach ``/api/``
    routes (valid basic credentials also pass). ``read_only`` refuses every state-changing route.
    ``max_workers`` sizes the thread pool that runs the blocking Redis calls.
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "url_prefix", normalize_prefix(self.url_prefix))
        object.__setattr__(self, "basic_auth", tuple(self.basic_auth))
        for entry in self.basic_auth:
            if ":" not in entry:
                raise ValueError(f"basic_auth entry {entry.split(':')[0]!r} must be user:password")
        if not 0 <= self.port < 65536:
            raise ValueError(f"port {self.port} is not a port number")
        if self.max_workers < 1:
            raise ValueError("max_workers must be at least 1")

    def credentials(self) -> dict[str, str]:
        """``basic_auth`` as user -> password."""
        return {user: password for user, _, password in (e.partition(":") for e in self.basic_auth)}
