"""Fixtures for the interop tests: the Go driver built from the module proxy, per library, and
the Go processes a test starts (``procs``).

Which libraries run is ``--go-libs`` (default ``orig``): the proxy serves gocraft/work v0.5.1 but
refuses LarnTechKe/work entirely, so ``fork`` can only be selected where the proxy serves it. A
missing Go toolchain fails the tests that need it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.driver import LIBRARIES, GoDriver, build, require_go
from tests.redis_server import RedisServer

pytestmark = pytest.mark.interop


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "go_lib" in metafunc.fixturenames:
        libs = [lib.strip() for lib in metafunc.config.getoption("go_libs").split(",") if lib.strip()]
        unknown = set(libs) - set(LIBRARIES)
        if unknown:
            raise pytest.UsageError(f"--go-libs: unknown {sorted(unknown)}; choose from {sorted(LIBRARIES)}")
        metafunc.parametrize("go_lib", libs, scope="session")


_built: dict[str, Path] = {}


@pytest.fixture(scope="session")
def go_binary_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("go-drivers")


@pytest.fixture(scope="session")
def go_driver(go_lib: str, go_binary_dir: Path, redis_server: RedisServer) -> GoDriver:
    go = require_go("the interop tests")
    if go_lib not in _built:
        _built[go_lib] = build(go_lib, go_binary_dir, go)
    return GoDriver(go_lib, _built[go_lib], redis_server.url)


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; any still running at the end is killed, and every pipe closed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.communicate()
