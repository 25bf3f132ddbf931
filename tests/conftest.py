"""Shared fixtures: one private redis-server for the session, a fresh namespace per test.

``redis_cluster`` and ``redis_sentinel`` start a 3-master Cluster and a Sentinel set the first time
a test asks for one (mark such tests ``cluster`` / ``sentinel``) and stop them at session end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.redis_server import ClusterServers, RedisServer, SentinelServers


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--go-libs",
        default="orig",
        help="Go libraries the interop tests run against, comma-separated: orig (gocraft/work), fork (LarnTechKe/work)",
    )


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=redis_server.port)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def namespace() -> str:
    """A namespace no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[ClusterServers]:
    """A 3-master Redis Cluster on loopback ports; ``.url`` is a startup node's URL."""
    cluster = ClusterServers(masters=3).start()
    try:
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[SentinelServers]:
    """A master, a replica and 2 Sentinels watching them as ``mymaster``.

    ``.sentinel_ports`` and ``.url`` (``sentinel://...``) reach the Sentinels. A test may fail the
    master over, so ask ``.master_address()`` which server is the master now.
    """
    sentinels = SentinelServers(sentinels=2, service="mymaster").start()
    try:
        yield sentinels
    finally:
        sentinels.cleanup()
