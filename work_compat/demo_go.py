"""The demo's Go program, ``examples/go_worker`` (a real gocraft/work pool and enqueuer), built once
per run into a temporary folder and then run for each Go step.

Its go.mod requires gocraft/work at commit 5959e69, the version the protocol spec describes. The
build runs in a temporary copy of the module (the committed go.mod and go.sum stay as they are) and
takes the first way that works:

1. ``WORK_COMPAT_GOCRAFT_SRC`` names a source tree of that commit: a ``replace`` onto a copy of it;
2. the Go module proxy serves the pinned version (as it does on the public internet);
3. the proxy refuses it: gocraft/work v0.5.1, the nearest version it serves, whose Redis protocol
   is the same for what the demo does; the demo says so in one line.

Anything else (no Go toolchain, a build that fails) skips the Go steps with one line saying why.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .lifeline import Lifeline

__all__ = ["GO_WORKER", "GoWorker", "find_go"]

GO_WORKER = Path(__file__).resolve().parent.parent / "examples" / "go_worker"
MODULE = "github.com/gocraft/work"
PINNED = "v0.5.2-0.20200429214246-5959e69ad211"
NEAREST = "v0.5.1"  # the newest tag before 5959e69
SOURCE_ENV = "WORK_COMPAT_GOCRAFT_SRC"
BUILD_TIMEOUT = 600.0  # a first build on the internet downloads the module and its dependencies


def find_go() -> str | None:
    """The go command: on PATH, else where the official and Debian packages put it."""
    return shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if os.access(p, os.X_OK)), None
    )


class BuildFailed(Exception):
    """The Go program did not build; the message is one line."""


def _refusal(stderr: str, version: str) -> str | None:
    """Go's line saying the module proxy refused gocraft/work at ``version`` (a 403 or 404 there, not
    a network or compile error), or None."""
    wanted = f"{MODULE}@{version}:"
    for line in _messages(stderr):
        if wanted in line and any(s in line for s in ("403 Forbidden", "404 Not Found", "410 Gone", "not available")):
            return line
    return None


def _messages(stderr: str) -> list[str]:
    """Go's error messages, one line each (its tab-indented continuation lines joined on), without
    its progress lines (``go: downloading ...``)."""
    messages: list[str] = []
    for line in stderr.splitlines():
        if line.startswith("\t") and messages:
            messages[-1] += " " + line.strip()
        elif line.strip() and not re.match(r"go: (downloading|finding|found|upgraded|added) ", line):
            messages.append(line.strip())
    return messages


def _first_error(stderr: str) -> str:
    messages = _messages(stderr)
    return (messages[0] if messages else "no output")[:300]


def _source_tree() -> Path | None:
    """The gocraft/work source tree ``WORK_COMPAT_GOCRAFT_SRC`` names, or None; a tree that is not
    that module's root is an error, never a silent fall-back to the proxy."""
    value = os.environ.get(SOURCE_ENV, "").strip()
    if not value:
        return None
    tree = Path(value).expanduser().resolve()
    go_mod = tree / "go.mod"
    if not go_mod.is_file():
        raise BuildFailed(f"{SOURCE_ENV}={value} has no go.mod; name the root of {MODULE}'s source")
    found = re.search(r"^module\s+(\S+)", go_mod.read_text(encoding="utf-8"), re.M)
    if found is None or found.group(1) != MODULE:
        raise BuildFailed(f"{SOURCE_ENV}={value}: its go.mod is not module {MODULE}")
    return tree


def _writable_copy(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".git", "node_modules"))
    for p in [target, *target.rglob("*")]:
        p.chmod(p.stat().st_mode | 0o200)  # the source may be read-only


class GoWorker:
    """``examples/go_worker`` for one demo run: built on first use, then the same binary each step."""

    def __init__(self, lifeline: Lifeline, *, wanted: bool = True) -> None:
        self._lifeline = lifeline
        self._wanted = wanted
        self._built = False
        self.binary: Path | None = None
        self.note = ""  # one line when the program runs on another gocraft/work than the pinned one
        self.skipped = ""  # one line: why the Go steps are left out

    def ready(self) -> bool:
        """Build once (later calls answer at once); False, with ``skipped`` set, when Go is left out."""
        if not self._built:
            self._built = True
            try:
                self.binary = self._build()
            except BuildFailed as err:
                self.skipped = str(err)
        return self.binary is not None

    def run(self, url: str, namespace: str, args: list[str], indent: str = "  ", *, echo: bool = True) -> str | None:
        """Run the program with ``args`` and print its output (unless ``echo`` is off); its stdout,
        or None when it failed (its stderr printed)."""
        if not self.ready():
            raise RuntimeError(f"the Go program is not built: {self.skipped}")
        proc = self._lifeline.run([str(self.binary), "-redis", url, "-ns", namespace, *args], timeout=300)
        if echo and proc.stdout:
            print("\n".join(indent + line for line in proc.stdout.splitlines()))
        if proc.returncode != 0:
            print(f"{indent}go program failed ({proc.returncode}):\n{proc.stderr}")
            return None
        return proc.stdout

    def _go(self, go: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CGO_ENABLED": "0"}
        return self._lifeline.run([go, *args], cwd=cwd, env=env, timeout=BUILD_TIMEOUT)

    def _build(self) -> Path:
        if not self._wanted:
            raise BuildFailed("--no-go")
        go = find_go()
        if go is None:
            raise BuildFailed("no Go toolchain (`go`) found; install it from https://go.dev/dl to see them")
        if not (GO_WORKER / "go.mod").is_file():
            raise BuildFailed(f"no {GO_WORKER} here: the Go program comes with a clone of the repository")
        tree = _source_tree()
        folder = Path(tempfile.mkdtemp(prefix="work-compat-demo-go-"))
        self._lifeline.remove_later(folder)  # however the demo ends
        module, binary = folder / "go_worker", folder / "go_worker-bin"
        shutil.copytree(GO_WORKER, module)
        build = ["build", "-mod=mod", "-buildvcs=false", "-o", str(binary), "."]
        if tree is not None:
            _writable_copy(tree, folder / "gocraft-work")
            edit = self._go(go, ["mod", "edit", f"-replace={MODULE}={folder / 'gocraft-work'}"], module)
            proc = edit if edit.returncode != 0 else self._go(go, build, module)
            if proc.returncode != 0:
                raise BuildFailed(
                    f"examples/go_worker did not build on {SOURCE_ENV}={tree}: {_first_error(proc.stderr)}"
                )
            return binary
        proc = self._go(go, build, module)
        if proc.returncode == 0:
            return binary
        if _refusal(proc.stderr, PINNED) is None:
            raise BuildFailed(f"examples/go_worker did not build: {_first_error(proc.stderr)}")
        for step in (["mod", "edit", f"-require={MODULE}@{NEAREST}"], ["mod", "tidy"], build):
            proc = self._go(go, step, module)
            refused = _refusal(proc.stderr, NEAREST) if proc.returncode != 0 else None
            if refused is not None:
                raise BuildFailed(
                    f"the Go module proxy serves neither gocraft/work 5959e69 nor {NEAREST} "
                    f"(set {SOURCE_ENV} to a source tree of 5959e69): {refused[:300]}"
                )
            if proc.returncode != 0:
                raise BuildFailed(
                    f"examples/go_worker did not build on gocraft/work {NEAREST}: {_first_error(proc.stderr)}"
                )
        self.note = (
            f"The Go module proxy does not serve gocraft/work 5959e69: the demo runs its Go program on "
            f"gocraft/work {NEAREST} instead, the nearest version it serves (same protocol for these steps)."
        )
        return binary
