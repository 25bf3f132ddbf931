"""Prefork children: how a child loads the app, and the piped prefork pool (spec D12, D13).

A child loads the app itself: spawn starts a fresh interpreter, so the handler it receives names the
module attribute that holds the app, the modules of the tasks, and the settings changed at runtime
in the parent (``child_spec``, ``child_state``). Each child then fires ``worker_process_init`` once,
and ``worker_process_shutdown`` when it exits cleanly. Both prefork schemes load it so.

``PreforkPool`` is the piped scheme, used when the broker is not one a URL describes (``memory://``):
work_compat's ProcessRunner owns the children (one per worker slot, replaced when one dies or
overruns) and the parent keeps every Redis step, each task crossing a pipe twice. With a Redis URL,
the children fetch their own tasks (``prefork_children``).

Celery forks its children, so an app built inside a function works there; here the app must be
reachable as a module attribute (``proj.celery:app``, the usual layout) and tasks defined at module
level. A job whose task the child cannot find goes dead, saying so.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import itertools
import logging
import multiprocessing.util
import os
import pickle
import runpy
import signal
import sys
import threading
import types
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from work_compat import DeadNow, Job, JobOptions
from work_compat.job_options import JobType
from work_compat.runner import Outcome, ProcessRunner

from .. import signals
from ..app.log import LoggingProxy, redirect_stdouts
from ..app.trace import Trace, job_meta
from ..fixups import django as django_fixup
from ..install import installed
from ..local import Proxy
from ..utils.imports import locate_app
from .timelimits import AlarmSoftLimit, Limits

if TYPE_CHECKING:
    from ..app.base import Celery

__all__ = ["ChildSpec", "PreforkPool", "child_spec", "child_state"]

logger = logging.getLogger(__name__)


def main_script(module: str) -> str | None:
    """The script's path when the app lives in a script run as ``__main__`` (``python myapp.py worker``).

    spawn would run that script in every child before the child can install ``--celery-alias``; a
    spec named ``__main__`` tells multiprocessing to leave it alone, and the child runs it itself.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if module != "__main__" or main is None or not path:
        return None
    if main.__spec__ is None:
        main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
    return os.path.abspath(str(path))


def _load_script(path: str) -> types.ModuleType:
    """The parent's main script, run in this child as ``__mp_main__`` (its ``__main__`` block skipped)."""
    module = types.ModuleType("__mp_main__")
    module.__file__ = path
    sys.modules["__mp_main__"] = module
    module.__dict__.update(runpy.run_path(path, run_name="__mp_main__"))
    return module


def _picklable_settings(app: Celery) -> dict[str, Any]:
    """Settings set on ``app.conf`` in this process (after import), for the children to apply."""
    changes: dict[str, Any] = dict(vars(app.conf).get("_changes", {}))
    out: dict[str, Any] = {}
    for key, value in changes.items():
        try:
            pickle.dumps(value)
        except Exception:
            logger.debug("setting %s cannot be handed to pool children; they read the configured value", key)
            continue
        out[key] = value
    return out


@dataclass(frozen=True)
class ChildSpec:
    """What a child needs to load the app and run its tasks."""

    module: str
    attr: str
    task_modules: tuple[str, ...]
    settings: dict[str, Any]
    hostname: str
    loglevel: int
    celery_alias: bool = False  # the parent runs with --celery-alias: the child's `import celery` must match
    main_path: str | None = None  # the app lives in this script, run as __main__ in the parent
    redirect_stdouts: bool = False  # the parent sends print() output to the log: so does the child


def child_spec(app: Celery, hostname: str, names: list[str]) -> ChildSpec:
    """How a child finds the app, its task modules and the settings changed in this process."""
    module, attr = locate_app(app)
    task_modules = sorted(
        {type(app.tasks[n]).__module__ for n in names}
        | {str(m) for m in (*app.conf.get("imports", ()), *app.conf.get("include", ()))}
    )
    task_modules = [m for m in task_modules if m not in ("celery_shim.app.base", "celery_shim.app.task")]
    return ChildSpec(
        module,
        attr,
        tuple(task_modules),
        _picklable_settings(app),
        hostname,
        logging.getLogger().getEffectiveLevel(),
        installed(),
        main_script(module),
        isinstance(sys.stdout, LoggingProxy),
    )


class _ChildState:
    """The loaded app of this child process (one per process)."""

    def __init__(self, spec: ChildSpec) -> None:
        self.error: str | None = None
        self.app: Celery | None = None
        self.trace: Trace | None = None
        try:
            if spec.celery_alias:
                from ..install import install

                install()
            module = _load_script(spec.main_path) if spec.main_path else importlib.import_module(spec.module)
            app = getattr(module, spec.attr)
            if isinstance(app, Proxy):
                app = app._get_current_object()
            if django_fixup.applies():
                django_fixup.setup_django()  # task modules import models: the app registry must be loaded
            for name in spec.task_modules:
                importlib.import_module(name)
            app.conf.update(spec.settings)
            from ..app.annotations import annotate_tasks

            annotate_tasks(app)
            self.app = app
            self.trace = Trace(app, spec.hostname, soft_limit=AlarmSoftLimit().limit)
        except Exception as err:  # a child that cannot load the app says why on every job
            self.error = f"{type(err).__name__}: {err}"
            logging.getLogger(__name__).exception("pool child %d cannot load the app", os.getpid())


