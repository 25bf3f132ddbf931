"""Fixtures for the interop tests: the Go driver built per library (tests/interop/golibs.py), and
the Go processes a test starts (``procs``).

``--go-libs`` (default ``orig,fork``) selects the libraries. Each is built against its pinned
version from the Go module proxy, or from the source tree ``--gocraft-src`` / ``--fork-src`` (or
``WORK_COMPAT_GOCRAFT_SRC`` / ``WORK_COMPAT_FORK_SRC``) names; where neither has it, its tests skip
with one line saying how to provide it. A missing Go toolchain fails the tests that need it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.interop.driver import LIBRARIES, GoDriver, LibraryUnavailable, build, require_go
from tests.redis_server import RedisServer

pytestmark = pytest.mark.interop


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "go_lib" in metafunc.fixturenames:
        libs = [lib.strip() for lib in metafunc.config.getoption("go_libs").split(",") if lib.strip()]
        unknown = set(libs) - set(LIBRARIES)
        if unknown:
            raise pytest.UsageError(f"--go-libs: unknown {sorted(unknown)}; choose from {sorted(LIBRARIES)}")
        if "fork_driver" in metafunc.fixturenames:  # a fork-only feature: gocraft/work has none of it
            libs = [lib for lib in libs if lib == "fork"]
        metafunc.parametrize("go_lib", libs, scope="session")


_unavailable: dict[str, str] = {}


@pytest.fixture(scope="session")
def go_driver(go_lib: str, redis_server: RedisServer) -> GoDriver:
    go = require_go("the interop tests")
    if go_lib in _unavailable:
        pytest.skip(_unavailable[go_lib])
    try:
        binary = build(go_lib, go=go)
    except LibraryUnavailable as e:
        _unavailable[go_lib] = str(e)
        pytest.skip(str(e))
    return GoDriver(go_lib, binary, redis_server.url)


@pytest.fixture
def fork_driver(go_driver: GoDriver) -> GoDriver:
    """The driver of LarnTechKe/work, for tests of what only the fork has (with ``--go-libs`` naming fork)."""
    assert go_driver.lib == "fork"
    return go_driver


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; any still running at the end is killed, and every pipe closed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.communicate()
