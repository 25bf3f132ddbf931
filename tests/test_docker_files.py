"""The Dockerfile and docker-compose.yml, checked without a Docker engine (none runs where they were written).

hadolint lints the Dockerfile; docker-compose.yml is validated against the Compose Specification's
JSON schema (vendored in tests/data); every image is pinned; and what the stack runs (the worker,
the dashboard, the demo enqueuer, the image's health check, Redis with compose's flags) runs here,
as compose would start it, against a real Redis.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import pytest
import redis
import yaml

from tests.redis_server import RedisServer
from webui.cli import build_parser as webui_parser
from work_compat.cli import build_parser as work_compat_parser
from work_compat.embedded import find_redis_server, free_port, wait_for_ping

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
SCHEMA_SHA256 = "bc50c2d79102aed8df21b3a13e56c9396c7a06da6cff5ce37629f2ee7eb41735"  # see compose-spec.json.source.md
BIN = Path(sys.executable).parent  # the venv's console scripts: work-compat, workwebui, hadolint


def project_version() -> str:
    m = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert m, "pyproject.toml has no version"
    return m.group(1)


VERSION = project_version()
PROJECT_IMAGE = f"work-compat:{VERSION}"

V = TypeVar("V")


def wait_for(what: str, check: Callable[[], V], timeout: float = 30.0) -> V:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {value!r})")
        time.sleep(0.1)


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: install the test extra (`pip install -e .[test]`, as dev.sh does)")
    return str(path)


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def services() -> dict[str, dict[str, Any]]:
    svcs: dict[str, dict[str, Any]] = compose()["services"]
    return svcs


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each from its FROM to the next."""
    out: list[list[tuple[str, str]]] = []
    for word, rest in dockerfile_instructions():
        if word == "FROM":
            out.append([])
        out[-1].append((word, rest))
    return out


