"""The fork's real programs for the differential tests, and running them beside our webui.

``build_fork_programs`` builds the fork's ``workwebui`` and the fork interop driver through
tests/interop/golibs.py, the one place that knows how to build against the pinned libraries (a source
tree named by ``WORK_COMPAT_FORK_SRC`` / ``--fork-src``, else the Go module proxy), once per session.
What is left here is the dashboard's part: starting both servers and waiting until they answer.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.interop.driver import HERE as INTEROP_DIR
from tests.interop.golibs import go_binary
from work_compat.embedded import free_port


def build_fork_programs(go: str) -> tuple[Path, Path]:
    """The fork's ``workwebui`` and its interop driver (tests/interop/fork).

    Raises golibs' LibraryUnavailable (one line) when neither a source tree nor the proxy has the
    fork, and RuntimeError for a misnamed source tree or a failed build.
    """
    return go_binary("fork", package="./cmd/workwebui", go=go), go_binary("fork", INTEROP_DIR / "fork", go=go)


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
