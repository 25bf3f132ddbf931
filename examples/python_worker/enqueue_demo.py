"""Enqueue a mix of demo jobs for the example pool (``jobs.py``), then exit: the compose ``enqueuer``.

python -m examples.python_worker.enqueue_demo --redis redis://localhost:6379/0 --ns demo
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from work_compat import Enqueuer, WorkCompatError

from .jobs import NAMESPACE

__all__ = ["enqueue_demo", "main"]


def enqueue_demo(enqueuer: Enqueuer) -> dict[str, int]:
    """Enqueue the demo batch; returns how many jobs of each name were enqueued (now or later)."""
    counts: dict[str, int] = {}

    def note(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    for i in range(10):
        enqueuer.enqueue("send_email", {"address": f"user{i}@example.com", "subject": f"Welcome #{i}"})
        note("send_email")
    enqueuer.enqueue("send_email", {"subject": "no address: goes dead at once"})
    note("send_email")
    enqueuer.enqueue_in("send_email", 120, {"address": "later@example.com", "subject": "in two minutes"})
    note("send_email")
    for i in range(5):
        enqueuer.enqueue("resize_image", {"path": f"/images/{i}.png", "width": 320 * (i + 1)})
        note("resize_image")
    for report_id in ("sales", "usage", "billing"):
        enqueuer.enqueue("generate_report", {"report_id": report_id, "steps": 5})
        note("generate_report")
    if enqueuer.enqueue_unique("generate_report", {"report_id": "nightly", "steps": 3}) is not None:
        note("generate_report")
    for account, fail_times in (("acme", 0), ("globex", 1), ("initech", 99)):  # initech ends dead
        enqueuer.enqueue("sync_account", {"account": account, "fail_times": fail_times})
        note("sync_account")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="enqueue_demo", description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--redis", default=os.environ.get("WORK_COMPAT_REDIS", "redis://localhost:6379/0"))
    parser.add_argument("--ns", default=NAMESPACE, help=f"namespace (default: {NAMESPACE})")
    args = parser.parse_args(argv)
    enqueuer = Enqueuer(args.ns, args.redis)
    try:
        counts = enqueue_demo(enqueuer)
    except WorkCompatError as err:
        print(f"enqueue_demo: {err}", file=sys.stderr)
        return 1
    finally:
        enqueuer.close()
    summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    print(f"enqueue_demo: enqueued {summary} into {args.ns!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
