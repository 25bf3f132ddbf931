"""Build the Go worker program of ``bench/go/workers`` against either Go library.

- ``v0.5.1``: ``github.com/gocraft/work v0.5.1``, from the Go module proxy, as the module says.
- ``fork``: ``github.com/LarnTechKe/work v0.0.3``, which keeps job history as work_compat does.
  The proxy here refuses it, so it builds from a temporary copy of the module whose import path
  is switched to the fork and whose ``go.mod`` replaces the fork with a local source tree:
  ``$WORK_COMPAT_FORK_SRC``, by default ``../shared/upstream/larntechke-work-v0.0.3`` beside the
  repository. Nothing of the fork is copied into the project; the binary goes to ``bench/.build``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
GO_DIR = BENCH_DIR / "go" / "workers"
BUILD_DIR = BENCH_DIR / ".build"
FORK_ENV = "WORK_COMPAT_FORK_SRC"
FORK_MODULE = "github.com/LarnTechKe/work"
ORIG_MODULE = "github.com/gocraft/work"
LIBRARIES = {"fork": f"{FORK_MODULE} v0.0.3", "v0.5.1": f"{ORIG_MODULE} v0.5.1"}

__all__ = ["LIBRARIES", "GoBuildError", "build_workers", "fork_source"]


class GoBuildError(RuntimeError):
    pass


def fork_source() -> Path:
    """Where the fork's sources are: ``$WORK_COMPAT_FORK_SRC`` or the shared upstream copy."""
    given = os.environ.get(FORK_ENV)
    return Path(given) if given else BENCH_DIR.parent.parent / "shared" / "upstream" / "larntechke-work-v0.0.3"


def _go(go: str, args: list[str], cwd: Path) -> None:
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    proc = subprocess.run([go, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        raise GoBuildError(f"go {' '.join(args)} in {cwd} failed:\n{proc.stderr.strip()}")


def build_workers(go: str, lib: str) -> Path:
    """The path of the built program for ``lib`` (a key of LIBRARIES)."""
    BUILD_DIR.mkdir(exist_ok=True)
    if lib == "v0.5.1":
        binary = BUILD_DIR / "workers-go"
        _go(go, ["build", "-buildvcs=false", "-o", str(binary), "."], GO_DIR)
        return binary
    src = fork_source()
    if not (src / "go.mod").is_file():
        raise GoBuildError(f"no fork sources at {src}: set {FORK_ENV} to a checkout of {LIBRARIES['fork']}")
    binary = BUILD_DIR / "workers-go-fork"
    with tempfile.TemporaryDirectory(prefix="bench-go-fork-") as tmp:
        mod = Path(tmp) / "workers"
        shutil.copytree(GO_DIR, mod)
        main = mod / "main.go"
        text = main.read_text()
        text = text.replace(f'"{ORIG_MODULE}"', f'work "{FORK_MODULE}"').replace(
            f'const library = "{LIBRARIES["v0.5.1"]}"', f'const library = "{LIBRARIES["fork"]}"'
        )
        main.write_text(text)
        (mod / "go.sum").unlink(missing_ok=True)
        _go(go, ["mod", "edit", f"-droprequire={ORIG_MODULE}", f"-require={FORK_MODULE}@v0.0.3"], mod)
        _go(go, ["mod", "edit", f"-replace={FORK_MODULE}={src.resolve()}"], mod)
        _go(go, ["mod", "tidy"], mod)
        _go(go, ["build", "-buildvcs=false", "-o", str(binary), "."], mod)
    return binary
