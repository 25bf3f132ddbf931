"""Every code block of README.md runs as written, against a private Redis.

Blocks run section by section (a ``###`` heading, or ``##`` where there is none), in order, in
a fresh folder and a flushed database, with ``REDIS_URL`` pointing at it:

- ``python``: run in one interpreter per section, so a block may use what an earlier block of its
  section defined; a block whose first line is ``# name.py`` is written to that file instead (a
  module the section's commands import);
- ``shell``: run by bash; a command ending in ``&`` keeps running in the background until the
  section ends, then is stopped with its process group;
- ``go``: a whole program, built (``go vet``, ``go build``, gofmt-clean) against the LarnTechKe/work
  source tree named by ``WORK_COMPAT_FORK_SRC`` through a ``replace`` in a temporary module, then
  run: it must run a job Python enqueues and enqueue one Python's client lists;
- ``text``: commands that set up a machine (install, ``./dev.sh``), checked against the list
  below, whose behaviour test_packaging.py and test_demo.py prove; not run here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.redis_server import RedisServer
from work_compat import Client, Enqueuer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GO = shutil.which("go") or "/usr/local/go/bin/go"
GOFMT = shutil.which("gofmt") or "/usr/local/go/bin/gofmt"
FORK_MODULE = "github.com/LarnTechKe/work"
DASHBOARD_PORT = 5040  # the README's dashboard example uses workwebui's default address

# The README's `text` blocks: set-up commands proven elsewhere, and a command the examples' pool stands for.
NOT_RUN = {
    'pip install ".[web]"': "test_packaging.py installs the wheel with the web extra",
    "./dev.sh demo": "test_demo.py runs examples/demo.py",
    "./dev.sh test": "this suite",
    "work-compat worker myapp.jobs:pool -c 10": "tests/work_compat cover the worker command",
}

# One interpreter per section: reads JSON-encoded blocks from stdin, runs each in one namespace,
# and answers with a marker line after each (its traceback on stderr if it failed).
RUNNER = r"""
import json, sys, traceback
scope = {"__name__": "__main__"}
for line in sys.stdin:
    try:
        exec(compile(json.loads(line), "<README block>", "exec"), scope)
        status = "ok"
    except BaseException:
        traceback.print_exc()
        status = "failed"
    sys.stderr.flush()
    print("\n@@README-BLOCK " + status, flush=True)
