"""The prefork pool whose children fetch their own tasks (work_compat's ``processes=True`` pool on
the broker URL): each child fetches, checks, runs and completes its tasks on its own Redis
connection, so no task crosses a pipe.

What a Celery consumer decides per task happens in the child that runs it (``TaskConsumer`` there):
the revoked and expired checks, the rate limit, ``task_received``, the soft limit (SIGALRM: the
child's worker runs in its main thread) and the hard limit it shows its parent
(``pool_child.set_time_limit``). A child keeps its own copy of the revoked set (re-read every
``revoked_refresh`` seconds) and holds an equal share of each rate limit. The parent keeps the
control channel and tells the children what it hears (``WorkerPool.tell_children``): revoked ids
and the runtime rate and time limits. It also terminates a running task (``revoke(terminate=True)``:
``WorkerPool.signal_job`` finds its child) and decides the task of a child that died, overran or
was terminated (``TaskConsumer.lost``): WorkerLostError, TimeLimitExceeded or REVOKED, as Celery.

A child loads the app as the other prefork scheme's do (``prefork.child_state``: the alias, Django,
a script-run app, ``worker_process_init``, the print redirect) and retires after
``max_tasks_per_child`` tasks (``pool_child.retire``).
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from work_compat import Connection, DeadNow, Job, pool_child

from ..gocraft.keys import ShimKeys
from .consumer import TaskConsumer
from .prefork import ChildSpec, child_spec, child_state
from .ratelimit import RateLimits
from .revoked import RevokedIds, RevokedRefresher
from .timelimits import Limits, parse_runtime_limits

if TYPE_CHECKING:
    from work_compat import WorkerPool

    from ..app.base import Celery

__all__ = ["PreforkChildren"]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChildConfig:
    """What every child needs besides the app (pickled once with the pool's handlers)."""

    spec: ChildSpec
    names: tuple[str, ...]
    share: int
    rates: dict[str, Any]
    runtime_rates: dict[str, str]
    runtime_limits: dict[str, Limits]
    worker_limits: Limits
    revoked_key: str
    namespace: str
    revoked_refresh: float
    max_tasks_per_child: int | None


class _ChildWorker:
    """The consumer of this child process (one per process), built when the pool's handlers load."""

    def __init__(self, config: ChildConfig) -> None:
        self.config = config
        self.ran = 0
        self.consumer: TaskConsumer | None = None
        state = child_state(config.spec)
        self.error = state.error
        if state.app is None or state.trace is None:
            return
        app = state.app
        conn, _ = app._connection()
        runtime_rates, self.runtime_limits = self._runtime(conn, config)
        self.rates = RateLimits(share=config.share)
        self.rates.configure(config.rates)
        self.rates.update_runtime(runtime_rates, config.names)
        self.revoked = RevokedIds(conn, config.revoked_key)
        try:
            self.revoked.refresh()
        except Exception as err:  # the refresher retries; ids heard from the parent still count
            logger.warning("pool child: could not read the revoked set: %s", err)
        self._refresher = RevokedRefresher(self.revoked, config.revoked_refresh)
        self._refresher.start()
        self.consumer = TaskConsumer(
            app,
            state.trace,
            sender=config.spec.hostname,
            rate_limits=self.rates,
            worker_limits=config.worker_limits,
            runtime_limits=lambda name: self.runtime_limits.get(name),
            revoked=self.revoked,
            hard_limit=pool_child.set_time_limit,
        )
        pool_child.on_tell(self.heard)

    @staticmethod
    def _runtime(conn: Connection, config: ChildConfig) -> tuple[dict[str, str], dict[str, Limits]]:
        """The runtime rate and time limits now (a child started after a change); those the
        parent had at the pool's start if Redis cannot tell."""
        keys = ShimKeys(config.namespace)
        try:
            with conn.errors():
                pipe = conn.client.pipeline(transaction=False)
                pipe.hgetall(keys.rate_limits())
                pipe.hgetall(keys.time_limits())
                rates, limits = pipe.execute()
        except Exception as err:
            logger.warning("pool child: could not read the runtime rate and time limits: %s", err)
            return dict(config.runtime_rates), dict(config.runtime_limits)
        return {_text(k): _text(v) for k, v in rates.items()}, parse_runtime_limits(limits)

    def heard(self, payload: Any) -> None:
        """What the parent tells its children (``PreforkChildren.revoked`` / ``runtime``)."""
        if payload[0] == "revoked":
            self.revoked.add(payload[1])
        elif payload[0] == "runtime":
            self.rates.update_runtime(payload[1], self.config.names)
            self.runtime_limits = dict(payload[2])

    def run(self, job: Job) -> None:
        if self.consumer is None:
            raise DeadNow(f"the worker process could not load the app: {self.error}")
        if job.name not in self.consumer.app.tasks:
            raise DeadNow(
                f"task {job.name!r} is not registered in the worker process: define it at module level in a "
                "module the app imports"
            )
        try:
            self.consumer(job)
        finally:
            self.ran += 1
            limit = self.config.max_tasks_per_child
            if limit and self.ran == limit:
                logger.info("pool child ran %d tasks; replacing it", self.ran)
                pool_child.retire()


_worker: _ChildWorker | None = None
_worker_lock = threading.Lock()


def _child_worker(config: ChildConfig) -> _ChildWorker:
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = _ChildWorker(config)
        return _worker


class _Task:
    """The handler of one task name in the children; pickles as (config, name), and loading it
    in a child builds that child's consumer."""

    def __init__(self, config: ChildConfig, name: str) -> None:
        self.config = config
        self.name = name

    def __reduce__(self) -> tuple[Any, ...]:
        return _task_in_child, (self.config, self.name)

    def __call__(self, job: Job) -> None:
        _child_worker(self.config).run(job)


def _task_in_child(config: ChildConfig, name: str) -> _Task:
    _child_worker(config)
    return _Task(config, name)


class _FetchFilter:
    """The pool's fetch filter in the children: the child's share of the rate limits."""

    def __init__(self, config: ChildConfig) -> None:
        self.config = config

    def __call__(self, name: str) -> bool:
        worker = _child_worker(self.config)
        return worker.consumer is None or worker.rates.keep(name)


class PreforkChildren:
    """The parent side: the handlers and fetch filter its pool hands the children, terminate, and
    what the control channel tells them."""

    def __init__(
        self,
        app: Celery,
        hostname: str,
        names: list[str],
        slots: int,
        *,
        rates: dict[str, Any],
        runtime_rates: dict[str, str],
        runtime_limits: dict[str, Limits],
        worker_limits: Limits,
        revoked_key: str,
        namespace: str,
        revoked_refresh: float,
        max_tasks_per_child: int | None,
    ) -> None:
        self.config = ChildConfig(
            child_spec(app, hostname, names),
            tuple(names),
            slots,
            dict(rates),
            dict(runtime_rates),
            dict(runtime_limits),
            worker_limits,
            revoked_key,
            namespace,
            revoked_refresh,
            max_tasks_per_child,
        )
        self.pool: WorkerPool | None = None
        self._terminated: dict[str, int] = {}
        self._runtime: tuple[dict[str, str], dict[str, Limits]] = (dict(runtime_rates), dict(runtime_limits))

    def handler(self, name: str) -> _Task:
        return _Task(self.config, name)

    def fetch_filter(self) -> _FetchFilter:
        return _FetchFilter(self.config)

    def attach(self, pool: WorkerPool) -> None:
        self.pool = pool

    def revoked(self, task_ids: list[str]) -> None:
        """Ids of a revoke control message: every child honours them from now on."""
        if self.pool is not None:
            self.pool.tell_children(("revoked", list(task_ids)))

    def runtime(self, rates: dict[str, str], limits: dict[str, Limits]) -> None:
        """The runtime rate and time limits just read: told to the children when they changed."""
        if self.pool is not None and (rates, limits) != self._runtime:
            self._runtime = (dict(rates), dict(limits))
            self.pool.tell_children(("runtime", rates, limits))

    def terminate(self, task_id: str, signum: int) -> bool:
        """Signal the child running ``task_id`` (SIGTERM and SIGINT, which children ignore, become
        SIGKILL); True if a child was running it. Its outcome is then a revoke, not a failure."""
        if self.pool is None:
            return False
        self._terminated[task_id] = signum
        kill = signal.SIGKILL if signum in (signal.SIGTERM, signal.SIGINT) else signum
        if self.pool.signal_job(task_id, kill):
            return True
        self._terminated.pop(task_id, None)
        return False

    def terminated(self, task_id: str) -> int | None:
        """The signal ``terminate`` sent to ``task_id``'s child, once (None if it was not)."""
        return self._terminated.pop(task_id, None)

    def kill_busy(self) -> None:
        """Nothing to do: the pool's stop kills the children still running when its time is up."""

    def close(self) -> None:
        self.pool = None
