"""Shared fixtures: one private redis-server for the session, a fresh namespace per test.

``redis_cluster`` and ``redis_sentinel`` start a 3-master Cluster and a Sentinel set the first time
a test asks for one (mark such tests ``cluster`` / ``sentinel``) and stop them at session end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.redis_server import ClusterServers, RedisServer, SentinelServers


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--go-libs",
        default="orig,fork",
        help="Go libraries the interop tests run against, comma-separated: orig (gocraft/work 5959e69), "
        "fork (LarnTechKe/work v0.0.3)",
    )
    parser.addoption(
        "--gocraft-src",
        metavar="DIR",
        help="source tree of github.com/gocraft/work 5959e69, for where the Go module proxy does not serve it "
        "(default: $WORK_COMPAT_GOCRAFT_SRC)",
    )
    parser.addoption(
        "--fork-src",
        metavar="DIR",
        help="source tree of github.com/LarnTechKe/work v0.0.3, for where the Go module proxy does not serve it "
        "(default: $WORK_COMPAT_FORK_SRC)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """A source tree given as an option is exported as its environment variable, so every build in
    the session (tests/interop/golibs.py), and any process it starts, sees the same tree."""
    for option, env in (("--gocraft-src", "WORK_COMPAT_GOCRAFT_SRC"), ("--fork-src", "WORK_COMPAT_FORK_SRC")):
        value = config.getoption(option)
        if value:
            os.environ[env] = os.path.abspath(value)


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
