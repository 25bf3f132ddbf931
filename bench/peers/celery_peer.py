"""Celery with the Redis broker (kombu's redis transport), prefork or threads pool.

Defaults kept: no result backend (Celery stores no results unless one is configured), prefetch
multiplier 4, acks on receipt, mingle, gossip and heartbeats on. Only the log level is lowered and
the broker URL is given (``broker_connection_retry_on_startup`` is set to its current behaviour to
silence the deprecation warning).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from bench.peers._common import FILLER, JOB_NAME, Unavailable, paced, report, throughput_args, timed_with_floor

try:
    import celery
    from celery import Celery
except ImportError:  # pragma: no cover - reported by check
    celery = None  # type: ignore[assignment]

app: Any = None
noop: Any = None
if celery is not None:
    app = Celery("bench", broker=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"))  # --url wins
    app.conf.broker_connection_retry_on_startup = True
    app.conf.worker_hijack_root_logger = False

    @app.task(name=JOB_NAME)
    def noop(i: int, s: str, t: float | None = None) -> None:
        start = time.time_ns()
        report(i, start, t)


def _configure(url: str) -> None:
    if celery is None:
        raise Unavailable("not installed (pip install 'celery[redis]')")
    app.conf.broker_url = url


def check(args: argparse.Namespace) -> dict[str, Any]:
    _configure(args.url)
    import kombu

    return {"version": celery.__version__, "kombu": kombu.__version__}


def enqueue(args: argparse.Namespace) -> dict[str, Any]:
    _configure(args.url)

    def run() -> None:
        for k in range(args.n):
            noop.apply_async(kwargs=throughput_args(k))

    return timed_with_floor(args.url, args.n, run)


def latency(args: argparse.Namespace) -> dict[str, Any]:
    _configure(args.url)
    seconds = paced(
        args.lead_in + args.n, args.rate, lambda k, t: noop.apply_async(kwargs={"i": k, "s": FILLER, "t": t})
    )
    return {"seconds": seconds}


def worker(args: argparse.Namespace) -> None:
    _configure(args.url)
    pool = args.mode or "prefork"
    app.worker_main(["worker", f"--pool={pool}", f"--concurrency={args.concurrency}", "--loglevel=WARNING"])


ROLES = {"check": check, "enqueue": enqueue, "latency": latency, "worker": worker}
