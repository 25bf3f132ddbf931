"""``worker`` and ``beat``: Celery's options, turned into a WorkController or a Beat and run.

Options with no meaning for a gocraft pool (``-O``, ``--prefetch-multiplier``, ``-E``, gossip, mingle)
are accepted and ignored, so existing start scripts keep working; ``-D``, ``--uid``/``--gid`` and the
eventlet/gevent pools are refused with the reason, because running half of what was asked is worse.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from ..app.base import Celery
from ..app.log import LEVELS, redirect_stdouts, setup_logging
from ..exceptions import ImproperlyConfigured
from .find_app import import_task_modules
from .options import comma_list, loglevel

__all__ = ["add_parsers", "pidfile"]

logger = logging.getLogger(__name__)


def _concurrency(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'auto'") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_parsers(sub: Any) -> None:
    w = sub.add_parser("worker", help="start a worker node (a gocraft worker pool)")
    w.add_argument("-c", "--concurrency", type=_concurrency, help="workers (default: worker_concurrency, else CPUs)")
    w.add_argument("-P", "--pool", help="prefork (default: worker_pool), processes, threads or solo")
    w.add_argument("-Q", "--queues", type=comma_list, action="extend", help="only these queues (comma-separated)")
    w.add_argument("-X", "--exclude-queues", type=comma_list, action="extend", help="not these queues")
    w.add_argument("-I", "--include", type=comma_list, action="extend", help="also import these modules")
    w.add_argument("-l", "--loglevel", type=loglevel, default="WARNING", help=f"one of {', '.join(LEVELS)}")
    w.add_argument("-n", "--hostname", default="celery@%h", help="node name (%%h host, %%n name, %%d domain)")
    w.add_argument("-B", "--beat", action="store_true", help="also run beat in this process")
    w.add_argument("-s", "--schedule", "--schedule-filename", help="accepted; beat keeps no schedule file")
    w.add_argument("--scheduler", help="beat scheduler class; only beat_schedule is read (others are reported)")
    w.add_argument("--max-tasks-per-child", type=int, help="replace a child process after this many tasks")
    w.add_argument("--max-memory-per-child", type=int, help="not supported yet; ignored with a warning")
    w.add_argument("--time-limit", type=float, help="hard time limit of every task, seconds")
    w.add_argument("--soft-time-limit", type=float, help="soft time limit of every task, seconds")
    w.add_argument("--autoscale", help="not supported; ignored with a warning (the pool keeps -c workers)")
    w.add_argument("--purge", "--discard", action="store_true", help="delete the waiting jobs of its queues first")
    w.add_argument("--pidfile", help="write the pid here; refuse to start if a live process holds it")
    w.add_argument("-f", "--logfile", help="log here instead of stderr")
    w.add_argument("-D", "--detach", action="store_true", help="refused: run under a process supervisor")
    for flag in ("--uid", "--gid", "--umask", "--executable"):
        w.add_argument(flag, help="refused: set this in the process supervisor")
    noop = w.add_argument_group("accepted for compatibility, no effect on a gocraft pool")
    noop.add_argument("-E", "--task-events", "--events", action="store_true")
    noop.add_argument("-O", "--optimization", choices=("default", "fair"))
    noop.add_argument("--prefetch-multiplier", type=int)
    noop.add_argument("--disable-prefetch", action="store_true")
    noop.add_argument("--without-gossip", action="store_true")
    noop.add_argument("--without-mingle", action="store_true")
    noop.add_argument("--without-heartbeat", action="store_true", help="the gocraft heartbeat always runs")
    noop.add_argument("--heartbeat-interval", type=int)
    noop.add_argument("-S", "--statedb", help="revokes are kept in Redis already")
    noop.add_argument("--pool-start-method", choices=("fork", "spawn"))
    w.set_defaults(func=run_worker)

    b = sub.add_parser("beat", help="start the beat scheduler")
    b.add_argument("-s", "--schedule", help="accepted; beat keeps no schedule file (ids are deterministic)")
    b.add_argument("-S", "--scheduler", help="scheduler class; only beat_schedule is read (others are reported)")
    b.add_argument("--max-interval", type=int, help="accepted; beat plans ahead on its own horizon")
    b.add_argument("-l", "--loglevel", type=loglevel, default="WARNING", help=f"one of {', '.join(LEVELS)}")
    b.add_argument("-n", "--hostname", default="celerybeat@%h", help="accepted")
    b.add_argument("--pidfile", help="write the pid here; refuse to start if a live process holds it")
    b.add_argument("-f", "--logfile", help="log here instead of stderr")
    b.add_argument("--detach", action="store_true", help="refused: run under a process supervisor")
    b.set_defaults(func=run_beat)


def _refusals(args: argparse.Namespace) -> str | None:
    if args.detach:
        return "-D/--detach is not supported: run celery-shim under a process supervisor (systemd, supervisord, docker)"
    for flag in ("uid", "gid", "umask", "executable"):
        if getattr(args, flag, None):
            return f"--{flag} is not supported: set it in the process supervisor that starts celery-shim"
    return None


@contextlib.contextmanager
def pidfile(path: str | None) -> Iterator[None]:
    """Hold ``path`` with this pid while running, as Celery does; a stale file is replaced."""
    if not path:
        yield
        return
    try:
        with open(path) as fh:
            other = int(fh.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        other = 0
    if other and other != os.getpid() and _alive(other):
        raise ImproperlyConfigured(f"pidfile {path} names process {other}, which is running")
    with open(path, "w") as fh:
        fh.write(f"{os.getpid()}\n")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as err:
        return err.errno == errno.EPERM
    return True


class _EarlySignals:
    """SIGTERM/SIGINT before the worker has its own handlers (it installs them once started) means
    "stop as soon as you are up", not death by the default handler with jobs half-claimed."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._stop: Callable[[], None] | None = None
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.warning("%s while starting: warm shutdown once started", signal.Signals(signum).name)
        self.received = signum
        if self._stop is not None:
            self._stop()

    def hand_to(self, stop: Callable[[], None]) -> None:
        self._stop = stop
        if self.received is not None:
            stop()


