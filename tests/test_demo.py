"""The README's first command, ``./dev.sh demo``, runs to the end: every step, Go included, on the
test Redis, with the dashboard checked instead of served (stdin is not a terminal). In a terminal,
Ctrl-C ends it cleanly, and whatever ends it (Ctrl-C, a closed terminal, SIGTERM, SIGKILL) ends
every process it started and removes its private redis-server's folder."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import redis

from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_runs_every_step(redis_server: RedisServer) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/4"
    redis.Redis.from_url(url).flushdb()
    env = {**os.environ, "PATH": os.environ.get("PATH", "") + os.pathsep + "/usr/local/go/bin"}
    proc = subprocess.run(
        [sys.executable, "examples/demo.py", "--redis", url],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=110,
        env=env,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    for line in (
        "go worker ran send_email",  # 3: Go runs Python's jobs
        "python pool ran generate_report",  # 5: Python runs Go's jobs
        "invoice  SUCCESS 'INVOICE",  # 6: the Celery project's chain
        "go worker ran send_sms",  # 6: Go runs the project's declared job
        "-> '/img/cat.png resized to 320px'",  # 6: Python runs Go's call of a Celery task
        "GET /                  -> 200",  # 7: the dashboard
        "Done.",
    ):
        assert line in out, f"{line!r} missing from the demo's output:\n{out[-3000:]}"
    redis.Redis.from_url(url).flushdb()


def test_an_unreachable_redis_is_one_line_and_a_failure() -> None:
    proc = subprocess.run(
        [sys.executable, "examples/demo.py", "--no-go", "--redis", "redis://127.0.0.1:1/0"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "./dev.sh demo: cannot reach Redis at redis://127.0.0.1:1/0: "
        "Error 111 connecting to 127.0.0.1:1. Connection refused."
    ]


class Terminal:
    """The demo in a pseudo-terminal of its own session, as a user's shell runs it."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, env=env
        )
        os.close(slave)
        self._master = master
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 4096)
            except OSError:  # EIO: every holder of the terminal's other end is gone
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    @property
    def output(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace").replace("\r\n", "\n")

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self.proc.poll() is None, f"the demo ended early ({self.proc.returncode}):\n{self.output[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} within {timeout}s:\n{self.output[-3000:]}"
            time.sleep(0.1)

    def wait(self, timeout: float) -> int:
        """The demo's exit status; if it is still running after ``timeout``, fail with its output
        and every thread's stack (faulthandler, enabled through PYTHONFAULTHANDLER)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGABRT)
            self.proc.wait(10)
            self._reader.join(5)
            raise AssertionError(f"the demo did not end within {timeout}s:\n{self.output[-8000:]}") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._reader.join(10)
        os.close(self._master)


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("ending", ["ctrl-c", "terminal closed", "SIGTERM", "SIGKILL"])
def test_whatever_ends_the_demo_ends_every_process_it_started(ending: str, tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONFAULTHANDLER": "1"}  # the redis-server's folder lands here
    term = Terminal([sys.executable, "examples/demo.py", "--no-go"], env)
    try:
        term.wait_for("serving until Ctrl-C", 120)
        children = psutil.Process(term.proc.pid).children(recursive=True)
        names = sorted(p.name() for p in children)
        assert any("redis-server" in n for n in names) and len(children) >= 3, names  # server, dashboard, watchdog
        assert list(tmp_path.glob("work-compat-redis-*"))
        if ending == "ctrl-c":
            os.killpg(term.proc.pid, signal.SIGINT)  # the terminal signals its whole foreground group
        elif ending == "terminal closed":
            os.killpg(term.proc.pid, signal.SIGHUP)
        elif ending == "SIGTERM":
            term.proc.terminate()
        else:
            term.proc.kill()
        code = term.wait(60)
        deadline = time.monotonic() + 30
        while not all(_gone(p) for p in children) or list(tmp_path.glob("work-compat-redis-*")):
            left = [p.name() for p in children if not _gone(p)]
            assert time.monotonic() < deadline, f"left after the demo ended: {left}, {list(tmp_path.iterdir())}"
            time.sleep(0.1)
        if ending == "ctrl-c":
            assert code == 0, term.output[-3000:]
            assert "Done." in term.output and "The demo failed." not in term.output
            assert "Traceback" not in term.output, term.output[-3000:]
        else:
            assert code == {"terminal closed": 128 + signal.SIGHUP, "SIGTERM": 128 + signal.SIGTERM}.get(
                ending, -signal.SIGKILL
            )
    finally:
        term.close()


def test_ctrl_c_during_a_step_stops_everything_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONFAULTHANDLER": "1"}
    term = Terminal([sys.executable, "examples/demo.py", "--no-go"], env)
    try:
        term.wait_for("== 6.", 120)  # the Celery project's worker is running in the demo's process
        children = psutil.Process(term.proc.pid).children(recursive=True)
        os.killpg(term.proc.pid, signal.SIGINT)
        assert term.wait(60) == 130, term.output[-3000:]
        deadline = time.monotonic() + 30
        while not all(_gone(p) for p in children) or list(tmp_path.glob("work-compat-redis-*")):
            assert time.monotonic() < deadline, [p.name() for p in children if not _gone(p)]
            time.sleep(0.1)
        assert "Interrupted: everything the demo started is stopped." in term.output
        assert "Traceback" not in term.output, term.output[-3000:]
    finally:
        term.close()
