"""The README's first command, ``./dev.sh demo``, runs to the end: every step, Go included, on the
test Redis, with the dashboard checked instead of served (stdin is not a terminal), whether its Go
program builds on the pinned gocraft/work's source tree, from the module proxy, or (where the proxy
refuses that version, as here) on v0.5.1 with one line saying so. In a terminal, Ctrl-C ends it
cleanly, and whatever ends it (Ctrl-C, a closed terminal, SIGTERM, SIGKILL) ends every process it
started and removes its private redis-server's folder."""

from __future__ import annotations

import http.server
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
from work_compat import demo_go
from work_compat.demo_go import GoWorker
from work_compat.lifeline import Lifeline

ROOT = Path(__file__).resolve().parents[1]
PINNED = "github.com/gocraft/work@v0.5.2-0.20200429214246-5959e69ad211"
FALLBACK = (
    "  The Go module proxy does not serve gocraft/work 5959e69: the demo runs its Go program on "
    "gocraft/work v0.5.1 instead, the nearest version it serves (same protocol for these steps)."
)


def _go() -> str:
    go = demo_go.find_go()
    if go is None:
        pytest.fail("the demo's tests need the Go toolchain (examples/go_worker is its Go half)")
    return go


def _gocraft_src() -> str:
    """The pinned gocraft/work's source tree, as the interop tests take it (--gocraft-src)."""
    value = os.environ.get("WORK_COMPAT_GOCRAFT_SRC", "")
    if not value:  # as the interop tests do where neither the proxy nor a source tree has it
        pytest.skip("gocraft/work 5959e69's source tree is not named: set WORK_COMPAT_GOCRAFT_SRC to it")
    return value


def _proxy_serves_the_pinned_version(go: str, tmp_path: Path) -> bool:
    """Ask the Go module proxy the demo asks (GOPROXY as the user has it) for the pinned gocraft/work."""
    proc = subprocess.run(
        [go, "mod", "download", "-json", PINNED], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    if proc.returncode == 0:
        return True
    assert "403 Forbidden" in proc.stdout or "not available" in proc.stdout, proc.stdout + proc.stderr
    return False


@pytest.mark.parametrize("gocraft", ["source tree", "module proxy"])
def test_the_demo_runs_every_step(gocraft: str, redis_server: RedisServer, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/4"
    redis.Redis.from_url(url).flushdb()
    go = _go()
    env = {**os.environ, "PATH": os.environ.get("PATH", "") + os.pathsep + str(Path(go).parent)}
    if gocraft == "source tree":  # the pinned commit, through a replace in the demo's copy of its module
        env["WORK_COMPAT_GOCRAFT_SRC"] = _gocraft_src()
        falls_back = False
    else:  # as a user without one: the proxy's pinned version, or v0.5.1 where it refuses that one
        env.pop("WORK_COMPAT_GOCRAFT_SRC", None)
        falls_back = not _proxy_serves_the_pinned_version(go, tmp_path)
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
    # With the source tree named, the pinned version is the only one the demo can build on (it never
    # falls back then), so Go running at all proves it ran on 5959e69. Without one, on a proxy that
    # refuses 5959e69, the demo says in one line that it runs on v0.5.1, and does.
    assert out.splitlines().count(FALLBACK) == (1 if falls_back else 0), out[:3000]
    assert "gocraft/work 5959e69" not in out.replace(FALLBACK, ""), out[:3000]
    assert "The demo failed." not in out
    redis.Redis.from_url(url).flushdb()


class _RefusingProxy(http.server.BaseHTTPRequestHandler):
    """A Go module proxy that refuses every module version, as a private mirror may."""

    def do_GET(self) -> None:
        body = b"This module version is not available."
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_proxy_that_serves_neither_version_skips_the_go_steps_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    go = _go()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("WORK_COMPAT_GOCRAFT_SRC", raising=False)
    monkeypatch.setenv("GOPROXY", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "modcache"))  # nothing cached: every module is asked for
    monkeypatch.setenv("GOFLAGS", "-modcacherw")
    monkeypatch.setenv("PATH", os.environ.get("PATH", "") + os.pathsep + str(Path(go).parent))
    try:
        with Lifeline() as lifeline:
            worker = GoWorker(lifeline)
            assert not worker.ready()
    finally:
        server.shutdown()
        server.server_close()
    assert worker.skipped.startswith(
        "the Go module proxy serves neither gocraft/work 5959e69 nor v0.5.1 (set WORK_COMPAT_GOCRAFT_SRC to a "
        "source tree of 5959e69): "
    ), worker.skipped
    assert "\n" not in worker.skipped and "403 Forbidden" in worker.skipped


def test_a_named_source_tree_that_is_not_gocraft_work_skips_the_go_steps_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "go.mod").write_text("module example.com/other\n\ngo 1.22\n")
    monkeypatch.setenv("WORK_COMPAT_GOCRAFT_SRC", str(tmp_path))
    with Lifeline() as lifeline:
        worker = GoWorker(lifeline)
        assert not worker.ready()
    assert worker.skipped == f"WORK_COMPAT_GOCRAFT_SRC={tmp_path}: its go.mod is not module github.com/gocraft/work"


def test_without_a_go_toolchain_or_with_no_go_the_go_steps_are_skipped_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Lifeline() as lifeline:
        no_go = GoWorker(lifeline, wanted=False)
        assert not no_go.ready() and no_go.skipped == "--no-go"
        monkeypatch.setattr(demo_go, "find_go", lambda: None)  # a machine without Go
        missing = GoWorker(lifeline)
        assert not missing.ready()
    assert missing.skipped == "no Go toolchain (`go`) found; install it from https://go.dev/dl to see them"


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
