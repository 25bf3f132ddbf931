"""arq: one asyncio worker process with ``max_jobs`` = ``--concurrency``.

arq 0.28 pins redis-py below 6, which the project's own environment cannot have, so it runs from a
virtualenv of its own (``python -m bench.workers --setup-arq`` makes ``bench/.build/venv-arq``).
Defaults kept: results kept for 3600 s (``keep_result``), ``poll_delay`` 0.5 s,
``queue_read_limit`` max(100, 5 x max_jobs), health checks every 3600 s.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench.peers._common import FILLER, JOB_NAME, Unavailable, open_report, report, throughput_args

try:
    import arq
    from arq.connections import RedisSettings, create_pool
    from arq.worker import Worker, func
except ImportError:  # pragma: no cover - reported by check
    arq = None  # type: ignore[assignment]


async def noop(ctx: dict[str, Any], i: int, s: str, t: float | None = None) -> None:
    start = time.time_ns()
    report(i, start, t)


def _settings(url: str) -> Any:
    if arq is None:
        raise Unavailable("not installed: arq needs redis<6, run `python -m bench.workers --setup-arq`")
    return RedisSettings.from_dsn(url)


def check(args: argparse.Namespace) -> dict[str, Any]:
    _settings(args.url)
    import redis

    return {"version": arq.VERSION, "redis_py": redis.__version__}


def enqueue(args: argparse.Namespace) -> dict[str, Any]:
    settings = _settings(args.url)

    async def run() -> float:
        pool = await create_pool(settings)
        t0 = time.perf_counter()
        for k in range(args.n):
            await pool.enqueue_job(JOB_NAME, **throughput_args(k))
        seconds = time.perf_counter() - t0
        await pool.aclose()
        return seconds

    return {"seconds": asyncio.run(run())}


def latency(args: argparse.Namespace) -> dict[str, Any]:
    settings = _settings(args.url)

    async def run() -> float:
        pool = await create_pool(settings)
        t0 = time.perf_counter()
        for k in range(args.lead_in + args.n):
            delay = t0 + k / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await pool.enqueue_job(JOB_NAME, i=k, s=FILLER, t=time.time())
        seconds = time.perf_counter() - t0
        await pool.aclose()
        return seconds

    return {"seconds": asyncio.run(run())}


def worker(args: argparse.Namespace) -> None:
    settings = _settings(args.url)
    open_report()
    w = Worker(functions=[func(noop, name=JOB_NAME)], redis_settings=settings, max_jobs=args.concurrency)
    w.run()


ROLES = {"check": check, "enqueue": enqueue, "latency": latency, "worker": worker}
