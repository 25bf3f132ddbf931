"""The ``work-compat`` command: ``worker``, ``enqueue`` (Go's ``workenqueue``), ``fakedata``, ``demo``.

With ``gotime.local_zone`` (Go's ``TZ`` fallback for cron specs), the only module that reads the
environment, and the only one that configures logging. Each subcommand parses its
flags, builds objects and calls one function.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from .enqueue import Enqueuer
from .errors import WorkCompatError

__all__ = ["main"]


def _enqueue(args: argparse.Namespace) -> int:
    try:
        job_args = json.loads(args.args)
    except json.JSONDecodeError as err:
        print(f"work-compat enqueue: -args is not JSON: {err}", file=sys.stderr)
        return 2
    if not isinstance(job_args, dict):
        print("work-compat enqueue: -args must be a JSON object", file=sys.stderr)
        return 2
    job = Enqueuer(args.ns, args.redis).enqueue(args.job, job_args)
    print(job.to_json())
    return 0


def _worker(args: argparse.Namespace) -> int:
    from .worker_cli import load_pool, run_worker

    pool = load_pool(args.pool).reconfigured(
        concurrency=args.concurrency, namespace=args.ns, redis=args.redis, processes=True if args.processes else None
    )
    return run_worker(pool)


def _fakedata(args: argparse.Namespace) -> int:
    from .worker_cli import run_fakedata

    return run_fakedata(args.redis, args.ns, args.seconds, args.rate)


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(redis_url=args.redis, namespace=args.ns, with_go=not args.no_go)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="work-compat", description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--log-level", default=os.environ.get("WORK_COMPAT_LOG_LEVEL", "WARNING"))
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="enqueue jobs from Python, list them, and run them in Go")
    demo.add_argument(
        "--redis",
        "-redis",
        default=os.environ.get("WORK_COMPAT_REDIS"),
        help="Redis URL (default: start a private redis-server)",
    )
    demo.add_argument("--ns", "-ns", default="demo", help="namespace (default: demo)")
    demo.add_argument("--no-go", action="store_true", help="skip the Go worker even when Go is installed")
    demo.set_defaults(func=_demo)

    worker = sub.add_parser("worker", help="run the WorkerPool defined at module:attribute")
    worker.add_argument("pool", help="module:attribute of a WorkerPool (or of a function returning one)")
    worker.add_argument("-c", "--concurrency", type=int, default=None, help="workers (default: the pool's)")
    worker.add_argument("--processes", action="store_true", help="run handlers in child processes")
    worker.add_argument("--redis", "-redis", default=os.environ.get("WORK_COMPAT_REDIS"), help="Redis URL")
    worker.add_argument("--namespace", "--ns", "-ns", dest="ns", default=None, help="namespace (default: the pool's)")
    worker.set_defaults(func=_worker)

    fake = sub.add_parser("fakedata", help="enqueue and work lively fake jobs, like Go's workfakedata")
    fake.add_argument("--redis", "-redis", default=os.environ.get("WORK_COMPAT_REDIS", "redis://localhost:6379/0"))
    fake.add_argument("--ns", "-ns", default="work")
    fake.add_argument("--seconds", type=float, default=60.0, help="how long to run (default 60)")
    fake.add_argument("--rate", type=float, default=10.0, help="jobs enqueued per second (default 10)")
    fake.set_defaults(func=_fakedata)

    enq = sub.add_parser("enqueue", help="enqueue one job, like Go's workenqueue")
    enq.add_argument(
        "--redis", "-redis", default=os.environ.get("WORK_COMPAT_REDIS", ":6379"), help="Redis URL or host:port"
    )
    enq.add_argument("--ns", "-ns", default="work", help="namespace (default: work)")
    enq.add_argument("--job", "-job", required=True, help="job name")
    enq.add_argument("--args", "-args", default="{}", help="job args as a JSON object")
    enq.set_defaults(func=_enqueue)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "worker" and args.log_level == "WARNING":
        logging.getLogger("work_compat").setLevel(logging.INFO)
    try:
        code: int = args.func(args)
    except WorkCompatError as err:
        print(f"work-compat {args.command}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: what the command started is stopped by its own cleanup
        return 130
    return code
