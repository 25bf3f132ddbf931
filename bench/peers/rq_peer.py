"""RQ: ``WorkerPool`` of ``--concurrency`` workers (what ``rq worker-pool -n 8`` runs).

Defaults kept: the default ``Worker`` class, which forks a work horse for every job; results kept
for 500 s (``result_ttl``), job hashes and registries as RQ writes them.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.peers._common import FILLER, Unavailable, open_report, paced, report, throughput_args, timed

QUEUE = "default"
FUNC = "bench.peers.rq_peer.noop"  # by path: the worker imports it


def noop(i: int, s: str, t: float | None = None) -> None:
    start = time.time_ns()
    report(i, start, t)


def _rq() -> Any:
    try:
        import rq
    except ImportError:
        raise Unavailable("not installed (pip install rq)") from None
    return rq


def _queue(url: str) -> Any:
    rq = _rq()
    from redis import Redis

    return rq.Queue(QUEUE, connection=Redis.from_url(url))


def check(args: argparse.Namespace) -> dict[str, Any]:
    return {"version": _rq().__version__}


def enqueue(args: argparse.Namespace) -> dict[str, Any]:
    q = _queue(args.url)

    def run() -> None:
        for start in range(0, args.n, 1000):
            q.enqueue_many(
                [q.prepare_data(FUNC, kwargs=throughput_args(k)) for k in range(start, min(args.n, start + 1000))]
            )

    return timed(run)


def latency(args: argparse.Namespace) -> dict[str, Any]:
    q = _queue(args.url)
    seconds = paced(args.lead_in + args.n, args.rate, lambda k, t: q.enqueue(FUNC, i=k, s=FILLER, t=t))
    return {"seconds": seconds}


def worker(args: argparse.Namespace) -> None:
    _rq()
    from redis import Redis
    from rq.worker_pool import WorkerPool

    # The pool's workers and their work horses are forked: they inherit the descriptor. A work horse
    # exits after its job, so it writes its record itself.
    open_report(buffered=False)
    pool = WorkerPool([QUEUE], connection=Redis.from_url(args.url), num_workers=args.concurrency)
    pool.start(logging_level="WARNING")


ROLES = {"check": check, "enqueue": enqueue, "latency": latency, "worker": worker}
