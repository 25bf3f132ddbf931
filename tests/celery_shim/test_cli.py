"""The celery-shim command: a worker, beat and the dashboard run as processes on the test Redis, and
call, result, inspect, status and purge answer about them, as Celery's commands do.

Every command runs as ``python -m celery_shim`` (the ``celery-shim`` script's entry point) in its
own process, from this directory, with the small project in ``cli_proj/``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import redis

from celery_shim import Celery
from celery_shim.gocraft.keys import ShimKeys
from tests.redis_server import RedisServer
from tests.work_compat.conftest import wait_until
from work_compat import Keys

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NODE = f"celery@{socket.gethostname()}"


def env_for(namespace: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "CLI_PROJ_NAMESPACE": namespace}


def cli(*argv: str, namespace: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "celery_shim", *argv],
        cwd=HERE,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
        env=env_for(namespace),
    )


class Started:
    """A long-running command (worker, beat, flower) with its output in files, stopped by signal."""

    def __init__(self, argv: list[str], namespace: str) -> None:
        self.out: IO[str] = tempfile.TemporaryFile("w+")
        self.err: IO[str] = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery_shim", *argv],
            cwd=HERE,
            stdout=self.out,
            stderr=self.err,
            text=True,
            env=env_for(namespace),
        )

    def text(self) -> tuple[str, str]:
        out = []
        for fh in (self.out, self.err):
            fh.seek(0)
            out.append(fh.read())
        return out[0], out[1]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.out.close()
        self.err.close()


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client that does not flush: each test has its own namespace, and workers may be running."""
    c = redis.Redis(host="127.0.0.1", port=redis_server.port)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    return f"redis://127.0.0.1:{redis_server.port}/0"


def caller(url: str, namespace: str) -> Celery:
    """The test's own app on the same namespace, with a stub of the project's task to delay()."""
    app = Celery("caller", broker=url, backend=url, gocraft_namespace=namespace, set_as_current=False)

    @app.task(name="proj.add")
    def add(x: int, y: int = 1) -> int:
        raise AssertionError("runs in the worker, not here")

    return app


def online(client: redis.Redis, namespace: str) -> bool:
    return bool(client.smembers(Keys(namespace).worker_pools()))


@pytest.fixture
def worker(url: str, namespace: str, client: redis.Redis) -> Iterator[Started]:
    """``celery-shim -A cli_proj -b URL --result-backend URL worker -P threads -c 2``, online."""
    proc = Started(
        ["-A", "cli_proj", "-b", url, "--result-backend", url, "worker", "-P", "threads", "-c", "2", "-l", "info"],
        namespace,
    )
    try:
        wait_until(lambda: online(client, namespace) or proc.proc.poll() is not None, 30, "the worker's heartbeat")
        assert proc.proc.poll() is None, proc.text()
        yield proc
    finally:
        proc.stop()
        proc.close()


def test_a_worker_runs_a_delayed_task_and_stops_on_sigterm(
    worker: Started, url: str, namespace: str, client: redis.Redis
) -> None:
    # Given the worker online, when a task is delayed, then the worker runs it and stores the result
    app = caller(url, namespace)
    try:
        result = app.tasks["proj.add"].delay(2, 3)
        assert result.get(timeout=20) == 5
    finally:
        app.close()
    out, err = worker.text()
    assert f"celery-shim worker {NODE}: threads pool of 2, namespace {namespace!r}" in out
    assert "proj.add" in out and "cli_proj.tasks.report" in out
    # When it gets SIGTERM, it shuts down warm, exits 0 and leaves the namespace
    assert worker.stop() == 0
    out, err = worker.text()
    assert "warm shutdown" in err
    assert not online(client, namespace)


def test_call_sends_by_name_and_result_prints_the_return_value(worker: Started, url: str, namespace: str) -> None:
    sent = cli("-A", "cli_proj", "-b", url, "call", "proj.add", "-a", "[4]", "-k", '{"y": 5}', namespace=namespace)
    assert sent.returncode == 0, sent.stderr
    task_id = sent.stdout.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", task_id)
    got = cli("-A", "cli_proj", "-b", url, "--result-backend", url, "result", task_id, "--timeout", "20", namespace=namespace)
    assert (got.returncode, got.stdout) == (0, "9\n"), got.stderr


