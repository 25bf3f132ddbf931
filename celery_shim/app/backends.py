"""The app's result backend, built from its settings (Celery's ``celery.app.backends``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from work_compat import Connection, connect
from work_compat.connection import redact_url

from ..backends.base import DisabledBackend, UnusableBackend
from ..backends.memory import memory_connection
from ..backends.redis import RedisBackend
from ..exceptions import ImproperlyConfigured
from ..gocraft.keys import ResultKeys

__all__ = ["Backend", "backend_from_conf", "redis_result_url"]

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "sentinel://")
_REDIS_ALIASES = ("redis", "rediss")  # Celery's backend names alone: its Redis backend on the redis_* settings
_MEMORY_SCHEMES = ("memory://", "cache+memory://")

Backend = RedisBackend | DisabledBackend


def _seconds(value: Any, setting: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{setting}={value!r} is not a number of seconds or a timedelta") from None


def backend_from_conf(
    conf: Mapping[str, Any],
    *,
    broker: Callable[[], Connection] | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> Backend:
    """The backend ``conf.result_backend`` names; never connects (redis-py connects on first use).

    ``broker`` gives the app's broker connection: a backend URL equal to the broker URL shares
    it, and ``cache+memory://``/``memory://`` with a ``memory://`` broker use the broker's
    in-process Redis (the pytest setup Celery documents). Other schemes (``rpc://``, ``amqp://``,
    ``db+...``, ``cache+memory://`` beside a real broker) give a backend that raises
    ImproperlyConfigured, naming the Redis setting to use, on first use (D18).
    """
    url = conf.get("result_backend")
    if not url:
        return DisabledBackend()
    text = str(url)
    broker_url = str(conf.get("broker_url") or "")
    options = conf.get("result_backend_transport_options") or {}
    keys = ResultKeys(str(options.get("global_keyprefix") or ""))
    expires = _seconds(conf.get("result_expires"), "result_expires")
    failure = _seconds(conf.get("result_failure_expires"), "result_failure_expires")
    extended = bool(conf.get("result_extended", False))

    def make(conn: Connection) -> RedisBackend:
        return RedisBackend(conn, keys=keys, expires=expires, failure_expires=failure, extended=extended, now=now)

    text = _normalised(conf, text)
    if text.startswith(_MEMORY_SCHEMES):
        if broker_url.startswith("memory://"):
            return make(memory_connection(broker_url))
        return UnusableBackend(_refusal(text, broker_url))
    if text.startswith(_REDIS_SCHEMES):
        if broker is not None and text == broker_url:
            return make(broker())
        return make(connect(text))
    return UnusableBackend(_refusal(text, broker_url))


def redis_result_url(conf: Mapping[str, Any]) -> str | None:
    """The Redis URL ``conf.result_backend`` stores results at, or None (no backend, or not Redis)."""
    url = conf.get("result_backend")
    if not url:
        return None
    text = _normalised(conf, str(url))
    return text if text.startswith(_REDIS_SCHEMES) else None


def _normalised(conf: Mapping[str, Any], text: str) -> str:
    """Celery's other spellings of a Redis backend as the URL redis-py takes."""
    if text in _REDIS_ALIASES:
        return _default_redis_url(conf)
    if text.startswith("redis+socket://"):
        return "unix://" + text[len("redis+socket://") :]
    return text


def _default_redis_url(conf: Mapping[str, Any]) -> str:
    """``result_backend='redis'``: Celery's Redis backend with no URL, on ``redis_host``, ``redis_port``,
    ``redis_db`` and ``redis_password`` (localhost, 6379, 0 and none unless set)."""
    host = conf.get("redis_host") or "localhost"
    port = conf.get("redis_port") or 6379
    db = conf.get("redis_db") or 0
    password = conf.get("redis_password")
    auth = f":{quote(str(password), safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/{db}"


def _refusal(url: str, broker_url: str) -> ImproperlyConfigured:
    if "://" not in url:
        return ImproperlyConfigured(
            f"result_backend={url!r} is not supported: celery_shim stores results in Redis; set result_backend to "
            "'redis' or a redis:// URL (CELERY_RESULT_BACKEND in Django settings)"
        )
    scheme = url.split("://", 1)[0]
    redis_broker = broker_url.startswith(("redis://", "rediss://", "unix://"))
    suggestion = redact_url(broker_url) if redis_broker else "redis://localhost:6379/0"
    return ImproperlyConfigured(
        f"result_backend={scheme}://... is not supported: celery_shim stores results in Redis; set "
        f"result_backend={suggestion!r} (CELERY_RESULT_BACKEND in Django settings)"
    )
