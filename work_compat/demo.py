"""The README's demo: Python enqueues every kind of job, lists the namespace, and Go runs the jobs.

With no Redis URL it starts a private redis-server (see ``embedded``). When Go is installed and the
repository's ``examples/go_worker`` is at hand, a real gocraft/work pool runs what Python enqueued.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from .client import Client
from .embedded import EmbeddedRedis
from .enqueue import EnqueueOptions, Enqueuer, RetryOptions
from .job import BackoffStrategy

GO_WORKER = Path(__file__).resolve().parent.parent / "examples" / "go_worker"


@contextlib.contextmanager
def _redis(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with EmbeddedRedis() as server:
        print(f"started a private redis-server ({server.binary}) at {server.url}")
        yield server.url


def _table(rows: list[tuple[object, ...]], header: tuple[str, ...]) -> str:
    cells = [header, *[tuple(str(c) for c in r) for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("  " + line for line in lines)


def run_demo(redis_url: str | None, namespace: str, with_go: bool) -> int:
    with _redis(redis_url) as url:
        enq = Enqueuer(namespace, url)
        client = Client(namespace, url)
        print(f"\n== 1. Python enqueues into namespace {namespace!r}")
        for to in ("ada@example.com", "grace@example.com", "linus@example.com"):
            job = enq.enqueue("send_email", {"to": to, "subject": "Welcome <3"})
        print(f"  enqueue            -> {job.to_json()}")
        sj = enq.enqueue_in("resize_image", 300, {"path": "/img/cat.png", "width": 640})
        print(f"  enqueue_in 300 s   -> run_at {sj.run_at}: {sj.job.to_json()}")
        first = enq.enqueue_unique("rebuild_index", {"shard": 7})
        again = enq.enqueue_unique("rebuild_index", {"shard": 7})
        outcome = ["queued" if j else "duplicate (None)" for j in (first, again)]
        print(f"  enqueue_unique x2  -> {outcome[0]}, then {outcome[1]}")
        opt = enq.enqueue_with_options(
            "charge_card",
            {"order": "A-1001", "cents": 1999},
            EnqueueOptions(retry=RetryOptions(5, BackoffStrategy.LINEAR, 30)),
        )
        assert opt is not None
        print(f"  enqueue_with_options -> {opt.to_json()}")
        batch = enq.enqueue_many(("track_event", {"i": i, "kind": "page_view"}) for i in range(1000))
        print(f"  enqueue_many       -> {len(batch)} track_event jobs in one round trip")

        print("\n== 2. The client lists the namespace, as Go's client and workwebui would")
        print(_table([(q.job_name, q.count, q.latency) for q in client.queues()], ("queue", "jobs", "latency s")))
        scheduled, total = client.scheduled_jobs()
        print(f"  scheduled: {total} job(s); first runs at {scheduled[0].run_at}: {scheduled[0].job.name}")

        go = shutil.which("go")
        if not with_go:
            print("\n== 3. (Go worker skipped: --no-go)")
        elif go is None or not GO_WORKER.exists():
            print("\n== 3. (Go worker skipped: no `go` on PATH or no examples/go_worker here)")
        else:
            print("\n== 3. A gocraft/work pool in Go runs the Python jobs")
            names = "send_email,rebuild_index,charge_card"
            proc = subprocess.run(
                [go, "run", ".", "-redis", url, "-ns", namespace, "-jobs", names, "-expect", "5"],
                cwd=GO_WORKER,
                capture_output=True,
                text=True,
                timeout=300,
            )
            print("\n".join("  " + line for line in proc.stdout.splitlines()))
            if proc.returncode != 0:
                print(f"  go worker failed ({proc.returncode}):\n{proc.stderr}")
                return 1
            print(_table([(q.job_name, q.count, q.latency) for q in client.queues()], ("queue", "jobs", "latency s")))
        print("\nDone.")
    return 0
