"""The README's demo: Python enqueues every kind of job and lists the namespace; a Go pool runs
Python's jobs; Go enqueues jobs; a Python pool runs what Go and Python enqueued.

With no Redis URL it starts a private redis-server (see ``embedded``). The Go steps need `go` and
the repository's ``examples/go_worker`` (a real gocraft/work program), built once per run by
``demo_go``; without them they are skipped, in one line that says why.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from .client import Client
from .connection import connect
from .demo_go import GoWorker
from .embedded import EmbeddedRedis
from .enqueue import EnqueueOptions, Enqueuer, RetryOptions
from .job import BackoffStrategy, Job
from .lifeline import Lifeline
from .worker_pool import WorkerPool


@contextlib.contextmanager
def _redis(url: str | None, lifeline: Lifeline) -> Iterator[str]:
    if url:
        yield url
        return
    with EmbeddedRedis(lifeline=lifeline) as server:
        print(f"started a private redis-server ({server.binary}) at {server.url}")
        yield server.url


def check_redis(url: str) -> None:
    """Fail in one line (RedisUnavailableError naming the address), before any step, when the Redis
    given cannot be reached."""
    conn = connect(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        with conn.errors():
            conn.client.ping()
    finally:
        conn.close()


def _table(rows: list[tuple[object, ...]], header: tuple[str, ...]) -> str:
    cells = [header, *[tuple(str(c) for c in r) for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("  " + line for line in lines)


def _python_pool(url: str, namespace: str, client: Client) -> None:
    print("\n== 5. A work_compat pool in Python runs what Go and Python enqueued")
    ran: dict[str, int] = {}
    lock = threading.Lock()

    def count(job: Job) -> None:
        with lock:
            ran[job.name] = ran.get(job.name, 0) + 1

    def report(job: Job) -> None:
        job.checkin(f"rendering report {job.arg_int64('n')}")
        print(f"  python pool ran {job.name} id={job.id} args={job.args}")
        count(job)

    def tick(job: Job) -> None:
        print(f"  python pool ran periodic {job.id}")
        count(job)

    pool = WorkerPool(8, namespace, url)
    pool.job("generate_report", report).job("track_event", count).job("tick", tick)
    pool.every("tick", 1)  # a periodic job: instants at whole seconds, one run each across pools
    started = time.monotonic()
    try:  # started inside: a Ctrl-C during start() must still stop what it started
        pool.start()
        pool.drain(timeout=60)
        elapsed = time.monotonic() - started
        beats = client.worker_pool_heartbeats()
        print(f"  ran {sum(ran.values())} jobs in {elapsed:.2f}s: {dict(sorted(ran.items()))}")
        print(f"  live pools seen by the client: {[(b.worker_pool_id, b.host, b.pid, b.job_names) for b in beats]}")
        deadline = time.monotonic() + 5
        while ran.get("tick", 0) < 2 and time.monotonic() < deadline:  # two periodic runs, bounded
            time.sleep(0.1)
    finally:
        pool.stop()
    print(_table([(q.job_name, q.count, q.latency) for q in client.queues()], ("queue", "jobs", "latency s")))
    print(f"  history: {client.history_count()} completed attempts recorded")


def run_demo(redis_url: str | None, namespace: str, with_go: bool) -> int:
    """The work_compat steps on ``redis_url``, or on a private redis-server when None."""
    with Lifeline() as lifeline, _redis(redis_url, lifeline) as url:
        check_redis(url)
        return core_steps(url, namespace, GoWorker(lifeline, wanted=with_go))


def core_steps(url: str, namespace: str, go: GoWorker) -> int:
    """Steps 1-5: Python enqueues and lists, Go runs and enqueues, a Python pool runs it all."""
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

    if not go.ready():  # built here, once for the whole run
        print(f"\n== 3. (Go steps skipped: {go.skipped})")
    else:
        print("\n== 3. A gocraft/work pool in Go runs the Python jobs")
        if go.note:
            print(f"  {go.note}")
        if go.run(url, namespace, ["-jobs", "send_email,rebuild_index,charge_card", "-expect", "5"]) is None:
            return 1
        print("\n== 4. Go enqueues jobs for Python")
        if go.run(url, namespace, ["-enqueue", "generate_report=3"]) is None:
            return 1
    _python_pool(url, namespace, client)
    return 0
