"""The workwebui command: flags (Go's and Flower's spellings), start-up line, graceful stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.redis_server import RedisServer
from webui.cli import build_parser, main, settings_from_args

ROOT = Path(__file__).resolve().parents[2]


def settings(*argv: str):  # type: ignore[no-untyped-def]
    return settings_from_args(build_parser().parse_args(list(argv)))


def test_defaults_listen_on_loopback_5040_with_gos_redis_and_namespace() -> None:
    s = settings()
    assert (s.redis, s.database, s.namespace, s.address, s.port) == (":6379", 0, "work", "127.0.0.1", 5040)
    assert (s.url_prefix, s.read_only, s.basic_auth, s.api_token) == ("", False, (), None)


def test_go_and_flower_spellings_with_dashes_or_underscores() -> None:
    s = settings("-redis", "redis://h:1/2", "-database", "3", "-ns", "app", "-listen", ":5041")
    assert (s.redis, s.database, s.namespace, s.address, s.port) == ("redis://h:1/2", 3, "app", "", 5041)
    s = settings("--url_prefix", "/ui/", "--read_only", "--basic_auth", "a:1, b:2", "--port", "7", "--address", "::1")
    assert (s.url_prefix, s.read_only, s.basic_auth, s.port, s.address) == ("/ui", True, ("a:1", "b:2"), 7, "::1")
    s = settings("--url-prefix", "ui", "--read-only", "--basic-auth", "a:1", "-listen", "0.0.0.0:80", "--port", "81")
    assert (s.url_prefix, s.read_only, s.basic_auth, s.address, s.port) == ("/ui", True, ("a:1",), "0.0.0.0", 81)


def test_bad_flags_exit_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["-database", "one"])  # Go: must parse as an integer even with a URL
    assert exc.value.code == 2
    assert main(["-listen", "nowhere"]) == 2
    assert main(["--basic-auth", "nopassword"]) == 2
    assert main(["-redis", "http://h:1"]) == 2
    err = capsys.readouterr().err
    assert "-listen 'nowhere'" in err and "user:password" in err and "unsupported scheme" in err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_then_stops_gracefully_on_a_signal(redis_server: RedisServer, namespace: str, sig: int) -> None:
    # Given the command started on a free port
    proc = subprocess.Popen(
        [sys.executable, "-m", "webui", "-redis", redis_server.url, "-ns", namespace, "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        # Then it prints its settings and where it listens
        m = re.search(r"listening on (http://127\.0\.0\.1:(\d+)/)", line)
        assert m, line
        assert f"namespace={namespace!r}" in line and "redis=redis://127.0.0.1:" in line
        with urllib.request.urlopen(m.group(1) + "healthcheck", timeout=10) as resp:
            assert resp.read() == b"OK"
        with urllib.request.urlopen(m.group(1) + "api/queues", timeout=10) as resp:
            assert json.loads(resp.read()) == []
        # When it gets the signal, it stops cleanly
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        assert "shutting down" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_flower_command_line_is_accepted() -> None:
    """Options copied from a Flower deployment start the dashboard; the no-ops are named, --broker is -redis."""
    from webui.cli import build_parser, ignored_flower_options, settings_from_args

    args = build_parser().parse_args(
        ["--broker=redis://cache:6379/2", "--port=5555", "--persistent=True", "--db=flower.db",
         "--max_tasks=5000", "--purge_offline_workers=60", "--auto_refresh=False", "--debug"]
    )  # fmt: skip
    settings = settings_from_args(args)
    assert (settings.redis, settings.port) == ("redis://cache:6379/2", 5555)
    assert ignored_flower_options(args) == [
        "--persistent", "--db", "--max-tasks", "--purge-offline-workers", "--auto-refresh", "--debug"
    ]  # fmt: skip