_state: _ChildState | None = None
_state_lock = threading.Lock()


def child_state(spec: ChildSpec) -> _ChildState:
    global _state
    with _state_lock:
        if _state is None:
            if not logging.getLogger().handlers:
                logging.basicConfig(
                    level=spec.loglevel, format="[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"
                )
            _state = _ChildState(spec)
            if spec.redirect_stdouts and _state.app is not None:
                redirect_stdouts(_state.app.conf)
            if _state.app is not None:
                signals.worker_process_init.send(sender=spec.hostname)
                multiprocessing.util.Finalize(None, _process_shutdown, args=(spec.hostname,), exitpriority=10)
        return _state


def _process_shutdown(hostname: str) -> None:
    signals.worker_process_shutdown.send(sender=hostname, pid=os.getpid(), exitcode=0)


def _child_entry(spec: ChildSpec, name: str) -> _ChildHandler:
    """Unpickled in a child when it starts: loads the app there (once), then handles ``name``."""
    child_state(spec)
    return _ChildHandler(spec, name)


class _ChildHandler:
    """The handler a child runs for one task name; pickles as (spec, name)."""

    def __init__(self, spec: ChildSpec, name: str) -> None:
        self.spec = spec
        self.name = name

    def __reduce__(self) -> tuple[Any, ...]:
        return _child_entry, (self.spec, self.name)

    def __call__(self, job: Job) -> None:
        state = child_state(self.spec)
        if state.app is None or state.trace is None:
            raise DeadNow(f"the worker process could not load the app: {state.error}")
        task = state.app.tasks.get(job.name)
        if task is None:
            raise DeadNow(
                f"task {job.name!r} is not registered in the worker process: define it at module level in a "
                "module the app imports"
            )
        meta = job_meta(job)
        fate = state.trace.run(task, job, meta, soft_seconds=meta.get("soft_time_limit"))
        if fate is not None:
            raise fate


def _unused(job: Job) -> None:
    raise RuntimeError("the parent never runs a prefork handler itself")


class PreforkPool:
    """Child processes for a worker's tasks; ``run`` sends one job to the calling slot's child."""

    def __init__(
        self, app: Celery, hostname: str, names: list[str], slots: int, *, max_tasks_per_child: int | None = None
    ) -> None:
        self.spec = child_spec(app, hostname, names)
        job_types = {n: JobType.make(n, _ChildHandler(self.spec, n), JobOptions()) for n in names}
        self.runner = ProcessRunner(job_types, [], None, slots, self._on_checkin)
        self.slots = slots
        self.max_tasks_per_child = max_tasks_per_child
        self._jobs: list[Job | None] = [None] * slots
        self._ran = [0] * slots
        self._local = threading.local()
        self._next_slot = itertools.count()
        self._terminated: dict[str, int] = {}

    def start(self) -> None:
        self.runner.start()

    def _slot(self) -> int:
        slot: int | None = getattr(self._local, "slot", None)
        if slot is None:
            slot = next(self._next_slot)
            if slot >= self.slots:
                raise RuntimeError(f"more worker threads than the {self.slots} pool children")
            self._local.slot = slot
        return slot

    def _on_checkin(self, slot: int, job_id: str, message: str) -> None:
        job = self._jobs[slot]
        if job is not None and job.id == job_id:
            job.checkin(message)

    def run(self, job: Job, limits: Limits) -> Outcome:
        """Run ``job`` in this slot's child with the given limits (the soft one goes in the job's
        metadata the child reads; the hard one is the runner's)."""
        slot = self._slot()
        meta = dict(job_meta(job))
        meta["time_limit"], meta["soft_time_limit"] = limits.hard, limits.soft
        child_job = replace(job, extra={**job.extra, "celery": meta})
        job_type = JobType(job.name, _unused, JobOptions(time_limit=limits.hard))
        self._jobs[slot] = job
        try:
            outcome = self.runner.run(job_type, child_job, child_job.to_bytes(), slot)
        finally:
            self._jobs[slot] = None
        self._ran[slot] += 1
        if self.max_tasks_per_child and self._ran[slot] >= self.max_tasks_per_child and outcome.kind != "abandoned":
            logger.info("pool child of slot %d ran %d tasks; replacing it", slot, self._ran[slot])
            self.runner.recycle(slot)
            self._ran[slot] = 0
        return outcome

    def terminate(self, task_id: str, signum: int) -> bool:
        """Signal the child running ``task_id`` (SIGTERM and SIGINT, which children ignore, become
        SIGKILL); True if a child was running it. Its outcome is then a revoke, not a failure."""
        for slot, job in enumerate(self._jobs):
            child = self.runner.children[slot]
            if job is not None and job.id == task_id and child is not None and child.process.pid:
                self._terminated[task_id] = signum
                kill = signal.SIGKILL if signum in (signal.SIGTERM, signal.SIGINT) else signum
                try:
                    os.kill(child.process.pid, kill)
                except ProcessLookupError:
                    return False
                return True
        return False

    def terminated(self, task_id: str) -> int | None:
        """The signal ``terminate`` sent to ``task_id``'s child, once (None if it was not)."""
        return self._terminated.pop(task_id, None)

    def kill_busy(self) -> None:
        self.runner.kill_busy()

    def close(self) -> None:
        self.runner.close()
