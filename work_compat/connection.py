"""Turning what a user gives (URL, ``host:port``, client, pool, Sentinel, Cluster) into a client.

URL parsing, TLS, Sentinel and Cluster are redis-py's; this module only decides which of them a
value asks for, checks what the workwebui rules require (protocol §7.5), and makes errors name the
address with the password redacted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Union
from urllib.parse import unquote, urlsplit

import redis
import redis.cluster
import redis.sentinel

from .badkeys import BadKeys
from .errors import ConfigurationError, RedisUnavailableError
from .keys import has_hash_tag

__all__ = ["Connection", "RedisTarget", "connect", "redact_url"]

RedisTarget = Union[str, "redis.Redis", "redis.cluster.RedisCluster", "redis.ConnectionPool", "Connection"]

_URL_SCHEMES = ("redis://", "rediss://", "unix://")
_SENTINEL_SCHEMES = ("sentinel://", "redis+sentinel://")
_HOST_PORT_RE = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[^:/\s]*):(?P<port>[^:/\s]*)$")


@dataclass(frozen=True)
class Connection:
    """A redis-py client plus what error messages and key checks need to know about it."""

    client: Any
    address: str
    cluster: bool = False
    owned: bool = True  # made here from a URL, so close() closes it; a client you passed stays open
    # Wrong-type keys met by the objects sharing this connection (Client, the dashboard's stores).
    bad_keys: BadKeys = field(default_factory=BadKeys, compare=False, repr=False)

    def require_namespace_fits(self, namespace: str) -> None:
        """On Redis Cluster the multi-key scripts need every key in one slot: a ``{tag}`` namespace."""
        if self.cluster and not has_hash_tag(namespace):
            raise ConfigurationError(
                f"namespace {namespace!r} has no hash tag: on Redis Cluster the scripts touch many "
                "keys at once, which must share one slot; use a namespace such as '{myapp}'"
            )

    def close(self) -> None:
        """Close the client this Connection made (a client or pool you passed in is left open)."""
        if not self.owned:
            return
        self.client.close()
        manager = getattr(getattr(self.client, "connection_pool", None), "sentinel_manager", None)
        for sentinel in getattr(manager, "sentinels", []):
            sentinel.close()

    def errors(self) -> _RedisErrors:
        """A context that re-raises connection failures as RedisUnavailableError naming the
        (redacted) address, and a cluster node's redirects as a ConfigurationError."""
        return _RedisErrors(self.address)


class _RedisErrors:
    """The context ``Connection.errors()`` returns; a class, as it wraps every command."""

    __slots__ = ("address",)

    def __init__(self, address: str) -> None:
        self.address = address

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        if err is None:
            return
        if isinstance(err, (redis.ConnectionError, redis.TimeoutError)):
            raise RedisUnavailableError(f"cannot reach Redis at {self.address}: {err}") from err
        if isinstance(err, (redis.exceptions.MovedError, redis.exceptions.AskError)):
            raise ConfigurationError(
                f"Redis at {self.address} is a cluster node: connect with "
                "work_compat.connect(url, cluster=True) and a '{tag}' namespace"
            ) from err


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    return re.sub(r"(?<=://)([^:@/]*):[^@/]*@", r"\1:***@", url)


def connect(
    target: RedisTarget,
    *,
    database: int = 0,
    cluster: bool = False,
    **redis_kwargs: Any,
) -> Connection:
    """Build a Connection from a URL, ``host:port``, a redis-py client or pool, or a Connection.

    - ``redis://``, ``rediss://`` (TLS) and ``unix://`` URLs go to redis-py; the URL's path picks
      the database and ``database`` is ignored, as in Go's workwebui.
    - ``host:port`` (``:6379`` means localhost) connects over TCP and selects ``database``.
    - ``sentinel://host:26379[,host2:26379]/service_name[/db]`` asks the Sentinels for the master.
    - ``cluster=True`` with a URL or ``host:port`` makes a RedisCluster client.
    """
    if isinstance(target, Connection):
        return target
    if isinstance(target, redis.cluster.RedisCluster):
        shown = target.get_nodes()[:3]  # type: ignore[no-untyped-call]
        nodes = ",".join(f"{n.host}:{n.port}" for n in shown)
        return Connection(target, f"cluster {nodes}", cluster=True, owned=False)
    if isinstance(target, redis.Redis):
        return Connection(target, _describe_pool(target.connection_pool), owned=False)
    if isinstance(target, redis.ConnectionPool):
        return Connection(redis.Redis(connection_pool=target), _describe_pool(target), owned=False)
    if not isinstance(target, str):
        raise ConfigurationError(
            f"cannot connect to a {type(target).__name__}: give a redis:// URL, host:port, or a redis-py client or pool"
        )
    text = target.strip()
    if text.startswith(_SENTINEL_SCHEMES):
        return _connect_sentinel(text, redis_kwargs)
    if text.startswith(_URL_SCHEMES):
        _check_url(text)
        address = redact_url(text)
        if cluster:
            return _connect_cluster(address, lambda: redis.cluster.RedisCluster.from_url(text, **redis_kwargs))
        return Connection(redis.Redis.from_url(text, **redis_kwargs), address)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise ConfigurationError(
            f"unsupported scheme {scheme!r} in {redact_url(text)!r}: use redis://, rediss://, "
            "unix://, sentinel:// or host:port"
        )
    host, port = _split_host_port(text)
    if cluster:
        return _connect_cluster(
            f"cluster {host}:{port}", lambda: redis.cluster.RedisCluster(host=host, port=port, **redis_kwargs)
        )
    return Connection(redis.Redis(host=host, port=port, db=database, **redis_kwargs), f"{host}:{port}/{database}")


