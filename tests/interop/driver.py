"""Build and run the Go interop driver (tests/interop/<lib>/, one Go module per library)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.interop.golibs import LIBRARIES, LibraryUnavailable, find_go, go_binary

__all__ = ["LIBRARIES", "DriverError", "GoDriver", "LibraryUnavailable", "build", "find_go", "require_go"]

HERE = Path(__file__).resolve().parent


def require_go(why: str) -> str:
    """The Go toolchain's path; without one the test fails, naming what needs it (a skipped
    interop test would pass for nothing)."""
    import pytest

    go = find_go()
    if go is None:
        pytest.fail(
            f"the Go toolchain is not installed: {why} needs `go` on PATH (https://go.dev/dl, or Debian's golang)"
        )
    return go


def build(lib: str, go: str | None = None) -> Path:
    """The driver of ``lib`` (tests/interop/<lib>), built once per session against the pinned library (see golibs)."""
    return go_binary(lib, HERE / lib, go=go)


class DriverError(RuntimeError):
    pass


def _flags(flags: dict[str, str]) -> list[str]:
    """``no_stop="true"`` -> ``-no-stop=true``: the ``=`` form suits Go's bool flags too."""
    return [f"-{name.replace('_', '-')}={value}" for name, value in flags.items()]


@dataclass
class GoDriver:
    """One built driver bound to one Redis."""

    lib: str
    binary: Path
    redis_url: str

    def _run(self, args: list[str], stdin: str | None = None, timeout: float = 90, ok: tuple[int, ...] = (0,)) -> Any:
        proc = subprocess.run(
            [str(self.binary), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode not in ok:
            raise DriverError(f"driver {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return json.loads(proc.stdout)

    def common(self, ns: str) -> list[str]:
        return ["-redis", self.redis_url, "-ns", ns]

    def enqueue(self, ns: str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._run(["enqueue", *self.common(ns)], stdin=json.dumps(calls))
        return out

    def work(self, ns: str, jobs: list[str], expect: int, timeout: int = 30, **flags: str) -> dict[str, Any]:
        args = ["work", *self.common(ns), "-jobs", ",".join(jobs), "-expect", str(expect), "-timeout", str(timeout)]
        args += _flags(flags)
        out: dict[str, Any] = self._run(args, timeout=timeout + 60)
        return out

    def start_work(
        self, ns: str, jobs: list[str], env: dict[str, str] | None = None, **flags: str
    ) -> subprocess.Popen[str]:
        """Run a pool in the background (``-expect 0 -hold-seconds N`` style); caller waits on it.

        ``env`` adds to (or overrides) this process's environment, e.g. ``{"TZ": "UTC"}``.
        """
        args = ["work", *self.common(ns), "-jobs", ",".join(jobs), *_flags(flags)]
        return subprocess.Popen(
            [str(self.binary), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=None if env is None else {**os.environ, **env},
        )

    def list(self, ns: str, page: int = 1) -> dict[str, Any]:
        out: dict[str, Any] = self._run(["list", *self.common(ns), "-page", str(page)])
        return out

    def client(self, ns: str, op: str, score: int | None = None, job_id: str | None = None) -> str:
        args = ["client", *self.common(ns), "-op", op]
        if score is not None:
            args += ["-score", str(score)]
        if job_id is not None:
            args += ["-id", job_id]
        out: dict[str, Any] = self._run(args)
        return str(out.get("error", ""))

    def history(self, ns: str, job_name: str = "", job_id: str = "", page: int = 1) -> dict[str, Any]:
        """The fork's history views: ``{"jobs", "count", "total", "by_id"}`` (by_id with ``job_id``)."""
        args = ["history", *self.common(ns), "-page", str(page)]
        if job_name:
            args += ["-job-name", job_name]
        if job_id:
            args += ["-id", job_id]
        out: dict[str, Any] = self._run(args)
        return out

    def schedule(self, ns: str, op: str, **flags: str) -> Any:
        """One call of the fork's runtime-schedule API; its result (a DriverError if Go returned an error)."""
        out: dict[str, Any] = self._run(["schedule", *self.common(ns), "-op", op, *_flags(flags)])
        if out["error"]:
            raise DriverError(f"schedule -op {op}: {out['error']}")
        return out["result"]
