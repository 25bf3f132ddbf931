"""celery_shim: the same task module as the Celery runner, with its import line changed.

``noop.apply_async(kwargs=...)`` writes one gocraft job per call (as Celery publishes one message
per call), and the worker is celery_shim's WorkController — a work_compat pool under Celery's task
semantics — with the pool kind given by ``--mode`` (threads or prefork). Defaults kept: no result
backend, as in the Celery runner; job history on (work_compat's default).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from bench.peers._common import (
    FILLER,
    JOB_NAME,
    NAMESPACE,
    Unavailable,
    paced,
    report,
    throughput_args,
    timed_with_floor,
)

try:
    import celery_shim
    from celery_shim import Celery
except ImportError:  # pragma: no cover - reported by check
    celery_shim = None  # type: ignore[assignment]

app: Any = None
noop: Any = None
if celery_shim is not None:
    app = Celery("bench", broker=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"))
    app.conf.gocraft_namespace = NAMESPACE

    @app.task(name=JOB_NAME)
    def noop(i: int, s: str, t: float | None = None) -> None:
        start = time.time_ns()
        report(i, start, t)


def _configure(url: str) -> None:
    if celery_shim is None:
        raise Unavailable("not importable")
    app.conf.broker_url = url


def check(args: argparse.Namespace) -> dict[str, Any]:
    _configure(args.url)
    try:
        from celery_shim.worker.worker import WorkController  # noqa: F401
    except ImportError as err:
        raise Unavailable(f"no worker yet ({err})") from None
    return {"version": celery_shim.__version__}


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
    from celery_shim.worker.worker import WorkController

    WorkController(app, concurrency=args.concurrency, pool=args.mode or "threads").run()


ROLES = {"check": check, "enqueue": enqueue, "latency": latency, "worker": worker}