def _split_host_port(text: str) -> tuple[str, int]:
    m = _HOST_PORT_RE.match(text)
    if m is None:
        raise ConfigurationError(f"malformed Redis address {text!r}: expected host:port or a redis:// URL")
    host = m.group("host").strip("[]") or "localhost"
    port_s = m.group("port")
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise ConfigurationError(f"malformed Redis address {text!r}: port {port_s!r} is not a port number")
    return host, int(port_s)


def _check_url(url: str) -> None:
    """Say what is wrong with a URL before redis-py fails on it less clearly."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise ConfigurationError(f"malformed Redis URL {shown!r}: {err}") from None
    if parts.scheme == "unix":
        if not parts.path:
            raise ConfigurationError(f"malformed Redis URL {shown!r}: unix:// needs a socket path")
        return
    if port == 0:
        raise ConfigurationError(f"malformed Redis URL {shown!r}: port 0")
    path = parts.path
    if path not in ("", "/") and not re.fullmatch(r"/\d+", path):
        raise ConfigurationError(f"malformed Redis URL {shown!r}: invalid database {path[1:]!r}")


def _connect_cluster(address: str, make: Any) -> Connection:
    """RedisCluster connects at once; say plainly when the nodes are down or not a cluster."""
    try:
        return Connection(make(), address, cluster=True)
    except (redis.ConnectionError, redis.TimeoutError) as err:
        raise RedisUnavailableError(f"cannot reach Redis at {address}: {err}") from err
    except redis.exceptions.RedisClusterException as err:
        raise RedisUnavailableError(f"cannot use Redis Cluster at {address}: {err}") from err


def _connect_sentinel(url: str, redis_kwargs: dict[str, Any]) -> Connection:
    shown = redact_url(url)
    rest = url.split("://", 1)[1]
    password = None
    if "@" in rest:
        cred, rest = rest.rsplit("@", 1)
        password = unquote(cred.split(":", 1)[1]) if ":" in cred else unquote(cred)
    hosts, _, path = rest.partition("/")
    segments = [s for s in path.split("/") if s]
    if not hosts or not segments:
        raise ConfigurationError(
            f"malformed Sentinel URL {shown!r}: expected sentinel://host:port[,host:port]/service[/db]"
        )
    service = segments[0]
    db = 0
    if len(segments) > 1:
        if not segments[1].isdigit():
            raise ConfigurationError(f"malformed Sentinel URL {shown!r}: invalid database {segments[1]!r}")
        db = int(segments[1])
    nodes = [_split_host_port(h) for h in hosts.split(",")]
    sentinel_kwargs = redis_kwargs.pop("sentinel_kwargs", {})
    sentinel = redis.sentinel.Sentinel(nodes, sentinel_kwargs=sentinel_kwargs, **redis_kwargs)
    client = sentinel.master_for(service, db=db, password=password)
    return Connection(client, f"sentinel {hosts} service {service} db {db}")


def _describe_pool(pool: Any) -> str:
    kw = getattr(pool, "connection_kwargs", {})
    if "path" in kw:
        return f"unix://{kw['path']}?db={kw.get('db', 0)}"
    service = getattr(pool, "service_name", None)
    if service:
        return f"sentinel service {service}"
    return f"{kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"
