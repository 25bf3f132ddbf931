"""The fork's real programs for the differential tests: its ``workwebui`` and the fork interop driver.

Both are built once per session from the fork's published source. ``WORK_COMPAT_FORK_SRC`` names a
copy of LarnTechKe/work v0.0.3 (the Go module proxy here refuses that version); the build works on a
temporary copy of it, so the tree can stay read-only. Without the variable, the build asks the
module proxy, as a user would (``go install github.com/LarnTechKe/work/cmd/workwebui@v0.0.3``).
Nothing built here leaves the pytest temporary directory.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.interop.driver import HERE as INTEROP_DIR
from tests.interop.driver import build as build_driver_from_proxy
from work_compat.embedded import free_port

FORK_MODULE = "github.com/LarnTechKe/work"
FORK_VERSION = "v0.0.3"
SOURCE_ENV = "WORK_COMPAT_FORK_SRC"
UNAVAILABLE = f"set {SOURCE_ENV} to a copy of {FORK_MODULE} {FORK_VERSION}: the Go module proxy does not serve it"
BUILD_TIMEOUT = 600


class ForkUnavailable(RuntimeError):
    """Neither ``WORK_COMPAT_FORK_SRC`` nor the module proxy gave the fork's source."""


def fork_source() -> Path | None:
    """The fork's source tree named by ``WORK_COMPAT_FORK_SRC``, or None when it is unset.

    A value that names no such tree is an error (the tests fail), not a reason to skip them.
    """
    raw = os.environ.get(SOURCE_ENV, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser().resolve()
    if not (path / "go.mod").is_file() or not (path / "cmd" / "workwebui").is_dir():
        raise RuntimeError(f"{SOURCE_ENV}={raw} is not a copy of {FORK_MODULE} (no go.mod or cmd/workwebui)")
    return path


def _go_env() -> dict[str, str]:
    return {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}


def _go(go: str, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [go, *args], cwd=cwd, capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=env or _go_env()
    )


def _writable_copy(src: Path, dest: Path) -> Path:
    """Copy a tree (links followed) and make it writable: the build may update go.sum."""
    shutil.copytree(src, dest, symlinks=False)
    for root, dirs, files in os.walk(dest):
        for name in dirs + files:
            p = Path(root, name)
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    return dest


def build_workwebui(work_dir: Path, go: str) -> Path:
    """``cmd/workwebui`` of the fork, from ``WORK_COMPAT_FORK_SRC`` or else the module proxy."""
    binary = work_dir / "workwebui"
    src = fork_source()
    if src is not None:
        copy = _writable_copy(src, work_dir / "fork-src")
        proc = _go(go, ["build", "-o", str(binary), "./cmd/workwebui"], copy)
        if proc.returncode != 0:
            raise RuntimeError(f"go build ./cmd/workwebui in a copy of {src} failed:\n{proc.stderr}")
        return binary
    proc = _go(
        go,
        ["install", f"{FORK_MODULE}/cmd/workwebui@{FORK_VERSION}"],
        work_dir,
        env={**_go_env(), "GOBIN": str(work_dir), "GOFLAGS": ""},
    )
    if proc.returncode != 0:
        said = proc.stderr.strip().splitlines()
        raise ForkUnavailable(f"{UNAVAILABLE} (go install: {said[-1].strip() if said else proc.returncode})")
    return binary


def build_fork_driver(work_dir: Path, go: str) -> Path:
    """tests/interop/fork's driver against the fork: a ``replace`` to the copied source, else the proxy."""
    src = fork_source()
    if src is None:
        try:
            return build_driver_from_proxy("fork", work_dir, go)
        except RuntimeError as err:
            raise ForkUnavailable(UNAVAILABLE) from err
    copy = work_dir / "fork-src"  # build_workwebui's copy, when it made one
    if not copy.exists():
        _writable_copy(src, copy)
    module = _writable_copy(INTEROP_DIR / "fork", work_dir / "fork-driver")
    binary = work_dir / "driver-fork"
    for args in (["mod", "edit", f"-replace={FORK_MODULE}={copy}"], ["mod", "tidy"], ["build", "-o", str(binary), "."]):
        proc = _go(go, args, module)
        if proc.returncode != 0:
            raise RuntimeError(f"go {' '.join(args)} of tests/interop/fork against {copy} failed:\n{proc.stderr}")
    return binary


@contextmanager
def running_workwebui(binary: Path, redis_url: str, namespace: str, log: Path) -> Iterator[str]:
    """Run the fork's workwebui on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    argv = [str(binary), "-redis", redis_url, "-ns", namespace, "-listen", f"127.0.0.1:{port}"]
    with _serving(argv, None, log, port, "the fork's workwebui", signal.SIGINT):  # Go's stops on Interrupt
        yield f"http://127.0.0.1:{port}"


@contextmanager
def running_webui(redis_url: str, namespace: str, root: Path, log: Path) -> Iterator[str]:
    """Run our ``workwebui`` command (``python -m webui``) on a free loopback port; yields its base URL."""
    port = free_port()
    flags = ["-redis", redis_url, "-ns", namespace, "-listen", f"127.0.0.1:{port}", "--log-level", "WARNING"]
    with _serving([sys.executable, "-m", "webui", *flags], root, log, port, "webui", signal.SIGTERM):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def _serving(argv: list[str], cwd: Path | None, log: Path, port: int, what: str, stop_signal: int) -> Iterator[None]:
    env = {**os.environ, "PYTHONPATH": str(cwd)} if cwd else None
    with log.open("w") as out:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for_http(port, proc, what, log)
            yield
        finally:
            stop(proc, stop_signal)


def wait_for_http(port: int, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float = 30.0) -> None:
    """Wait until ``port`` accepts a request; fail with the program's output if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before serving:\n{log.read_text()}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/api/queues")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.05)
        finally:
            conn.close()
    raise RuntimeError(f"{what} did not answer on 127.0.0.1:{port} within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Ask a server to stop, and kill it if it has not within 10 s."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
