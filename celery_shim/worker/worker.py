"""WorkController: a Celery worker node that runs the app's tasks on a work_compat WorkerPool.

The pool fetches, completes, retries and buries exactly as a Go pool does (same keys, same bytes),
so Go-enqueued jobs and ``delay()`` jobs run Celery task code side by side with Go pools on one
namespace. Each task is one job name (D3), selected by queue with ``-Q``/``-X`` (D10), weighted by
priority (D11) and capped by ``max_concurrency`` (D14). The node's name (``celery@host``) is also
written into the pool's heartbeat as ``celery_hostname``.

Pools: ``prefork`` (alias ``processes``, Celery's default) runs tasks in child processes, where
hard time limits apply; ``threads`` runs them in the pool's worker threads; ``solo`` is one thread.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from work_compat import Client, ConfigurationError, JobOptions, PoolSettings, WorkerPool
from work_compat.job_options import DEFAULT_MAX_FAILS, MAX_PRIORITY
from work_compat.loop import BackgroundLoop

from .. import signals
from ..app.annotations import annotate_tasks
from ..app.routes import priority_weight, tasks_in_queues
from ..app.trace import Trace
from ..exceptions import ImproperlyConfigured
from ..gocraft.keys import ShimKeys
from .consumer import TaskConsumer
from .eta import EtaMover
from .pidbox import ControlListener
from .ratelimit import RateLimits
from .revoked import RevokedIds, RevokedRefresher
from .timelimits import Limits, ThreadSoftLimit, parse_runtime_limits

if TYPE_CHECKING:
    from ..app.base import Celery
    from .prefork import PreforkPool
    from .prefork_children import PreforkChildren

__all__ = ["HEARTBEAT_FIELD", "IDLE_POLL_BACKOFFS", "POOLS", "WorkController", "default_hostname"]

logger = logging.getLogger(__name__)

HEARTBEAT_FIELD = "celery_hostname"
POOLS = {"prefork": "prefork", "processes": "prefork", "threads": "threads", "threading": "threads", "solo": "solo"}


def default_hostname(template: str | None = None) -> str:
    """The node name: ``celery@<host>`` by default; ``%h`` (host), ``%n`` (its first label),
    ``%d`` (its domain) and ``%%`` are expanded in a given one, as Celery's ``-n``."""
    host = socket.gethostname()
    if not template:
        return f"celery@{host}"
    name, _, domain = host.partition(".")
    out, i = [], 0
    while i < len(template):
        c = template[i]
        if c == "%" and i + 1 < len(template):
            code = template[i + 1]
            out.append({"h": host, "n": name, "d": domain, "%": "%"}.get(code, c + code))
            i += 2
            continue
        out.append(c)
        i += 1
    text = "".join(out)
    return text if "@" in text else f"celery@{text}"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    return [q.strip() for q in value if q and q.strip()]


