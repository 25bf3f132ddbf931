"""work_compat.lifeline: children (and their own children) and folders go with the process that
started them, when it is SIGKILLed too; a normal close() leaves nothing running either."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from work_compat.lifeline import Lifeline

ROOT = Path(__file__).resolve().parents[2]

# A parent that starts a shell with a background grandchild, registers a folder, reports, and waits.
PARENT = r"""
import json, sys, tempfile, time
from work_compat.lifeline import Lifeline
lifeline = Lifeline()
folder = tempfile.mkdtemp(dir=sys.argv[1])
lifeline.remove_later(folder)
child = lifeline.popen(["sh", "-c", "sleep 300 & echo $!; wait"], stdout=subprocess.PIPE, text=True)
grandchild = int(child.stdout.readline())
print(json.dumps({"child": child.pid, "grandchild": grandchild, "folder": folder}), flush=True)
time.sleep(300)
""".replace("import json,", "import subprocess, json,")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pids: list[int], folder: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all(_gone(p) for p in pids) or folder.exists():
        assert time.monotonic() < deadline, f"left: {[p for p in pids if not _gone(p)]}, folder {folder.exists()}"
        time.sleep(0.05)


def test_a_sigkilled_parent_takes_its_children_grandchildren_and_folders_along(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        assert parent.stdout is not None
        report = json.loads(parent.stdout.readline())
        pids = [report["child"], report["grandchild"]]
        assert not any(_gone(p) for p in pids) and Path(report["folder"]).is_dir()
        parent.kill()
        parent.wait(10)
        _wait_gone(pids, Path(report["folder"]), 20)
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()


def test_run_and_close_leave_nothing_behind(tmp_path: Path) -> None:
    folder = tmp_path / "scratch"
    folder.mkdir()
    with Lifeline() as lifeline:
        lifeline.remove_later(folder)
        done = lifeline.run(["sh", "-c", "echo hi; echo oops >&2; exit 3"], timeout=30)
        assert (done.returncode, done.stdout, done.stderr) == (3, "hi\n", "oops\n")
        watchdog = lifeline._proc
        assert watchdog is not None
    assert watchdog.returncode == 0
    assert not folder.exists()


def test_a_run_that_times_out_ends_its_whole_group(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    with Lifeline() as lifeline:
        with pytest.raises(subprocess.TimeoutExpired):
            lifeline.run(["sh", "-c", f"sleep 300 & echo $! > {marker}; wait"], timeout=3)
        _wait_gone([int(marker.read_text())], tmp_path / "absent", 20)


def test_child_options_alone_end_a_child_with_its_parent(tmp_path: Path) -> None:
    # Linux's parent-death signal, without the watchdog: it covers the instant before watch() is called.
    code = (
        "import subprocess, time\n"
        "from work_compat.lifeline import child_options\n"
        "print(subprocess.Popen(['sleep', '300'], **child_options()).pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not _gone(child)
        parent.kill()
        parent.wait(10)
        _wait_gone([child], tmp_path / "absent", 20)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()
