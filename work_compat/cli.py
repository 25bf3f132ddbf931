"""The ``work-compat`` command: ``demo`` and ``enqueue`` (like Go's ``workenqueue``).

The only module that reads the environment or configures logging. Each subcommand parses its
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
    try:
        code: int = args.func(args)
    except WorkCompatError as err:
        print(f"work-compat {args.command}: {err}", file=sys.stderr)
        return 1
    return code
