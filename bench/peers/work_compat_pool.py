"""work_compat: its Enqueuer fills the queue for the Go pool and for its own pool; its WorkerPool runs jobs.

The pool is written against the planned API::

    pool = WorkerPool(8, namespace, redis_url)                    # --mode threads
    pool = WorkerPool(8, namespace, redis_url, processes=True)    # --mode processes
    pool.job("noop", handler)       # handler(job): job.args is a dict, job.id a str
    pool.start(); ...; pool.stop()

Until ``work_compat.WorkerPool`` exists, ``check`` and ``worker`` exit 3 ("not available yet").
Job history stays on: the pool keeps it by default, as the fork does, and that is part of its cost.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.peers._common import (
    FILLER,
    JOB_NAME,
    NAMESPACE,
    Unavailable,
    open_report,
    paced,
    report,
    throughput_args,
    timed,
    wait_for_sigterm,
)


def handler(job: Any) -> None:
    start = time.time_ns()
    args = job.args
    report(args["i"], start, args.get("t"))


def _pool_class() -> Any:
    try:
        from work_compat import WorkerPool
    except ImportError as err:
        raise Unavailable(f"not available yet (from work_compat import WorkerPool: {err})") from None
    return WorkerPool


def check(args: argparse.Namespace) -> dict[str, Any]:
    if args.mode != "enqueue-only":
        _pool_class()
    import work_compat

    return {"version": getattr(work_compat, "__version__", None)}


def enqueue(args: argparse.Namespace) -> dict[str, Any]:
    from work_compat import Enqueuer

    enq = Enqueuer(NAMESPACE, args.url)
    try:
        return timed(lambda: enq.enqueue_many([(JOB_NAME, throughput_args(k)) for k in range(args.n)]))
    finally:
        enq.close()


def latency(args: argparse.Namespace) -> dict[str, Any]:
    from work_compat import Enqueuer

    enq = Enqueuer(NAMESPACE, args.url)
    try:
        seconds = paced(
            args.lead_in + args.n,
            args.rate,
            lambda k, t: enq.enqueue(JOB_NAME, {"i": k, "s": FILLER, "t": t}),
        )
    finally:
        enq.close()
    return {"seconds": seconds}


def worker(args: argparse.Namespace) -> dict[str, Any]:
    pool_class = _pool_class()
    open_report()
    if args.mode == "processes":
        pool = pool_class(args.concurrency, NAMESPACE, args.url, processes=True)
    else:
        pool = pool_class(args.concurrency, NAMESPACE, args.url)
    pool.job(JOB_NAME, handler)  # bench.peers.work_compat_pool.handler: spawned children import it by name
    pool.start()
    try:
        got = wait_for_sigterm()
    finally:
        pool.stop()
    return {"stopped_by": got}


ROLES = {"check": check, "enqueue": enqueue, "latency": latency, "worker": worker}