# -- the Dockerfile ----------------------------------------------------------------------------------
def test_dockerfile_passes_hadolint_at_its_strictest_threshold(tmp_path: Path) -> None:
    config = tmp_path / "hadolint.yaml"
    config.write_text("{}\n")  # no user or repository config can relax the rules
    proc = subprocess.run(
        [tool("hadolint"), "--config", str(config), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""


def test_hadolint_fails_a_dockerfile_with_the_usual_mistakes(tmp_path: Path) -> None:
    # The linter is live and its threshold bites: an unpinned base, unpinned packages, a pip cache.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install redis\nRUN apt-get update && apt-get install -y curl\n")
    proc = subprocess.run(
        [tool("hadolint"), "--no-color", "--failure-threshold", "warning", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3042", "DL3008"):
        assert rule in proc.stdout, proc.stdout


def test_every_hadolint_ignore_in_the_dockerfile_says_why() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for i, line in enumerate(lines):
        if "hadolint ignore" in line:
            reason = lines[i - 1].lstrip("# ").strip() if i else ""
            assert reason and "hadolint" not in reason, f"line {i + 1}: justify the ignore on the line above"


def test_the_image_is_slim_python_pinned_non_root_with_a_dashboard_health_check() -> None:
    instructions = dockerfile_instructions()
    bases = [rest.split()[0] for word, rest in instructions if word == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.12(\.\d+)?-slim-[a-z]+(@sha256:[0-9a-f]{64})?", b) for b in bases)
    runtime = stages()[-1]
    runtime_text = " ".join(rest for _, rest in runtime)
    # Nothing compiled or fetched in the runtime stage: wheels from the build stage only.
    assert "--no-index" in runtime_text and "/wheels" in runtime_text
    assert not re.search(r"\b(apt-get|gcc|build-essential)\b", runtime_text)
    users = [rest for word, rest in runtime if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    labels = " ".join(rest for word, rest in runtime if word == "LABEL")
    assert f'org.opencontainers.image.version="{VERSION}"' in labels
    health = [rest for word, rest in runtime if word == "HEALTHCHECK"]
    assert len(health) == 1 and "CMD [" in health[0]
    cmd = json.loads([rest for word, rest in runtime if word == "CMD"][-1])
    assert cmd[0] == "workwebui" and cmd[cmd.index("-listen") + 1] == "0.0.0.0:5040"
    webui_parser().parse_args(cmd[1:])
    env = " ".join(rest for word, rest in runtime if word == "ENV")
    assert "HEALTHCHECK_URL=http://127.0.0.1:5040/healthcheck" in env


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    allowed = [
        line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")
    ]
    assert "*" in (ROOT / ".dockerignore").read_text().splitlines()  # an allowlist: nothing else travels
    for word, rest in dockerfile_instructions():
        if word == "COPY" and "--from" not in rest:
            sources = [a for a in shlex.split(rest) if not a.startswith("--")][:-1]
            for src in sources:
                assert src.rstrip("/") in allowed, f"COPY {src} is excluded by .dockerignore"
                assert (ROOT / src).exists(), src


def test_the_wheel_the_image_installs_carries_every_file_of_the_packages(tmp_path: Path) -> None:
    # The image installs a built wheel, not the source tree: a template, script or data file that
    # package-data misses would be absent in the container. Build it from what the build stage copies.
    build_stage = stages()[0]
    copies = [src for word, rest in build_stage if word == "COPY" for src in shlex.split(rest)[:-1]]
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--", *copies], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout.split("\0")
    tracked = [f for f in tracked if f and (ROOT / f).exists()]
    assert "pyproject.toml" in tracked and any(f.startswith("webui/") for f in tracked)
    context = tmp_path / "context"
    for f in tracked:
        (context / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, context / f)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "w"), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "w").glob("work_compat-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        in_wheel = set(zf.namelist())
    package_files = [f for f in tracked if "/" in f and not f.startswith("examples/")]
    missing = sorted(f for f in package_files if f not in in_wheel)
    assert missing == [], f"not in the wheel (add them to package-data in pyproject.toml): {missing}"
    entry_points = next(n for n in in_wheel if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as zf:
        scripts = zf.read(entry_points).decode()
    assert "work-compat = " in scripts and "workwebui = " in scripts


# -- docker-compose.yml -------------------------------------------------------------------------------
def schema() -> dict[str, Any]:
    raw = SCHEMA.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, "tests/data/compose-spec.json changed; see its .source.md"
    data: dict[str, Any] = json.loads(raw)
    return data


def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    validator = jsonschema.Draft7Validator(schema())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda c: c["services"]["dashboard"].update(ports="127.0.0.1:5040:5040"),  # a list, not a string
        lambda c: c["services"]["worker"].update(depends_on={"redis": {"condition": "healthy"}}),
        lambda c: c["services"]["redis"].update(healtcheck={"test": ["CMD", "true"]}),  # misspelt key
    ],
)
def test_the_schema_refuses_a_broken_compose_file(break_it: Callable[[dict[str, Any]], None]) -> None:
    broken = copy.deepcopy(compose())
    break_it(broken)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema(), cls=jsonschema.Draft7Validator)


def test_every_image_is_pinned() -> None:
    for name, svc in services().items():
        image = svc["image"]
        if "build" in svc:
            assert image == PROJECT_IMAGE, f"{name}: the built image is tagged with the project's version"
        else:
            assert re.fullmatch(r"[a-z0-9./-]+:\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?", image), f"{name}: {image}"


def test_the_services_wait_for_a_healthy_redis_that_keeps_its_data() -> None:
    svcs = services()
    rds = svcs["redis"]
    assert rds["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert rds["command"][rds["command"].index("--appendonly") + 1] == "yes"
    volume = rds["volumes"][0].split(":")
    assert volume[0] in compose()["volumes"] and volume[1] == rds["command"][rds["command"].index("--dir") + 1]
    for name in ("worker", "dashboard", "enqueuer"):
        assert svcs[name]["depends_on"] == {"redis": {"condition": "service_healthy"}}, name
    assert svcs["dashboard"]["ports"] == ["127.0.0.1:5040:5040"]  # published on loopback only
    assert "healthcheck" not in svcs["dashboard"]  # the image's own health check applies
    assert svcs["worker"]["healthcheck"] == {"disable": True}
    assert svcs["enqueuer"]["profiles"] == ["demo"] and svcs["enqueuer"]["restart"] == "no"
    assert "--basic_auth" in COMPOSE.read_text()  # the commented basic-auth example


def test_the_compose_commands_exist_and_accept_their_flags() -> None:
    svcs = services()
    for program in ("work-compat", "workwebui"):
        proc = subprocess.run([tool(program), "--help"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([tool("work-compat"), "worker", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--ns" in proc.stdout
    worker = svcs["worker"]["command"]
    assert worker[0] == "work-compat"
    args = work_compat_parser().parse_args(worker[1:])  # SystemExit if a flag were unknown
    assert (args.pool, args.ns, args.concurrency) == ("examples.python_worker.jobs:pool", "demo", 4)
    dashboard = svcs["dashboard"]["command"]
    assert dashboard[0] == "workwebui"
    args = webui_parser().parse_args(dashboard[1:])
    assert (args.redis, args.ns, args.listen) == ("redis:6379", "demo", "0.0.0.0:5040")
    enqueuer = svcs["enqueuer"]["command"]
    proc = subprocess.run(
        [sys.executable, *enqueuer[1:], "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "--ns" in proc.stdout, proc.stderr


def test_redis_server_accepts_the_compose_flags_and_appends_to_its_file(tmp_path: Path) -> None:
    command = services()["redis"]["command"]
    assert command[0] == "redis-server"
    args = command[1:]
    args[args.index("--dir") + 1] = str(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [find_redis_server(), *args, "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_ping(port, 15, proc)
        r = redis.Redis(port=port)
        assert r.config_get("appendonly") == {"appendonly": "yes"}
        assert r.config_get("appendfsync") == {"appendfsync": "everysec"}
        r.set("k", "v")
        wait_for("an append-only file in --dir", lambda: any(p.stat().st_size for p in tmp_path.rglob("*.aof*")))
        r.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


# -- the stack, run as compose would run it -------------------------------------------------------------
class Service:
    """One compose service's command as a local process: the venv's console scripts, compose's
    environment, the compose hostnames pointed at the test's Redis, and the test's namespace."""

    def __init__(self, name: str, redis_port: int, namespace: str) -> None:
        svc = services()[name]
        self.name = name
        argv = [self._local(a, redis_port) for a in svc["command"]]
        for i, a in enumerate(argv[:-1]):
            if a in ("-ns", "--ns"):
                argv[i + 1] = namespace
        program = argv[0]
        self.argv = [sys.executable if program == "python" else tool(program), *argv[1:]]
        self.env = {
            **os.environ,
            **{k: self._local(str(v), redis_port) for k, v in svc["environment"].items()},
        }
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.changed = threading.Condition()

    @staticmethod
    def _local(value: str, redis_port: int) -> str:
        return value.replace("redis:6379", f"127.0.0.1:{redis_port}").replace("0.0.0.0:5040", "127.0.0.1:0")

    def start(self) -> Service:
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.reader = threading.Thread(target=self._drain, name=f"{self.name}-output", daemon=True)
        self.reader.start()
        return self

    def _drain(self) -> None:
        """Keep reading the process's output (a full pipe would block it) into ``self.lines``."""
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()

    def run(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60)

    def read_line_matching(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in self.lines:
                    m = re.search(pattern, line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name} printed no line matching {pattern!r}: {''.join(self.lines)}")
                self.changed.wait(left)

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as `docker compose stop` sends; the exit code and everything the process printed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)  # compose's stop_grace_period for the worker
        self.reader.join(timeout=10)
        return code, "".join(self.lines)

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.reader.join(timeout=10)
            assert self.proc.stdout is not None
            self.proc.stdout.close()


@pytest.fixture
def stack(redis_server: RedisServer, namespace: str) -> Iterator[dict[str, Service]]:
    svcs = {name: Service(name, redis_server.port, namespace) for name in ("worker", "dashboard", "enqueuer")}
    try:
        yield svcs
    finally:
        for svc in svcs.values():
            svc.kill()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def test_the_stack_works_the_demo_jobs_and_the_dashboard_shows_them(stack: dict[str, Service]) -> None:
    # Given the worker and the dashboard started with compose's commands and environment
    worker = stack["worker"].start()
    dashboard = stack["dashboard"].start()
    base = dashboard.read_line_matching(r"listening on (http://127\.0\.0\.1:\d+/)").group(1)
    worker.read_line_matching(r"work-compat worker: pool \w+, 4 threads")

    # Then the image's health check passes against the dashboard, and fails when nothing answers
    health = json.loads(
        next(rest for word, rest in dockerfile_instructions() if word == "HEALTHCHECK").split("CMD", 1)[1]
    )
    ok = subprocess.run(
        health, env={**os.environ, "HEALTHCHECK_URL": base + "healthcheck"}, capture_output=True, timeout=30
    )
    assert ok.returncode == 0, ok.stderr
    closed = f"http://127.0.0.1:{free_port()}/healthcheck"
    down = subprocess.run(health, env={**os.environ, "HEALTHCHECK_URL": closed}, capture_output=True, timeout=30)
    assert down.returncode != 0

    # When the demo profile's one-shot enqueuer runs
    done = stack["enqueuer"].run()
    assert done.returncode == 0, done.stderr
    assert re.search(r"enqueued 4 generate_report, 5 resize_image, 12 send_email, 3 sync_account", done.stdout)

    # Then the worker runs them and the dashboard's API shows every kind of outcome
    def queue_counts() -> dict[str, int]:
        return {q["job_name"]: q["count"] for q in get_json(base + "api/queues")}

    wait_for("quick jobs done", lambda: all(queue_counts().get(n) == 0 for n in ("send_email", "resize_image")))
    dead = wait_for("the addressless email in the dead list", lambda: get_json(base + "api/dead_jobs")["jobs"])
    assert [(d["name"], d["args"]) for d in dead] == [("send_email", {"subject": "no address: goes dead at once"})]
    busy = wait_for(
        "a report checking in",
        lambda: [
            w
            for w in get_json(base + "api/busy_workers") or []  # Go's null when idle
            if w["job_name"] == "generate_report" and w["checkin"]
        ],
    )
    assert re.fullmatch(r"report \w+: step \d of \d", busy[0]["checkin"])
    retry = wait_for("failing syncs in the retry list", lambda: get_json(base + "api/retry_jobs")["jobs"])
    assert {r["name"] for r in retry} == {"sync_account"} and all("unavailable" in r["err"] for r in retry)
    pools = get_json(base + "api/worker_pools")
    assert any("send_email" in p["job_names"] and p["concurrency"] == 4 for p in pools), pools

    # And `docker compose stop` (SIGTERM) ends both cleanly, the worker after its in-flight jobs
    code, out = worker.stop()
    assert code == 0, out
    assert "finishing in-flight jobs" in out
    code, out = dashboard.stop()
    assert code == 0 and "shutting down" in out, out
