"""What ``pip install`` gives a user: the sdist and wheel build from a clean checkout, pass ``twine
check``, hold every file the packages need and nothing else, and install into a fresh venv where the
three packages import and every console script answers ``--help`` (or, missing an optional
dependency, says in one line which extra to install). With only the ``demo`` extra, the demo runs."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("work_compat", "celery_shim", "webui")
SCRIPTS = ("work-compat", "celery-shim", "workwebui")
CONSTRAINTS = ROOT / "constraints.txt"


def _run(argv: list[str | Path], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}  # nothing of the worktree
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@dataclass(frozen=True)
class Dist:
    tracked: list[str]
    sdist: Path
    wheel: Path


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """``python -m build`` (the sdist, then the wheel from the sdist) in a copy of the tracked files."""
    top = tmp_path_factory.mktemp("pkg")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    tracked = [f for f in listing.stdout.split("\0") if f and (ROOT / f).is_file()]
    src = top / "src"
    for f in tracked:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        (src / f).write_bytes((ROOT / f).read_bytes())
    proc = _run([sys.executable, "-m", "build", "--outdir", top / "dist", "."], cwd=src)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "deprecated" not in proc.stdout + proc.stderr, "the build warns: " + proc.stderr[-2000:]
    (sdist,) = (top / "dist").glob("work_compat-*.tar.gz")
    (wheel,) = (top / "dist").glob("work_compat-*.whl")
    return Dist(tracked, sdist, wheel)


def _package_files(tracked: list[str]) -> list[str]:
    return [f for f in tracked if f.split("/")[0] in PACKAGES]


def test_twine_check_passes(dist: Dist) -> None:
    proc = _run([sys.executable, "-m", "twine", "check", "--strict", dist.sdist, dist.wheel], cwd=dist.sdist.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_wheel_holds_the_packages_and_nothing_else(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as zf:
        names = set(zf.namelist())
    missing = sorted(f for f in _package_files(dist.tracked) if f not in names)
    assert missing == [], f"not in the wheel (package-data in pyproject.toml): {missing}"
    for must in ("work_compat/py.typed", "celery_shim/py.typed", "work_compat/lua/work_step.lua"):
        assert must in names
    strays = sorted(n for n in names if n.split("/")[0] not in PACKAGES and ".dist-info/" not in n)
    assert strays == []
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_sdist_holds_what_builds_the_packages_and_no_tests(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    missing = sorted(f for f in [*_package_files(dist.tracked), "pyproject.toml", "README.md"] if f not in names)
    assert missing == [], f"not in the sdist: {missing}"
    tops = {n.split("/")[0] for n in names}
    metadata = {"PKG-INFO", "README.md", "pyproject.toml", "setup.cfg", "MANIFEST.in", "work_compat.egg-info"}
    assert tops - set(PACKAGES) <= metadata, tops
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


@pytest.fixture(scope="module")
def venv(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv (no site packages) with the wheel and its one dependency, at the pinned version."""
    where = tmp_path_factory.mktemp("venv") / "v"
    proc = _run([sys.executable, "-m", "venv", where], cwd=where.parent)
    assert proc.returncode == 0, proc.stderr
    _pip(where, str(dist.wheel))
    yield where


def _pip(venv: Path, requirement: str) -> None:
    proc = _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "-c", CONSTRAINTS, requirement], cwd=venv)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_the_installed_wheel_imports_and_every_script_answers(venv: Path, dist: Dist) -> None:
    py = venv / "bin" / "python"
    code = "import work_compat, celery_shim, webui; print(work_compat.__file__)"
    proc = _run([py, "-c", code], cwd=venv)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(str(venv)), proc.stdout  # the installed copy, not the worktree's
    for script in ("work-compat", "celery-shim"):
        proc = _run([venv / "bin" / script, "--help"], cwd=venv)
        assert proc.returncode == 0 and proc.stdout.startswith("usage: "), (script, proc.stdout, proc.stderr)

    # Without the web extra, the dashboard's commands name it in one line.
    proc = _run([venv / "bin" / "workwebui", "--help"], cwd=venv)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.splitlines() == [
        "workwebui: the dashboard needs tornado, which is not installed: "
        "pip install 'work-compat[web]' (in a clone of work-compat: pip install '.[web]')"
    ]
    proc = _run([venv / "bin" / "celery-shim", "-b", "redis://127.0.0.1:1/0", "flower"], cwd=venv)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and "work-compat[web]" in proc.stderr
    proc = _run([venv / "bin" / "celery-shim", "-b", "memory://", "import-backlog", "--help"], cwd=venv)
    assert proc.returncode == 0, proc.stderr

    _pip(venv, f"{dist.wheel}[web]")
    proc = _run([venv / "bin" / "workwebui", "--help"], cwd=venv)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: workwebui"), proc.stderr


def test_the_demo_runs_with_only_the_demo_extra(venv: Path, dist: Dist, redis_server: RedisServer) -> None:
    _pip(venv, f"{dist.wheel}[demo]")
    url = f"redis://127.0.0.1:{redis_server.port}/5"
    redis.Redis.from_url(url).flushdb()
    proc = _run([venv / "bin" / "python", ROOT / "examples" / "demo.py", "--no-go", "--redis", url], cwd=venv)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Done." in proc.stdout
    redis.Redis.from_url(url).flushdb()
