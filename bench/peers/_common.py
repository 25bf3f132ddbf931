"""What every runner shares: the per-job report, the paced enqueue loop and the command line.

The report: each handler makes one 32-byte record, four little-endian int64s (arg ``i``, start ns,
end ns, enqueue ns or 0), for the FIFO named by ``$BENCH_REPORT_FIFO``. A handler only appends it to
its process's buffer; a thread of that process writes the buffer every ``FLUSH_EVERY`` seconds, at
most ``PIPE_BUF // 32`` records per ``write`` (writes under PIPE_BUF bytes are atomic, so threads and
processes never interleave). The Go program does the same. Cost per job: one ``time.time_ns()``
pair and one append, so no system under test makes a syscall per job for the benchmark's sake: a
syscall per job in the handler hands the GIL over on every job and costs a thread pool of 8 about
40% here, which is the handler's cost, not the job system's. Systems whose handler process exits
after each job (RQ's work horses) write each record at once instead (``open_report(buffered=False)``).

Roles (``python -m bench.peers <name> ROLE``):

- ``check``: exit 0 and print ``{"version": ...}`` when the system can run, exit 3 with the reason
  on stdout when it cannot (not installed, not written yet).
- ``enqueue``: enqueue ``-n`` jobs ``{"i": k, "s": "x" * 32}`` with the system's own API, print
  ``{"seconds": ...}``.
- ``latency``: enqueue ``--lead-in`` + ``-n`` jobs one at a time at ``--rate`` per second, each with
  ``"t": time.time()`` taken just before its enqueue call.
- ``worker``: run the worker (concurrency ``--concurrency``) until SIGTERM.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

FIFO_ENV = "BENCH_REPORT_FIFO"
RECORD = struct.Struct("<qqqq")
FILLER = "x" * 32
JOB_NAME = "noop"
NAMESPACE = "bench-workers"
UNAVAILABLE = 3  # exit code of a runner whose system cannot run here

FLUSH_EVERY = 0.002  # seconds between the writes of a process's buffered records
PER_WRITE = 4096 // RECORD.size  # records per write: PIPE_BUF bytes, so each write is atomic

_fd = -1
_buffered = True
_buffer: collections.deque[bytes] = collections.deque()
_writer_pid = 0  # the process whose writer thread drains _buffer (0: none yet)
_writer_lock = threading.Lock()


def open_report(buffered: bool = True) -> None:
    """Open the FIFO now, so processes forked later inherit the descriptor (lazily opened otherwise).
    ``buffered=False``: every record is written by the handler itself, for processes that exit
    after one job."""
    global _fd, _buffered
    _buffered = buffered
    if _fd < 0 and os.environ.get(FIFO_ENV):
        _fd = os.open(os.environ[FIFO_ENV], os.O_WRONLY)


def _start_writer() -> None:
    """One writer thread per process, started by the first record (so forked children get theirs)."""
    global _writer_pid
    with _writer_lock:
        if _writer_pid == os.getpid():
            return
        _buffer.clear()  # a forked child's copy of its parent's records: the parent writes those
        _writer_pid = os.getpid()
        threading.Thread(target=_write_buffered, name="bench-report", daemon=True).start()


def _write_buffered() -> None:
    while True:
        time.sleep(FLUSH_EVERY)
        while _buffer:
            chunk = []
            with contextlib.suppress(IndexError):
                while len(chunk) < PER_WRITE:
                    chunk.append(_buffer.popleft())
            os.write(_fd, b"".join(chunk))


def report(i: int, start_ns: int, t: float | None) -> None:
    """The one thing a no-op handler does: say which job ran, when it started and when it was enqueued."""
    if _fd < 0:
        open_report(_buffered)
    record = RECORD.pack(i, start_ns, time.time_ns(), 0 if t is None else int(t * 1e9))
    if not _buffered:
        os.write(_fd, record)
        return
    if _writer_pid != os.getpid():
        _start_writer()
    _buffer.append(record)


def throughput_args(k: int) -> dict[str, Any]:
    return {"i": k, "s": FILLER}


def paced(total: int, rate: float, send: Callable[[int, float], object]) -> float:
    """Call ``send(k, time.time())`` for k in 0..total-1 on a fixed schedule of ``rate`` per second."""
    t0 = time.perf_counter()
    for k in range(total):
        delay = t0 + k / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        send(k, time.time())
    return time.perf_counter() - t0


class Unavailable(Exception):
    """The system cannot run here (not installed, or not written yet)."""


def emit(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def run_cli(name: str, roles: dict[str, Callable[[argparse.Namespace], dict[str, Any] | None]], argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog=f"python -m bench.peers {name}")
    p.add_argument("role", choices=sorted(roles))
    p.add_argument("--url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--mode", default="", help="variant of the system (e.g. prefork or threads)")
    p.add_argument("-n", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--lead-in", type=int, default=0)
    args = p.parse_args(argv)
    try:
        doc = roles[args.role](args)
    except Unavailable as err:
        emit({"unavailable": str(err)})
        return UNAVAILABLE
    if doc is not None:
        emit(doc)
    return 0


def lpush_floor(url: str, n: int, key: bytes, value: bytes) -> float:
    """Seconds for ``n`` LPUSHes of ``value`` over a raw socket, one at a time, each waiting for its
    reply: what one Redis round trip per call costs this process here, with no client library.
    The list is deleted afterwards."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        db = (parts.path or "/0").lstrip("/") or "0"
        sock.sendall(b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(db), db.encode()))
        if not sock.recv(64).startswith(b"+OK"):
            raise RuntimeError(f"SELECT {db} failed")
        command = b"*3\r\n$5\r\nLPUSH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value)
        t0 = time.perf_counter()
        for _ in range(n):
            sock.sendall(command)
            if not sock.recv(64).startswith(b":"):  # an integer reply, in one segment at this size
                raise RuntimeError("unexpected LPUSH reply")
        seconds = time.perf_counter() - t0
        sock.sendall(b"*2\r\n$3\r\nDEL\r\n$%d\r\n%s\r\n" % (len(key), key))
        sock.recv(64)
        return seconds
    finally:
        sock.close()


# What a gocraft job of the throughput workload looks like on the wire (the floor's LPUSH value).
FLOOR_VALUE = (
    b'{"name":"noop","id":"00000000-0000-4000-8000-000000000000","t":1800000000,'
    b'"args":{"i":1234,"s":"' + FILLER.encode() + b'"}}'
)


def timed_with_floor(url: str, n: int, fn: Callable[[], object]) -> dict[str, Any]:
    """``timed(fn)``, with ``lpush_floor`` measured from this process just before and just after it
    (the same for every system it is used for: the calls' own Redis round trip, without them)."""
    before = lpush_floor(url, n, b"bench-lpush-floor", FLOOR_VALUE)
    doc = timed(fn)
    doc["lpush_floor_seconds"] = [before, lpush_floor(url, n, b"bench-lpush-floor", FLOOR_VALUE)]
    return doc


def timed(fn: Callable[[], object]) -> dict[str, Any]:
    t0 = time.perf_counter()
    fn()
    return {"seconds": time.perf_counter() - t0}


def wait_for_sigterm() -> str:
    """Block the main thread until SIGTERM or SIGINT; return the signal's name."""
    import signal
    import threading

    got: list[str] = []
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        got.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(0.5):
        pass
    return got[0]
