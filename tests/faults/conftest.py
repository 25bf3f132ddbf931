"""Fixtures of the fault suite: a private redis-server, worker processes that the tests SIGKILL,
in-process pools with short cadences, bounded waits, and the state checks every scenario ends with.

Every wait polls a condition with a deadline and fails naming what it waited for and the state it
saw. Every process a test starts is stopped at teardown, by its own pid.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis

from tests.faults.jobs import FAST_BACKOFFS, SETTINGS
from tests.interop.driver import GoDriver, build, require_go
from work_compat import Keys, PoolSettings, WorkerPool
from work_compat.embedded import EmbeddedRedis

REPO = Path(__file__).resolve().parents[2]
HEX24 = re.compile(r"^[0-9a-f]{24}$")
T = TypeVar("T")


def pytest_configure(config: pytest.Config) -> None:
    # Until pyproject's markers list has it.
    config.addinivalue_line("markers", "faults: kills processes and Redis mid-run")


# -- what the scenarios observed, printed after the run ---------------------------------------------

_REPORT: list[str] = []


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Note a count a scenario observed; the notes are printed in pytest's terminal summary."""

    def note(text: str) -> None:
        _REPORT.append(f"{request.node.name}: {text}")
        request.node.user_properties.append(("observed", text))

    return note


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _REPORT:
        terminalreporter.section("fault suite observations")
        for line in _REPORT:
            terminalreporter.write_line(line)


# -- waits ------------------------------------------------------------------------------------------


def wait_for(
    what: str,
    check: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.05,
    state: Callable[[], object] | None = None,
) -> T:
    """Poll ``check`` until it returns something true and return that; AssertionError after
    ``timeout`` seconds naming ``what`` and, when given, ``state()``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            seen = f"; state: {state()}" if state is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{seen}")
        time.sleep(interval)


# -- the Go pool -------------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def go_driver(fault_redis: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> GoDriver:
    """The interop driver built against gocraft/work (tests/interop/orig), on the suite's Redis."""
    go = require_go("the fault scenarios with a Go pool")
    return GoDriver("orig", build("orig", go=go), fault_redis.url)


# -- Redis --------------------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def fault_redis() -> Iterator[EmbeddedRedis]:
    """A redis-server of the fault suite's own, so a scenario gone wrong cannot touch other tests."""
    server = EmbeddedRedis().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def ns() -> str:
    return f"f{uuid.uuid4().hex[:10]}"


