"""Which ``Host`` headers the dashboard answers: the defence against DNS rebinding.

A page on ``http://rebind.example:5040`` whose name the attacker later points at 127.0.0.1 is, to
the browser, same-origin with itself: it may read the API and send POSTs with
``Sec-Fetch-Site: same-origin`` and a matching ``Origin``. Only the ``Host`` header still names the
attacker's domain, so every request is refused unless its Host is one of:

* an IP address (a literal address cannot be rebound),
* ``localhost`` or a name under ``.localhost`` (browsers resolve these to loopback themselves),
* the address the dashboard listens on, or this machine's host name,
* a name given with ``--allowed-hosts`` (``.example.com`` also admits its subdomains; ``*`` admits
  any, for a proxy that already checks it).

The same rule as Jupyter's and webpack-dev-server's host checks, applied on every route, whatever
the authentication: a name behind a reverse proxy is one ``--allowed-hosts`` entry away.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

__all__ = ["HostCheck"]


def _hostname(host: str) -> str:
    """The name of a ``Host`` header, lower-cased, without port, brackets or final dot."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:5040
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return host.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostCheck:
    """The allowed names for one app, fixed when it is built."""

    def __init__(self, address: str, allowed: Iterable[str], machine_name: str | None = None) -> None:
        entries = [a.strip().lower().rstrip(".") for a in allowed if a.strip()]
        self.any = "*" in entries
        self.suffixes = tuple(e for e in entries if e.startswith("."))
        names = {e for e in entries if not e.startswith(".")}
        names.add(_hostname(address))
        names.add((machine_name if machine_name is not None else socket.gethostname()).lower())
        names.discard("")
        self.names = frozenset(names)

    def allows(self, host: str) -> bool:
        """True when a request with this ``Host`` header may be answered."""
        if self.any:
            return True
        name = _hostname(host)
        if not name:
            return False
        if _is_ip(name) or name == "localhost" or name.endswith(".localhost") or name in self.names:
            return True
        return any(name == s[1:] or name.endswith(s) for s in self.suffixes)

    def refusal(self, host: str) -> str | None:
        """Why a request with this ``Host`` is refused, or None when it is allowed."""
        if self.allows(host):
            return None
        shown = host.encode("ascii", "backslashreplace").decode()[:200]
        return (
            f"Host {shown!r} is not a name this dashboard answers to (a defence against DNS rebinding); "
            f"open it by IP address or localhost, or start it with --allowed-hosts {_hostname(shown) or 'NAME'}"
        )