"""


@dataclass(frozen=True)
class Block:
    section: str
    lang: str
    code: str
    line: int


def readme_blocks() -> list[Block]:
    blocks: list[Block] = []
    section = ""
    lines = README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        heading = re.match(r"(##+) (.*)", lines[i])
        if heading:
            section = heading.group(2).strip()
        fence = re.match(r"```(\w*)\s*$", lines[i])
        if fence:
            start = i
            i += 1
            body: list[str] = []
            while not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append(Block(section, fence.group(1), "\n".join(body) + "\n", start + 1))
        i += 1
    return blocks


def sections() -> list[str]:
    seen: list[str] = []
    for b in readme_blocks():
        if b.lang in ("python", "shell", "go") and b.section not in seen:
            seen.append(b.section)
    return seen


def test_every_block_is_of_a_kind_this_test_knows() -> None:
    blocks = readme_blocks()
    assert {b.lang for b in blocks} <= {"python", "shell", "go", "text"}, [(b.line, b.lang) for b in blocks]
    for b in blocks:
        if b.lang == "text":
            commands = [re.sub(r"\s+#.*", "", line).strip() for line in b.code.splitlines() if line.strip()]
            unknown = [c for c in commands if c not in NOT_RUN]
            assert unknown == [], f"README line {b.line}: a command this test neither runs nor knows: {unknown}"
    assert len(sections()) >= 6  # enqueue and pool, client, periodic, Celery, dashboard, Go


class Section:
    """The folder, environment and background processes of one README section."""

    def __init__(self, folder: Path, redis_url: str) -> None:
        self.folder = folder
        self.env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "PATH": os.pathsep.join(
                [str(Path(sys.executable).parent), os.environ.get("PATH", ""), "/usr/local/go/bin"]
            ),
            "PYTHONPATH": os.pathsep.join(p for p in (str(folder), str(ROOT), os.environ.get("PYTHONPATH")) if p),
        }
        self.shells: list[subprocess.Popen[bytes]] = []
        self.python: subprocess.Popen[str] | None = None

    def run_python(self, block: Block) -> str:
        first = block.code.splitlines()[0]
        module = re.fullmatch(r"# (\w+\.py)", first)
        if module:
            (self.folder / module.group(1)).write_text(block.code, encoding="utf-8")
            return ""
        if self.python is None:
            self.python = subprocess.Popen(
                [sys.executable, "-c", RUNNER],
                cwd=self.folder,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        assert self.python.stdin is not None and self.python.stdout is not None
        self.python.stdin.write(json.dumps(block.code) + "\n")
        self.python.stdin.flush()
        out: list[str] = []
        for line in self.python.stdout:  # bounded by the test's timeout (pytest-timeout)
            if line.startswith("@@README-BLOCK "):
                if line.strip().endswith("ok"):
                    return "".join(out)
                break
            out.append(line)
        self.python.stdin.close()
        err = self.python.stderr.read() if self.python.stderr else ""
        self._end_python()
        raise AssertionError(f"README line {block.line} ({block.section}) failed:\n{''.join(out)}\n{err}")

    def run_shell(self, block: Block) -> str:
        """Run the block in one bash (``-e``) in a session of its own: commands it starts with ``&``
        stay in that process group, which ``close()`` ends."""
        log = self.folder / f"shell-{len(self.shells)}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                ["bash", "-e", "-c", block.code],
                cwd=self.folder,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.shells.append(proc)
        code = proc.wait(120)
        text = log.read_text(errors="replace")
        assert code == 0, f"README line {block.line} ({block.section}): the block exited {code}:\n{text[-3000:]}"
        return text

    def _end_python(self) -> None:
        proc, self.python = self.python, None
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            proc.wait(30)

    def close(self) -> None:
        self._end_python()
        for proc in self.shells:  # the bash has ended; its background commands may still run
            with_group(proc, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            with_group(proc, signal.SIGKILL)


def with_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def section_env(redis_server: RedisServer, tmp_path: Path) -> Iterator[Section]:
    url = f"redis://127.0.0.1:{redis_server.port}/6"
    client = redis.Redis.from_url(url)
    client.flushdb()
    section = Section(tmp_path, url)
    try:
        yield section
    finally:
        section.close()
        client.flushdb()
        client.close()


@pytest.mark.parametrize("section", sections())
def test_the_readme_section_runs_as_written(section: str, section_env: Section) -> None:
    blocks = [b for b in readme_blocks() if b.section == section and b.lang in ("python", "shell", "go")]
    output = ""
    for block in blocks:
        if block.lang == "go":
            run_go_block(block, section_env)
        elif block.lang == "python":
            output += section_env.run_python(block)
        else:
            if "workwebui" in block.code:  # the example uses workwebui's default port: wait until it is free
                deadline = time.monotonic() + 60
                while not _port_free(DASHBOARD_PORT):
                    assert time.monotonic() < deadline, f"port {DASHBOARD_PORT} stayed taken by another process"
                    time.sleep(0.5)
            output += section_env.run_shell(block)
    for expected in EXPECTED.get(section, ()):
        assert expected in output, f"{expected!r} not in what section {section!r} printed:\n{output}"


# What each section's blocks print (or answer), beyond running without error.
EXPECTED = {
    "Enqueue jobs and run them in a Python worker pool": ["sending Welcome to ada@example.com"],
    "Celery code on the same queues": ["Welcome sent to ada@example.com", "Welcome sent to grace@example.com"],
    "The dashboard": ['"job_name": "send_email"'],
}


def run_go_block(block: Block, section: Section) -> None:
    """Build the Go program against the fork, run it, and check it runs a job Python enqueued and
    enqueues one Python's client lists."""
    fork = os.environ.get("WORK_COMPAT_FORK_SRC")
    if not fork:
        pytest.skip("WORK_COMPAT_FORK_SRC is not set: the README's Go example builds against the fork's source tree")
    module = section.folder / "go-example"
    module.mkdir()
    (module / "main.go").write_text(block.code, encoding="utf-8")
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    for argv in (
        [GO, "mod", "init", "example.com/readme"],
        [GO, "mod", "edit", f"-require={FORK_MODULE}@v0.0.3", f"-replace={FORK_MODULE}={Path(fork).resolve()}"],
        [GO, "mod", "tidy"],
        [GO, "vet", "."],
        [GO, "build", "-o", "service", "."],
    ):
        proc = subprocess.run(argv, cwd=module, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"README line {block.line}: {' '.join(argv[1:])} failed:\n{proc.stderr[-3000:]}"
    fmt = subprocess.run([GOFMT, "-l", "main.go"], cwd=module, capture_output=True, text=True, timeout=60)
    assert fmt.stdout.strip() == "", "the README's Go example is not gofmt-formatted"

    url = section.env["REDIS_URL"]
    log = module / "service.log"
    with open(log, "wb") as out:
        service = subprocess.Popen([module / "service"], env=section.env, stdout=out, stderr=subprocess.STDOUT)
    enqueuer, client = Enqueuer("my_app", url), Client("my_app", url)
    try:
        enqueuer.enqueue("send_email", {"address": "ada@example.com", "subject": "Welcome"})
        deadline = time.monotonic() + 30  # an idle Go worker polls at most 5 s apart
        while "go: sending Welcome to ada@example.com" not in log.read_text(errors="replace"):
            assert service.poll() is None, f"the Go service exited {service.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the Go service ran no send_email:\n{log.read_text()}"
            time.sleep(0.1)
        assert {q.job_name: q.count for q in client.queues()}.get("track_event") == 1
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(20)
        finally:
            if service.poll() is None:
                service.kill()
                service.wait(10)
            enqueuer.close()
            client.close()
    assert service.returncode == 0, log.read_text()


def test_every_link_to_a_file_of_the_repository_exists() -> None:
    targets = re.findall(r"\]\(((?!https?://)[^)#]+)", README.read_text(encoding="utf-8"))
    assert targets
    assert [t for t in targets if not (ROOT / t).exists()] == []