@pytest.fixture
def rc(fault_redis: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = fault_redis.client()
    try:
        yield client
    finally:
        client.close()


def _s(v: bytes | str | None) -> str:
    return "" if v is None else v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def pool_ids_by_pid(rc: redis.Redis, keys: Keys) -> dict[int, str]:
    """pid -> pool id of every pool whose heartbeat names a pid."""
    out: dict[int, str] = {}
    for raw in rc.smembers(keys.worker_pools()):
        pool_id = _s(raw)
        try:
            pid = rc.hget(keys.heartbeat(pool_id), "pid")
        except redis.ResponseError:  # a heartbeat key of the wrong type, planted by a scenario
            continue
        if pid is not None:
            out[int(pid)] = pool_id
    return out


def leftovers(rc: redis.Redis, keys: Keys, names: list[str]) -> dict[str, object]:
    """Everything that is not 'all done' for ``names``: non-empty queues and in-progress lists,
    retry/dead/scheduled members, non-zero lock counters and lock_info fields."""
    out: dict[str, object] = {}
    for name in names:
        if n := rc.llen(keys.jobs(name)):
            out[keys.jobs(name)] = n
        lock = rc.get(keys.jobs_lock(name))
        if lock is not None and int(lock) != 0:
            out[keys.jobs_lock(name)] = int(lock)
        info = {_s(k): int(v) for k, v in rc.hgetall(keys.jobs_lock_info(name)).items() if int(v) != 0}
        if info:
            out[keys.jobs_lock_info(name)] = info
    for key in rc.scan_iter(match=keys.jobs_prefix() + "*:inprogress", count=1000):
        if n := rc.llen(key):
            out[_s(key)] = n
    for key in (keys.retry(), keys.dead(), keys.scheduled()):
        if n := rc.zcard(key):
            out[key] = n
    return out


# -- worker processes ---------------------------------------------------------------------------------


@dataclass
class WorkerProc:
    """One ``python -m work_compat worker`` process."""

    popen: subprocess.Popen[bytes]
    log: Path
    processes: bool
    pool_id: str = ""
    killed: bool = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class Workers:
    """Starts worker processes on one namespace; stops every one of them at teardown."""

    url: str
    ns: str
    rc: redis.Redis
    dir: Path
    started: list[WorkerProc] = field(default_factory=list)

    @property
    def keys(self) -> Keys:
        return Keys(self.ns)

    def start(self, concurrency: int, *, processes: bool = False, pool: str = "pool") -> WorkerProc:
        """Start ``python -m work_compat worker tests.faults.jobs:<pool>``."""
        cmd = [sys.executable, "-m", "work_compat", "worker", f"tests.faults.jobs:{pool}", "-c", str(concurrency)]
        cmd += ["--redis", self.url, "--ns", self.ns]
        if processes:
            cmd.append("--processes")
        env = {**os.environ, "WORK_COMPAT_REDIS": self.url, "PYTHONUNBUFFERED": "1"}
        log = self.dir / f"worker-{len(self.started)}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        proc = WorkerProc(popen, log, processes)
        self.started.append(proc)
        return proc

    def wait_ready(self, proc: WorkerProc, timeout: float = 20.0) -> str:
        """Wait for the process's pool heartbeat; returns (and keeps) its pool id."""

        def ready() -> str:
            if not proc.alive():
                raise AssertionError(f"worker {proc.pid} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
            return pool_ids_by_pid(self.rc, self.keys).get(proc.pid, "")

        proc.pool_id = wait_for(f"worker {proc.pid} to beat", ready, timeout, state=proc.log_tail)
        return proc.pool_id

    def sigkill(self, proc: WorkerProc) -> None:
        proc.killed = True
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(timeout=10)

    def terminate(self, proc: WorkerProc, timeout: float = 30.0) -> int:
        """First SIGTERM: the graceful stop; returns the exit code."""
        proc.popen.send_signal(signal.SIGTERM)
        try:
            return proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"worker {proc.pid} did not stop within {timeout}s of SIGTERM:\n{proc.log_tail()}"
            ) from None

    def live(self) -> list[WorkerProc]:
        return [p for p in self.started if p.alive()]

    def logs(self) -> str:
        return "\n".join(f"--- worker {p.pid} (pool {p.pool_id or '?'})\n{p.log_tail(1500)}" for p in self.started)

    def close(self) -> None:
        for proc in self.started:
            if proc.alive():
                proc.popen.send_signal(signal.SIGKILL)
        for proc in self.started:
            try:
                proc.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


@pytest.fixture
def workers(fault_redis: EmbeddedRedis, ns: str, rc: redis.Redis, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(fault_redis.url, ns, rc, tmp_path)
    try:
        yield w
    finally:
        w.close()


# -- in-process pools -----------------------------------------------------------------------------------


@pytest.fixture
def make_pool() -> Iterator[Callable[..., WorkerPool]]:
    """``make_pool(concurrency, namespace, url, processes=False, **settings)``: a WorkerPool with
    the suite's short cadences; stopped and closed at teardown."""
    pools: list[WorkerPool] = []

    def make(concurrency: int, namespace: str, url: str, *, processes: bool = False, **overrides: Any) -> WorkerPool:
        base = {f: getattr(SETTINGS, f) for f in SETTINGS.__dataclass_fields__}
        base.update(overrides)
        pool = WorkerPool(
            concurrency,
            namespace,
            url,
            settings=PoolSettings(**base),
            sleep_backoffs=FAST_BACKOFFS,
            processes=processes,
        )
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.stop(timeout=5)
        pool.close()