def run_worker(app: Celery, args: argparse.Namespace) -> int:
    refusal = _refusals(args)
    if refusal:
        print(f"celery-shim worker: {refusal}", file=sys.stderr)
        return 2
    early = _EarlySignals()
    setup_logging(app.conf, args.loglevel, args.logfile)
    for flag, value in (("--autoscale", args.autoscale), ("--max-memory-per-child", args.max_memory_per_child)):
        if value is not None:
            logger.warning("%s is not supported yet; ignored", flag)
    import_task_modules(app, args.include)  # -I adds to include, as in Celery
    if args.scheduler:
        app.conf.beat_scheduler = args.scheduler  # beat says so if it cannot load it
    from ..worker.worker import WorkController

    with pidfile(args.pidfile):
        if args.purge:
            from .control import purge_queues

            count = purge_queues(app, args.queues, args.exclude_queues)
            print(f"Purged {count} message{'s' if count != 1 else ''} from the worker's queues.", flush=True)
        controller = WorkController(
            app,
            concurrency=args.concurrency,
            pool=args.pool,
            queues=args.queues,
            exclude_queues=args.exclude_queues,
            hostname=args.hostname,
            beat=args.beat,
            max_tasks_per_child=args.max_tasks_per_child,
            time_limit=args.time_limit,
            soft_time_limit=args.soft_time_limit,
        )
        early.hand_to(controller.request_stop)
        if not args.quiet:
            print(
                f"celery-shim worker {controller.hostname}: {controller.pool_kind} pool of {controller.concurrency}, "
                f"namespace {app.namespace!r}, tasks {', '.join(controller.job_names) or '(none)'}",
                flush=True,
            )
        redirect_stdouts(app.conf)  # from here what tasks print goes to the log, as in Celery
        controller.run()
    return 0


def run_beat(app: Celery, args: argparse.Namespace) -> int:
    refusal = _refusals(args)
    if refusal:
        print(f"celery-shim beat: {refusal}", file=sys.stderr)
        return 2
    setup_logging(app.conf, args.loglevel, args.logfile)
    if args.scheduler:
        app.conf.beat_scheduler = args.scheduler  # beat says so if it cannot load it
    from ..beat import Beat

    with pidfile(args.pidfile):
        if not args.quiet:
            print(f"celery-shim beat: namespace {app.namespace!r}", flush=True)
        return Beat(app).run()