def test_inspect_ping_registered_and_status_list_the_running_worker(worker: Started, url: str, namespace: str) -> None:
    ping = cli("-A", "cli_proj", "-b", url, "inspect", "ping", namespace=namespace)
    assert ping.returncode == 0, ping.stderr
    assert f"->  {NODE}: OK\n    pong\n" in ping.stdout and ping.stdout.endswith("\n1 node online.\n")

    registered = cli("-A", "cli_proj", "-b", url, "inspect", "registered", namespace=namespace)
    assert registered.returncode == 0, registered.stderr
    assert "    * proj.add" in registered.stdout and "    * cli_proj.tasks.report" in registered.stdout

    as_json = cli("-A", "cli_proj", "-b", url, "inspect", "registered", "-j", namespace=namespace)
    assert "proj.add" in json.loads(as_json.stdout)[NODE]

    status = cli("-A", "cli_proj", "-b", url, "status", namespace=namespace)
    assert (status.returncode, status.stdout) == (0, f"->  {NODE}: OK\n\n1 node online.\n")


def test_inspect_with_no_worker_online_says_so_with_celerys_exit_status(url: str, namespace: str) -> None:
    proc = cli("-A", "cli_proj", "-b", url, "inspect", "ping", namespace=namespace)
    assert proc.returncode == 69
    assert "No nodes replied within time constraint" in proc.stderr


def test_purge_asks_first_and_deletes_the_waiting_jobs_of_the_chosen_queues(
    url: str, namespace: str, client: redis.Redis
) -> None:
    # Given waiting jobs in both of the project's queues (no worker running)
    for argv in (["proj.add", "-a", "[1]"], ["proj.add", "-a", "[2]"], ["cli_proj.tasks.report", "-a", '["daily"]']):
        assert cli("-A", "cli_proj", "-b", url, "call", *argv, namespace=namespace).returncode == 0
    keys = Keys(namespace)
    waiting = lambda: (client.llen(keys.jobs("proj.add")), client.llen(keys.jobs("cli_proj.tasks.report")))  # noqa: E731
    assert waiting() == (2, 1)
    # When purge is not confirmed, nothing is deleted
    no = cli("-A", "cli_proj", "-b", url, "purge", namespace=namespace, stdin="no\n")
    assert no.returncode == 1 and "There is no undo for this operation!" in no.stdout and waiting() == (2, 1)
    # -Q picks queues; -f skips the question
    one = cli("-A", "cli_proj", "-b", url, "purge", "-f", "-Q", "reports", namespace=namespace)
    assert one.stdout == "Purged 1 message from 1 known task queue.\n" and waiting() == (2, 0)
    rest = cli("-A", "cli_proj", "-b", url, "purge", "-f", namespace=namespace)
    assert rest.stdout == "Purged 2 messages from 2 known task queues.\n" and waiting() == (0, 0)
    again = cli("-A", "cli_proj", "-b", url, "purge", "-f", namespace=namespace)
    assert again.stdout == "No messages purged from 2 queues.\n"


def test_celery_alias_runs_a_module_written_for_celery(url: str, namespace: str, client: redis.Redis) -> None:
    # Without the alias, the module builds a real celery app: a clear refusal naming the option
    plain = cli("-A", "alias_proj", "-b", url, "status", namespace=namespace)
    assert plain.returncode == 2 and "--celery-alias" in plain.stderr
    # With it, its unmodified `from celery import Celery` is celery_shim: a worker runs its task
    proc = Started(["--celery-alias", "-A", "alias_proj", "-b", url, "--result-backend", url, "worker", "-P", "solo"], namespace)
    try:
        wait_until(lambda: online(client, namespace) or proc.proc.poll() is not None, 30, "the worker's heartbeat")
        assert proc.proc.poll() is None, proc.text()
        sent = cli("--celery-alias", "-A", "alias_proj", "-b", url, "call", "alias.hello", "-a", '["ada"]', namespace=namespace)
        got = cli(
            "--celery-alias", "-A", "alias_proj", "--result-backend", url, "-b", url,
            "result", sent.stdout.strip(), "--timeout", "20", namespace=namespace,
        )  # fmt: skip
        assert got.stdout == "hello ada from celery_shim.app.base\n", got.stderr
        assert proc.stop() == 0
    finally:
        proc.close()


def test_beat_writes_the_schedule_ahead_and_stops_on_sigterm(url: str, namespace: str, client: redis.Redis) -> None:
    proc = Started(["-A", "cli_proj", "-b", url, "beat"], namespace)
    try:
        scheduled = Keys(namespace).scheduled()
        wait_until(lambda: client.zcard(scheduled) or proc.proc.poll() is not None, 30, "beat's first firings")
        assert proc.proc.poll() is None, proc.text()
        names = {json.loads(raw)["name"] for raw in client.zrange(scheduled, 0, -1)}
        assert names == {"proj.add"}
        assert proc.stop() == 0
    finally:
        proc.close()


