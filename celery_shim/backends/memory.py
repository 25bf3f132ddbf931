"""``memory://``: an in-process Redis for users' own unit tests, so ``delay()`` needs no server.

It is fakeredis with its Lua support (``pip install work-compat[memory]``), so work_compat's scripts
run as they would on Redis. Like kombu's memory transport it is process-wide: every app given the
same ``memory://`` URL sees the same data (the one piece of module state here, kept by URL).
Not for proving behaviour: fakeredis fakes cjson with Python's json, so number formats and key
order after a Lua move differ from Redis's.
"""

from __future__ import annotations

import threading
from typing import Any

from work_compat import Connection

from ..exceptions import ImproperlyConfigured

__all__ = ["memory_connection"]

_SERVERS: dict[str, Any] = {}
_LOCK = threading.Lock()


def memory_connection(url: str) -> Connection:
    """A Connection to the process-wide fake Redis named by ``url`` (``memory://`` or ``memory://name``)."""
    try:
        import fakeredis
    except ImportError:
        raise ImproperlyConfigured(
            "broker_url='memory://' needs fakeredis with Lua: pip install 'work-compat[memory]'"
        ) from None
    with _LOCK:
        server = _SERVERS.get(url)
        if server is None:
            server = _SERVERS[url] = fakeredis.FakeServer()
    return Connection(fakeredis.FakeRedis(server=server), url)
