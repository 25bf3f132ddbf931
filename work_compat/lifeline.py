"""Child processes that end with the process that started them, however it ends.

A demo or local run starts a private redis-server, a dashboard and Go programs. Ended by Ctrl-C
it stops them itself; ended by SIGKILL, or by a crash in its cleanup, it cannot. Two mechanisms
cover that:

- ``child_options()``: each child gets its own session (a Ctrl-C or hang-up of the terminal
  reaches only the parent, which then stops its children in order) and, on Linux, the parent-death
  signal (``prctl(PR_SET_PDEATHSIG, SIGTERM)``), so the kernel ends it when its parent dies;
- ``Lifeline``: a small watchdog process reading a pipe only the parent holds. When the parent
  ends, the pipe reaches end of file and the watchdog ends the process groups and removes the
  folders it was told about (grandchildren included).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["Lifeline", "child_options"]

_PR_SET_PDEATHSIG = 1

# The watchdog: reads "+pid", "-pid", "+dir PATH", "-dir PATH" lines until end of file, then
# sends SIGTERM to each process group still listed, SIGKILL to any still there 5 s later, and
# removes the folders. Its own session and ignored SIGINT/SIGHUP keep the terminal's signals away.
_WATCHDOG = r"""
import os, shutil, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
groups, dirs = set(), set()
for line in sys.stdin:
    op, _, arg = line.rstrip("\n").partition(" ")
    {"+pid": groups.add, "-pid": groups.discard, "+dir": dirs.add, "-dir": dirs.discard}[op](arg)
def alive(g):
    try:
        os.killpg(int(g), 0)
        return True
    except OSError:
        return False
for sig in (signal.SIGTERM, signal.SIGKILL):
    for g in groups:
        try:
            os.killpg(int(g), sig)
        except OSError:
            pass
    deadline = time.monotonic() + 5
    while any(alive(g) for g in groups) and time.monotonic() < deadline:
        time.sleep(0.05)
for d in dirs:
    shutil.rmtree(d, ignore_errors=True)
"""


def _prctl() -> Any:
    """libc's prctl, looked up in the parent: a forked child of a threaded process must not dlopen."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A preexec function: SIGTERM this child when ``parent`` dies (Linux; elsewhere a no-op)."""
    prctl = _prctl()

    def arm() -> None:
        if prctl is None:
            return
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


def child_options() -> dict[str, Any]:
    """``subprocess.Popen`` keyword arguments for a child that must not outlive this process."""
    return {"start_new_session": True, "preexec_fn": _die_with_parent(os.getpid())}


class Lifeline:
    """A watchdog that ends the registered process groups and removes the registered folders when
    this process ends; ``close()`` (or leaving the ``with`` block) ends it after a normal cleanup."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )

    def _send(self, line: str) -> None:
        pipe: IO[str] | None = self._proc.stdin if self._proc else None
        if pipe is not None:
            pipe.write(line + "\n")
            pipe.flush()

    def watch(self, proc: subprocess.Popen[Any]) -> None:
        """End ``proc``'s process group (started with ``child_options()``) if this process dies first."""
        self._send(f"+pid {proc.pid}")

    def forget(self, proc: subprocess.Popen[Any]) -> None:
        """``proc`` was stopped: its group id may be reused, so the watchdog must not signal it."""
        self._send(f"-pid {proc.pid}")

    def remove_later(self, folder: str | Path) -> None:
        """Remove ``folder`` when this process ends, if nothing removed it before."""
        self._send(f"+dir {folder}")

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start a child with ``child_options()`` and watch it."""
        proc: subprocess.Popen[Any] = subprocess.Popen(list(argv), **child_options(), **kwargs)
        self.watch(proc)
        return proc

    def run(self, argv: Sequence[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """``subprocess.run(argv, capture_output=True, text=True)`` for a watched child; on timeout
        or interruption its whole process group is ended."""
        proc = self.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
        with proc:  # closes the pipes however this ends
            try:
                out, err = proc.communicate(timeout=timeout)
            except BaseException:
                stop_group(proc)
                raise
            finally:
                self.forget(proc)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def close(self) -> None:
        """End the watchdog: it stops what is still registered, as if this process had ended."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Lifeline:
        return self

    def __exit__(self, typ: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def stop_group(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM the process group of ``proc`` (a child of ``child_options()``), SIGKILL after ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue
