"""Dramatiq with its RedisBroker: the ``dramatiq`` command, 1 process of ``--concurrency`` threads.

Dramatiq's default is one process per CPU with 8 threads each; the benchmark holds every system to
8 jobs at a time, so it runs one process of 8 threads (its default thread count). Defaults kept:
the default middleware (age limit, time limit, callbacks, pipelines, retries, shutdown, ...), no
results middleware, prefetch as the worker sets it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from bench.peers._common import FILLER, JOB_NAME, Unavailable, paced, report, throughput_args, timed

try:
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker
except ImportError:  # pragma: no cover - reported by check
    dramatiq = None  # type: ignore[assignment]

broker: Any = None
noop: Any = None
if dramatiq is not None:
    # The dramatiq command imports this module in each worker process: the URL comes from the environment.
    broker = RedisBroker(url=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"))
    dramatiq.set_broker(broker)

    @dramatiq.actor(actor_name=JOB_NAME, queue_name="default")
    def noop(i: int, s: str, t: float | None = None) -> None:
        start = time.time_ns()
        report(i, start, t)


def _need(args: argparse.Namespace) -> None:
    if dramatiq is None:
        raise Unavailable("not installed (pip install 'dramatiq[redis]')")
    if os.environ.get("BENCH_BROKER_URL") != args.url:
        raise SystemExit("dramatiq_peer: set BENCH_BROKER_URL to --url (the broker is made at import)")


def check(args: argparse.Namespace) -> dict[str, Any]:
    _need(args)
    return {"version": dramatiq.__version__}


def enqueue(args: argparse.Namespace) -> dict[str, Any]:
    _need(args)

    def run() -> None:
        for k in range(args.n):
            noop.send_with_options(kwargs=throughput_args(k))

    return timed(run)


def latency(args: argparse.Namespace) -> dict[str, Any]:
    _need(args)
    seconds = paced(
        args.lead_in + args.n, args.rate, lambda k, t: noop.send_with_options(kwargs={"i": k, "s": FILLER, "t": t})
    )
    return {"seconds": seconds}


def worker(args: argparse.Namespace) -> None:
    _need(args)
    # exec, so the dramatiq master is the process the benchmark started and measures.
    argv = [sys.executable, "-m", "dramatiq", "bench.peers.dramatiq_peer", "--processes", "1"]
    argv += ["--threads", str(args.concurrency)]
    os.execv(sys.executable, argv)


ROLES = {"check": check, "enqueue": enqueue, "latency": latency, "worker": worker}
