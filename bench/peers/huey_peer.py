"""Huey with RedisHuey: one consumer with ``--concurrency`` thread workers (``huey_consumer -w 8``).

Defaults kept: thread workers, blocking dequeue (BRPOP, 1 s read timeout), results stored (huey
skips ``None`` results by default, and the no-op returns None), periodic-task scheduler on.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from typing import Any

from bench.peers._common import FILLER, JOB_NAME, Unavailable, open_report, paced, report, throughput_args, timed

try:
    import huey
    from huey import RedisHuey
except ImportError:  # pragma: no cover - reported by check
    huey = None  # type: ignore[assignment]

app: Any = None
noop: Any = None
if huey is not None:
    app = RedisHuey("bench", url=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"))

    @app.task(name=JOB_NAME)
    def noop(i: int, s: str, t: float | None = None) -> None:
        start = time.time_ns()
        report(i, start, t)


def _need(args: argparse.Namespace) -> None:
    if huey is None:
        raise Unavailable("not installed (pip install huey)")
    if os.environ.get("BENCH_BROKER_URL") != args.url:
        raise SystemExit("huey_peer: set BENCH_BROKER_URL to --url (the Huey instance is made at import)")


def check(args: argparse.Namespace) -> dict[str, Any]:
    _need(args)
    return {"version": huey.__version__}


def enqueue(args: argparse.Namespace) -> dict[str, Any]:
    _need(args)

    def run() -> None:
        for k in range(args.n):
            noop(**throughput_args(k))

    return timed(run)


def latency(args: argparse.Namespace) -> dict[str, Any]:
    _need(args)
    seconds = paced(args.lead_in + args.n, args.rate, lambda k, t: noop(i=k, s=FILLER, t=t))
    return {"seconds": seconds}


def worker(args: argparse.Namespace) -> None:
    _need(args)
    logging.basicConfig(level=logging.WARNING)
    open_report()
    consumer = app.create_consumer(workers=args.concurrency, worker_type="thread")
    consumer.run()


ROLES = {"check": check, "enqueue": enqueue, "latency": latency, "worker": worker}