class FixedDelay:
    """A task's retry delay as a job option's backoff (a class, so prefork children can unpickle it)."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def __call__(self, job: Any) -> int:
        return self.seconds


class _RuntimeSettings(BackgroundLoop):
    """Reads the rate and time limits set at runtime (``app.control``) every ``period`` seconds."""

    name = "celery-shim-runtime-settings"

    def __init__(self, controller: WorkController, period: float) -> None:
        super().__init__(period, first_delay=period)
        self.controller = controller

    def tick(self) -> None:
        self.controller.refresh_runtime_settings()


# How long an idle worker waits between fetches (ms, after 1, 2, 3, 4+ empty ones). A Celery worker
# blocks on BRPOP and starts a task the moment it is published; gocraft's fetch is a script, which
# cannot block, and Go's backoff (up to 5 s) would start the first task after a lull seconds late.
# 200 ms at most keeps pickup prompt for about 5 script calls a second per idle worker; the
# requeuer wakes idle workers when countdowns and retries fall due.
IDLE_POLL_BACKOFFS = (0, 10, 50, 100, 200)


class WorkController:
    """A worker node: ``WorkController(app, pool="threads", concurrency=4).run()``.

    Beyond Celery's options: ``pool_settings`` (work_compat's cadences), ``sleep_backoffs`` (the idle
    fetch backoff in ms, ``IDLE_POLL_BACKOFFS`` by default), ``runtime_refresh`` (how often runtime rate and time
    limits are read, seconds) and ``revoked_refresh`` (how often the revoked set is re-read, seconds:
    the longest a revoke whose control message this worker missed waits to be honoured; see
    ``revoked``). Other keyword options are accepted and kept in ``options``.
    """

    def __init__(
        self,
        app: Celery,
        *,
        concurrency: int | None = None,
        pool: str | None = None,
        queues: str | Sequence[str] | None = None,
        exclude_queues: str | Sequence[str] | None = None,
        hostname: str | None = None,
        beat: bool = False,
        max_tasks_per_child: int | None = None,
        time_limit: float | None = None,
        soft_time_limit: float | None = None,
        pool_settings: PoolSettings | None = None,
        runtime_refresh: float = 1.0,
        revoked_refresh: float = 1.0,
        sleep_backoffs: Sequence[int] | None = None,
        **options: Any,
    ) -> None:
        self.app = app
        conf = app.conf
        kind = str(pool or conf.get("worker_pool") or "prefork").lower()
        if kind in ("eventlet", "gevent"):
            raise ImproperlyConfigured(
                f"pool {kind!r} is not supported by celery_shim: use 'threads' for I/O-bound tasks "
                "(or 'prefork' for CPU-bound ones)"
            )
        if kind not in POOLS:
            raise ImproperlyConfigured(f"unknown pool {kind!r}: use prefork, processes, threads or solo")
        self.pool_kind = POOLS[kind]
        if self.pool_kind == "solo":
            if concurrency not in (None, 1):
                logger.warning("the solo pool runs one task at a time; concurrency %s ignored", concurrency)
            self.concurrency = 1
        else:
            self.concurrency = int(concurrency or conf.get("worker_concurrency") or os.cpu_count() or 2)
        self.queues = _names(queues)
        self.exclude_queues = _names(exclude_queues) or []
        self.hostname = default_hostname(hostname)
        self.beat = beat
        self.max_tasks_per_child = max_tasks_per_child or conf.get("worker_max_tasks_per_child")
        self.worker_limits = Limits(time_limit, soft_time_limit)
        # Countdowns fall due on whole seconds (gocraft's scores); a 0.25 s requeuer starts them
        # within a quarter second of that rather than Go's full second.
        self.pool_settings = pool_settings or PoolSettings(requeue_period=0.25)
        self.runtime_refresh = runtime_refresh
        self.revoked_refresh = revoked_refresh
        self.sleep_backoffs = tuple(sleep_backoffs) if sleep_backoffs else IDLE_POLL_BACKOFFS
        self.options = options
        self.rate_limits = RateLimits()
        self._runtime_limits: dict[str, Limits] = {}
        self._runtime_rates: dict[str, str] = {}
        self._names: list[str] = []
        self._shim_keys: ShimKeys | None = None
        self._pool: WorkerPool | None = None
        self._prefork: PreforkPool | PreforkChildren | None = None
        self._children: PreforkChildren | None = None  # the prefork pool whose children fetch
        self._pipe_reason_logged = False
        self._soft: ThreadSoftLimit | None = None
        self._runtime: _RuntimeSettings | None = None
        self.revoked: RevokedIds | None = None
        self._revoked_loop: RevokedRefresher | None = None
        self._eta: EtaMover | None = None
        self._control: ControlListener | None = None
        self._beat: Any = None
        self._stop_requested = threading.Event()
        self._shutting_down_sent = False
        self._stopped = False
        self._import_modules()
        signals.celeryd_init.send(sender=self.hostname, instance=self, conf=conf, options=options)
        signals.worker_init.send(sender=self)

    def __repr__(self) -> str:
        return f"<WorkController {self.hostname} ({self.pool_kind}, {self.concurrency})>"

    def _import_modules(self) -> None:
        """Import ``imports`` and ``include`` (the task modules), as Celery's worker does at start."""
        conf = self.app.conf
        for name in (*conf.get("imports", ()), *conf.get("include", ())):
            importlib.import_module(str(name))
        signals.import_modules.send(sender=self.app)

    # -- what the node runs ------------------------------------------------------------------------
    @property
    def job_names(self) -> list[str]:
        """The task (= job) names this worker runs: those routed to ``queues`` and not to
        ``exclude_queues`` (every task when no queue is given)."""
        return tasks_in_queues(self.app, self.queues, self.exclude_queues)

    def _job_options(self, name: str) -> JobOptions:
        task = self.app.tasks[name]
        max_retries = task.max_retries
        max_fails = DEFAULT_MAX_FAILS if max_retries is None else max(1, int(max_retries) + 1)
        cap = getattr(task, "max_concurrency", None)
        if cap is None:
            cap = getattr(task, "gocraft_max_concurrency", None) or self.app.conf.get("gocraft_max_concurrency")
        weight = min(max(priority_weight(self.app, task), 1), MAX_PRIORITY)
        delay = int(task.default_retry_delay or 0)
        return JobOptions(
            priority=weight,
            max_fails=max_fails,
            max_concurrency=int(cap or 0),
            backoff=FixedDelay(delay),  # never gocraft's backoff for a Celery task (D6)
        )

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start fetching and running (returns at once); fires worker_process_init and worker_ready."""
        if self._pool is not None:
            return
        app = self.app
        finalize = getattr(app, "finalize", None)
        if callable(finalize):
            finalize()
        app.check_settings()
        self._start_pool(first=True)
        outage = self._pool.outage if self._pool is not None else None  # one outage log with the pool's
        self._runtime = _RuntimeSettings(self, self.runtime_refresh)
        self._runtime.outage = outage
        self._runtime.start()
        if self.revoked is not None:
            self._revoked_loop = RevokedRefresher(self.revoked, self.revoked_refresh)
            self._revoked_loop.outage = outage
            self._revoked_loop.start()
        conn, _ = app._connection()
        self._control = ControlListener(self, conn.client, ShimKeys(app.namespace).control())
        self._control.outage = outage
        self._control.start()
        if self.beat:
            beat_module = importlib.import_module("celery_shim.beat")  # imported only when asked for
            self._beat = beat_module.Beat(app)
            self._beat.start()
        logger.info(
            "worker %s ready: %s pool of %d on namespace %r for %s",
            self.hostname,
            self.pool_kind,
            self.concurrency,
            app.namespace,
            ", ".join(self._names),
        )
        signals.celeryd_after_setup.send(sender=self.hostname, instance=self, conf=app.conf)
        signals.worker_ready.send(sender=self)

    def _start_pool(self, *, first: bool) -> None:
        app = self.app
        annotate_tasks(app)
        names = self.job_names
        if not names:
            raise ConfigurationError(
                f"worker {self.hostname}: no task is routed to queues {self.queues or '(all)'}"
                f"{' minus ' + ','.join(self.exclude_queues) if self.exclude_queues else ''}; "
                f"the app has {sorted(app.tasks) or 'no tasks'}"
            )
        conn, keys = app._connection()
        self._shim_keys = ShimKeys(keys.namespace)
        self._names = names
        if self.revoked is None:
            self.revoked = RevokedIds(conn, self._shim_keys.revoked())
        try:
            self.revoked.refresh()  # before the first fetch: ids revoked while no worker ran count too
        except Exception as err:  # the pool's own start reports an unreachable Redis
            logger.warning("worker %s: could not read the revoked set: %s", self.hostname, err)
        self.rate_limits.configure(self._rates(names))
        try:
            self.refresh_runtime_settings()
        except Exception as err:  # the pool's own start reports an unreachable Redis
            logger.warning("worker %s: could not read runtime rate and time limits: %s", self.hostname, err)
        url = self._children_url() if self.pool_kind == "prefork" else None
        children: PreforkChildren | None = None
        piped: PreforkPool | None = None
        if url is not None:
            from .prefork_children import PreforkChildren

            children = PreforkChildren(
                app,
                self.hostname,
                names,
                self.concurrency,
                rates=self._rates(names),
                runtime_rates=self._runtime_rates,
                runtime_limits=self._runtime_limits,
                worker_limits=self.worker_limits,
                revoked_key=self._shim_keys.revoked(),
                namespace=keys.namespace,
                revoked_refresh=self.revoked_refresh,
                max_tasks_per_child=self.max_tasks_per_child,
            )
            self._prefork = self._children = children
            trace = Trace(app, self.hostname)
        elif self.pool_kind == "prefork":
            from .prefork import PreforkPool

            piped = PreforkPool(
                app, self.hostname, names, self.concurrency, max_tasks_per_child=self.max_tasks_per_child
            )
            self._prefork = piped
            trace = Trace(app, self.hostname)
        else:
            self._soft = ThreadSoftLimit()
            trace = Trace(app, self.hostname, soft_limit=self._soft.limit)
            if first:
                self._warn_hard_limits(names)
        consumer = TaskConsumer(
            app,
            trace,
            sender=self,
            rate_limits=self.rate_limits,
            worker_limits=self.worker_limits,
            runtime_limits=lambda name: self._runtime_limits.get(name),
            prefork=piped,
            revoked=self.revoked,
            terminated=children.terminated if children is not None else None,
        )
        pool = WorkerPool(
            self.concurrency,
            keys.namespace,
            url if url is not None else conn.client,
            settings=self.pool_settings,
            sleep_backoffs=self.sleep_backoffs,
            processes=children is not None,
        )
        for name in names:
            handler = children.handler(name) if children is not None else consumer
            pool.job_with_options(name, self._job_options(name), handler)
        pool.set_heartbeat_field(HEARTBEAT_FIELD, self.hostname)
        if children is not None:
            pool.set_fetch_filter(children.fetch_filter())
            pool.set_lost_job_handler(consumer.lost)
            children.attach(pool)
        else:
            pool.set_fetch_filter(self.rate_limits.keep)
        if piped is not None:
            piped.start()  # each child fires worker_process_init
        elif first and self._prefork is None:
            signals.worker_process_init.send(sender=self.hostname)
        try:
            pool.start()
        except BaseException:
            pool.close()
            self._close_executors()
            raise
        self._pool = pool
        self._eta = EtaMover(conn.client, pool.keys, names, pool.wake_idle_workers)  # sub-second etas
        self._eta.outage = pool.outage
        self._eta.start()
        self._register_node()
        if first:
            self._warn_requeuers(pool, names)

    def _warn_requeuers(self, pool: WorkerPool, names: list[str]) -> None:
        """D3: a pool's requeuer moves retried and scheduled jobs of names it does not register to
        dead ("unknown job when requeueing", gocraft/work#117); say which live pools would."""
        try:
            heartbeats = Client(pool.namespace, self.app._connection()[0].client).worker_pool_heartbeats()
        except Exception as err:
            logger.debug("worker %s: could not read other pools' heartbeats: %s", self.hostname, err)
            return
        for hb in heartbeats:
            missing = sorted(set(names) - set(hb.job_names or ()))
            if hb.worker_pool_id != pool.pool_id and missing:
                logger.warning(
                    "pool %s on %s (namespace %r) does not register %s: its requeuer moves their retried and "
                    "scheduled jobs to dead; register those names there, or give these tasks their own namespace",
                    hb.worker_pool_id,
                    hb.host or "?",
                    pool.namespace,
                    ", ".join(missing),
                )

    def _nodes_key(self) -> str | None:
        if self._shim_keys is None:
            return None
        nodes = getattr(self._shim_keys, "nodes", None)  # <ns>:celery:nodes, read by inspect
        return str(nodes()) if callable(nodes) else None

    def _register_node(self) -> None:
        """Record pool id -> node name, so ``inspect`` replies are keyed by ``celery@host``."""
        key = self._nodes_key()
        if key is None or self._pool is None:
            return
        conn, _ = self.app._connection()
        try:
            with conn.errors():
                conn.client.hset(key, self._pool.pool_id, self.hostname)
        except Exception as err:
            logger.warning("worker %s: could not register its node name: %s", self.hostname, err)

    def _forget_node(self) -> None:
        key = self._nodes_key()
        if key is None or self._pool is None:
            return
        conn, _ = self.app._connection()
        try:
            with conn.errors():
                conn.client.hdel(key, self._pool.pool_id)
        except Exception as err:
            logger.debug("worker %s: could not remove its node name: %s", self.hostname, err)

    def revoked_heard(self, task_ids: list[str]) -> None:
        """Ids of a ``revoke`` control message: jobs fetched from now on are discarded."""
        if self.revoked is not None:
            self.revoked.add(task_ids)
        if self._children is not None:
            self._children.revoked(task_ids)  # the children, which fetch, check their own copies

    def terminate(self, task_id: str, signum: int) -> bool:
        """Kill the running task ``task_id`` (``revoke(terminate=True)``): prefork only, as in
        Celery, whose thread pools cannot terminate a task either. True if it was running here."""
        if self._prefork is None:
            logger.warning("worker %s: terminate needs the prefork pool; task %s runs on", self.hostname, task_id)
            return False
        done = self._prefork.terminate(task_id, signum)
        if done:
            logger.info("Terminating %s (%d)", task_id, signum)  # Celery's line
        return done

    def _stop_pool(self, timeout: float | None) -> None:
        self._forget_node()
        if self._eta is not None:
            self._eta.stop_loop()
            self._eta = None
        pool = self._pool
        if pool is not None:
            pool.stop(timeout)
            if not pool.join(0) and self._prefork is not None:
                self._prefork.kill_busy()  # their jobs go back to their queues
                pool.join(10)
            pool.close()  # the connection a prefork pool made from the broker URL
        self._close_executors()

    def reload(self) -> None:
        """Pick up tasks registered since ``start()``: the pool restarts with the current task list
        (in-flight tasks finish first). Celery's test worker offers the same call."""
        if self._pool is None or self._stopped:
            return
        self._stop_pool(None)
        self._start_pool(first=False)

    def _children_url(self) -> str | None:
        """The broker URL the prefork children connect with, or None (logged once) when a URL
        cannot describe the app's connection: then the parent fetches and pipes each task to them."""
        url = str(self.app.conf.broker_url or "")
        reason = None
        if url.startswith("memory://"):
            reason = "a memory:// broker lives in this process"
        else:
            try:
                url = self.app._redis_url(url)
            except Exception as err:
                reason = str(err)
        if reason is None:
            return url
        if not self._pipe_reason_logged:
            self._pipe_reason_logged = True
            logger.warning(
                "worker %s: prefork children cannot connect themselves (%s); the parent fetches their tasks",
                self.hostname,
                reason,
            )
        return None

    def _rates(self, names: list[str]) -> dict[str, Any]:
        if self.app.conf.get("worker_disable_rate_limits", False):
            return {}
        default = self.app.conf.task_default_rate_limit
        rates: dict[str, Any] = {}
        for name in names:
            rate = getattr(self.app.tasks[name], "rate_limit", None) or default
            if rate:
                rates[name] = rate
        return rates

    def _warn_hard_limits(self, names: list[str]) -> None:
        limited = [n for n in names if getattr(self.app.tasks[n], "time_limit", None)]
        if self.worker_limits.hard or self.app.conf.task_time_limit or limited:
            logger.warning(
                "hard time limits cannot be enforced by the %s pool (a thread cannot be killed); "
                "use the prefork pool to enforce them. Soft limits still apply.",
                self.pool_kind,
            )

    def refresh_runtime_settings(self) -> None:
        """Read the rate and time limits ``app.control`` set in Redis."""
        if self._shim_keys is None:
            return
        conn, _ = self.app._connection()
        with conn.errors():
            pipe = conn.client.pipeline(transaction=False)
            pipe.hgetall(self._shim_keys.rate_limits())
            pipe.hgetall(self._shim_keys.time_limits())
            rates, limits = pipe.execute()
        if not self.app.conf.get("worker_disable_rate_limits", False):
            self._runtime_rates = {_text(k): _text(v) for k, v in rates.items()}
            self.rate_limits.update_runtime(self._runtime_rates, self._names)
        self._runtime_limits = parse_runtime_limits(limits)
        if self._children is not None:
            self._children.runtime(self._runtime_rates, self._runtime_limits)

    def run(self) -> None:
        """Start, then block until SIGTERM or SIGINT (warm shutdown: in-flight tasks finish); a
        second signal stops at once, leaving in-flight jobs for a reaper."""
        self.start()
        if threading.current_thread() is not threading.main_thread():
            self._stop_requested.wait()
            self.stop()
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        first_at = 0.0

        def on_signal(signum: int, frame: FrameType | None) -> None:
            nonlocal first_at
            name = signal.Signals(signum).name
            if self._stop_requested.is_set():
                if time.monotonic() - first_at < 1.0:
                    return  # the same keypress or kill delivered twice (a process group), not a second one
                # Cold shutdown, as Celery's: leave now. In-flight jobs stay in progress with the pool's
                # heartbeat entry, so a reaper (ours or Go's) requeues them; prefork children notice
                # their parent is gone and exit within a second.
                logger.warning("worker %s: second %s, cold shutdown", self.hostname, name)
                if self._pool is not None:
                    self._pool.abort()
                for handler in logging.getLogger().handlers:
                    handler.flush()
                os._exit(1)
            first_at = time.monotonic()
            logger.warning("worker %s: %s, warm shutdown", self.hostname, name)
            self._send_shutting_down(name.replace("SIG", ""), "Warm")
            self._stop_requested.set()

        for s in previous:
            signal.signal(s, on_signal)
        try:
            while not self._stop_requested.wait(1.0):
                pass
            self.stop()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def request_stop(self) -> None:
        """Ask ``run()`` to return after a warm shutdown (from another thread)."""
        self._stop_requested.set()

    def _send_shutting_down(self, sig: str | None, how: str) -> None:
        if not self._shutting_down_sent:
            self._shutting_down_sent = True
            signals.worker_shutting_down.send(sender=self.hostname, sig=sig, how=how, exitcode=0)

    def stop(self, timeout: float | None = None) -> None:
        """Finish in-flight tasks and leave: worker_shutting_down, then worker_shutdown."""
        if self._stopped:
            return
        self._stopped = True
        self._send_shutting_down(None, "Warm")
        if self._beat is not None:
            try:
                self._beat.stop()
            except Exception:
                logger.exception("worker %s: stopping the embedded beat failed", self.hostname)
        if self._runtime is not None:
            self._runtime.stop_loop()
        if self._revoked_loop is not None:
            self._revoked_loop.stop_loop()
        if self._control is not None:
            self._control.stop()
        prefork = self._prefork is not None
        started = self._pool is not None
        self._stop_pool(timeout)
        if started and not prefork:
            signals.worker_process_shutdown.send(sender=self.hostname, pid=os.getpid(), exitcode=0)
        signals.worker_shutdown.send(sender=self)
        self._stop_requested.set()

    def _close_executors(self) -> None:
        if self._prefork is not None:
            self._prefork.close()
        if self._soft is not None:
            self._soft.close()
        self._prefork = self._soft = self._children = None

    @property
    def pool(self) -> WorkerPool | None:
        """The running work_compat pool (None before ``start()``)."""
        return self._pool