def test_flower_serves_the_apps_namespace_with_flower_options_after_the_command(url: str, namespace: str) -> None:
    proc = Started(["-A", "cli_proj", "-b", url, "flower", "--port=0", "--read_only"], namespace)
    try:
        line = wait_until(lambda: re.search(r"listening on (http://\S+/)", proc.text()[0]) or proc.proc.poll(), 30)
        assert isinstance(line, re.Match), proc.text()
        out = proc.text()[0]
        assert f"namespace={namespace!r}" in out and "read_only=True" in out
        with urllib.request.urlopen(line.group(1) + "healthcheck", timeout=10) as resp:
            assert resp.read() == b"OK"
        assert proc.stop() == 0
    finally:
        proc.close()


def test_refusals_and_a_missing_app_are_clear(url: str, namespace: str) -> None:
    detach = cli("-A", "cli_proj", "-b", url, "worker", "-D", namespace=namespace)
    assert detach.returncode == 2 and "process supervisor" in detach.stderr
    missing = cli("-A", "no_such_proj", "status", namespace=namespace)
    assert missing.returncode == 2 and "Unable to load celery application" in missing.stderr
    assert "no_such_proj" in missing.stderr
    eventlet = cli("-A", "cli_proj", "-b", url, "worker", "-P", "eventlet", namespace=namespace)
    assert eventlet.returncode == 1 and "eventlet" in eventlet.stderr and "threads" in eventlet.stderr


def test_a_worker_holds_its_pidfile_logs_to_its_logfile_and_a_second_one_is_refused(
    url: str, namespace: str, client: redis.Redis, tmp_path: Path
) -> None:
    pidfile, logfile = tmp_path / "w.pid", tmp_path / "w.log"
    argv = ["-A", "cli_proj", "-b", url, "worker", "-P", "solo", "--pidfile", str(pidfile), "-f", str(logfile)]
    proc = Started(argv, namespace)
    try:
        wait_until(lambda: online(client, namespace) or proc.proc.poll() is not None, 30, "the worker's heartbeat")
        assert pidfile.read_text() == f"{proc.proc.pid}\n"
        second = cli(*argv, namespace=namespace)
        assert second.returncode == 1 and f"names process {proc.proc.pid}, which is running" in second.stderr
        assert proc.stop() == 0
        assert not pidfile.exists()
        assert "warm shutdown" in logfile.read_text()
    finally:
        proc.close()


def test_control_revoke_and_rate_limit_act_on_redis(url: str, namespace: str, client: redis.Redis) -> None:
    # Given a waiting job (no worker running)
    sent = cli("-A", "cli_proj", "-b", url, "call", "proj.add", "-a", "[1]", namespace=namespace)
    task_id = sent.stdout.strip()
    keys = Keys(namespace)
    assert client.llen(keys.jobs("proj.add")) == 1
    # When it is revoked, it leaves the queue
    revoked = cli("-A", "cli_proj", "-b", url, "control", "revoke", task_id, namespace=namespace)
    assert (revoked.returncode, revoked.stdout) == (0, "revoke: sent\n"), revoked.stderr
    assert client.llen(keys.jobs("proj.add")) == 0
    # A rate limit is stored for the workers, and a malformed command is refused with its shape
    limited = cli("-A", "cli_proj", "-b", url, "control", "rate_limit", "proj.add", "10/s", namespace=namespace)
    assert limited.returncode == 0, limited.stderr
    assert client.hget(ShimKeys(namespace).rate_limits(), "proj.add") == b"10/s"
    bad = cli("-A", "cli_proj", "-b", url, "control", "rate_limit", "proj.add", namespace=namespace)
    assert bad.returncode == 2 and "needs <task_name> <rate_limit>" in bad.stderr


def test_the_installed_celery_shim_script_runs_this_command(url: str, namespace: str) -> None:
    script = Path(sys.executable).with_name("celery-shim")
    proc = subprocess.run(
        [str(script), "-A", "cli_proj", "-b", url, "status"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
        env=env_for(namespace),
    )
    assert proc.returncode == 69 and "No nodes replied" in proc.stderr


def test_config_and_workdir_are_read_before_the_app_is_used(url: str, namespace: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "celery_shim", "--workdir", str(HERE), "--config", "cli_config", "-A", "cli_proj"]
        + ["-b", url, "purge"],
        cwd=ROOT,  # --workdir makes the project importable from elsewhere
        capture_output=True,
        text=True,
        input="no\n",
        timeout=60,
        env=env_for(namespace),
    )
    assert "This will remove all tasks from queues: bulk, reports." in proc.stdout, proc.stderr
