"""Celery: the app object — conf, task registry, ``send_task`` and publishing (Celery's ``celery.app.base``).

The app never connects at construction (example apps are built with ``amqp://`` URLs and must
still import); the first publish resolves ``broker_url`` to a Redis connection and the gocraft
namespace (D3), and refuses non-Redis brokers with the equivalent Redis setting (D18).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, overload
from urllib.parse import urlsplit

from work_compat import Connection, Enqueuer, Keys, connect

from .. import _state, signals
from ..backends.memory import memory_connection
from ..backends.redis import RedisBackend
from ..canvas import Signature
from ..canvas.store import save_continuation
from ..exceptions import ImproperlyConfigured
from ..fixups import django as django_fixup
from ..gocraft.arguments import encode_args, typed_values, unbound_args
from ..gocraft.call_job import job_for
from ..gocraft.options import plan_publish
from ..gocraft.publish import Publisher, push_with_retries
from ..result import AsyncResult, GroupResult
from ..signals import Signal
from ..utils.ids import new_task_id
from ..utils.imports import locate_app, symbol_by_name
from .backends import Backend, backend_from_conf
from .config import NOT_YET_HONOURED, Settings, SettingsSnapshot
from .configure import Configuring
from .control import Control
from .registry import TaskRegistry
from .task import Task as BaseTask
from .taskdef import InvalidTaskNameError, check_task_name, django_task_class, make_task, shared_for

__all__ = ["Celery", "current_app"]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


# What the app hands over to the layers above it, named rather than imported (utils.imports).
WORKER = "celery_shim.worker.worker:WorkController"
COMMAND_LINE = "celery_shim.bin.celery:main"


# -- the current app (its state is celery_shim._state) --------------------------------------------
current_app = _state.current_app


def _default_app() -> Celery:
    """The app used when the process made none: it becomes the current one."""
    app = Celery("default")
    app.implicit = True
    return app


def _redis_equivalent(url: str) -> str:
    """A Redis URL on the same host, for the error message that refuses a non-Redis broker."""
    try:
        host = urlsplit(url).hostname or "localhost"
    except ValueError:
        host = "localhost"
    return f"redis://{host}:6379/0"


class Celery(Configuring):
    """A Celery app over gocraft/work: ``Celery('proj', broker='redis://...')``.

    Keyword arguments other than the named ones become settings, as in Celery.
    """

    implicit = False  # True for the default app current_app made because the process had none

    def __init__(
        self,
        main: str | None = None,
        *,
        broker: str | None = None,
        backend: str | None = None,
        include: Sequence[str] | None = None,
        set_as_current: bool = True,
        config_source: Any = None,
        task_cls: type[BaseTask] | None = None,
        namespace: str | None = None,
        strict_typing: bool = True,
        autofinalize: bool = True,
        **settings: Any,
    ) -> None:
        self.main = main
        self.strict_typing = strict_typing
        django = django_fixup.applies()
        self.task_cls = task_cls or (django_task_class() if django else BaseTask)
        self.conf = Settings()
        if config_source is not None:
            self.conf.config_from_object(config_source, namespace=namespace)
        if settings:
            self.conf.update(settings)
        if broker is not None:
            self.conf.broker_url = broker
        if backend is not None:
            self.conf.result_backend = backend
        if include is not None:
            self.conf.include = tuple(include)
        self.tasks = TaskRegistry()
        # Celery's app signals; finalize() sends them (the beat and the worker call it).
        self.on_configure = Signal("app.on_configure")
        self.on_after_configure = Signal("app.on_after_configure")
        self.on_after_finalize = Signal("app.on_after_finalize")
        self.configured = self.finalized = False
        self._pending_discovery: list[tuple[Any, str | None]] = []
        if django:
            django_fixup.install(self)
        self.now: Callable[[], float] = time.time  # replaceable in tests; eta/countdown arithmetic
        self._warned: set[str] = set()
        self._settings_checked_until = 0.0
        self._broker: tuple[str, str, Connection, Keys] | None = None
        self._enqueuer: Enqueuer | None = None
        self._publisher: Publisher | None = None
        self._base_task: type[BaseTask] | None = None
        self._backend: tuple[Any, Backend] | None = None
        self._broker_seen: SettingsSnapshot | None = None  # the conf snapshot _broker was checked against
        self._backend_seen: SettingsSnapshot | None = None
        self._control: Control | None = None
        self._group_result: type[GroupResult] | None = None
        with _state._lock:
            _state._apps.add(self)
            shared = list(_state._shared)
            if set_as_current:
                _state._current = self
        for task in shared:
            self.tasks.register(shared_for(task, self))

    def __repr__(self) -> str:
        return f"<Celery {self.main or '__main__'} at {id(self):#x}>"

    # -- configuration ----------------------------------------------------------------------------
    def set_current(self) -> None:
        _state.set_current_app(self)

    def set_default(self) -> None:
        """Celery's fallback when no app is current; celery_shim keeps one current app, so: that one."""
        self.set_current()

    def check_settings(self) -> None:
        """Refuse settings the shim cannot honour; warn once for those it does not honour yet."""
        serializer = self.conf.snapshot().get("task_serializer")  # read per publish: a snapshot (config)
        if serializer != "json":
            raise ImproperlyConfigured(f"task_serializer={serializer!r} is not supported: Go peers read only json")
        now = time.monotonic()
        if now < self._settings_checked_until:  # the warnings below are once-only; no need per publish
            return
        self._settings_checked_until = now + 1.0
        accept = self.conf.accept_content
        if accept and any(c not in ("json", "application/json") for c in accept):
            self._warn_once("accept_content", "accept_content lists non-json types; only json is used")
        for name in NOT_YET_HONOURED:
            if self.conf.is_set(name):
                self._warn_once(name, f"setting {name} has no effect in celery_shim (see docs/celery.md)")

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)

    # -- tasks ------------------------------------------------------------------------------------
    @property
    def Task(self) -> type[BaseTask]:
        """The app's task base class: subclass it for custom tasks bound to this app."""
        if self._base_task is None:
            self._base_task = type("Task", (self.task_cls,), {"_app": self, "__module__": __name__})
        return self._base_task

    @Task.setter
    def Task(self, cls: type[BaseTask]) -> None:
        """``app.Task = ContextTask`` (older Flask docs): tasks made from now on, shared ones too, use it."""
        self._base_task = cls
        with _state._lock:
            shared = list(_state._shared)
        for task in shared:
            if task.name and self.tasks.get(task.name) is task:
                self.tasks[task.name] = shared_for(task, self)

    def own_task_class(self) -> type[BaseTask] | None:
        """``app.Task`` when the app has a task class of its own, else None (its tasks are plain)."""
        default = django_task_class() if django_fixup.applies() else BaseTask
        if self.task_cls is default and (self._base_task is None or self._base_task.__module__ == __name__):
            return None
        return self.Task

    @overload
    def task(self, fun: F) -> BaseTask: ...
    @overload
    def task(self, *, name: str | None = ..., bind: bool = ..., **options: Any) -> Callable[[F], BaseTask]: ...
    def task(self, fun: Any = None, **options: Any) -> Any:
        """``@app.task`` or ``@app.task(name=..., bind=True, max_retries=..., queue=...)``."""

        def create(f: Callable[..., Any]) -> BaseTask:
            base = options.pop("base", None) or self.Task
            name = options.get("name")
            if name and name in self.tasks:
                existing: BaseTask = self.tasks[name]
                return existing
            task = make_task(f, self, self.main, base, **options)
            self.tasks.register(task)
            return task

        if fun is not None and callable(fun):
            return create(fun)
        if isinstance(fun, str):
            options["name"] = fun
        return create

    def register_task(self, task: BaseTask | type[BaseTask]) -> BaseTask:
        """Register a Task subclass (or instance) that defines ``run``."""
        obj = task() if isinstance(task, type) else task
        if not obj.name:
            raise InvalidTaskNameError("a class-based task needs a name")
        check_task_name(obj.name)
        self.tasks.register(obj)
        return obj

    # -- publishing -------------------------------------------------------------------------------
    def send_task(
        self,
        name: str,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        countdown: float | None = None,
        eta: Any = None,
        task_id: str | None = None,
        **options: Any,
    ) -> AsyncResult:
        """Publish task ``name`` by name; a locally registered task's signature names the args (D1).

        As in Celery, ``task_always_eager`` does not apply. For a name with no local task,
        positionals go under ``"*args"`` — declare a stub task to give them names Go can read.
        """
        check_task_name(name)
        call_args = tuple(args or ())
        call_kwargs = dict(kwargs or {})
        if self.conf.task_always_eager:
            self._warn_once("send_task_eager", "task_always_eager has no effect on send_task")
        task = self.tasks.get(name)
        if task is not None:
            job_args = task.bind_args(call_args, call_kwargs)
        else:
            if call_args:
                self._warn_once(
                    f"unbound:{name}",
                    "send_task(%r) with positional args and no local task: they go under '*args', which Go "
                    "handlers cannot read by name; declare @app.task(name=%r) with the parameters",
                    name,
                    name,
                )
            job_args = unbound_args(call_args, call_kwargs)
        options.update(countdown=countdown, eta=eta, task_id=task_id)
        return self.publish(name, job_args, options, queue=task.queue if task is not None else None)

    def publish(
        self, name: str, job_args: Mapping[str, Any], options: Mapping[str, Any], *, queue: str | None = None
    ) -> AsyncResult:
        """Write one gocraft job for task ``name`` with the named args; returns its AsyncResult."""
        self.check_settings()
        if self.implicit and not self.conf.gocraft_namespace:
            self._warn_once(
                "implicit-app",
                "task %s was sent through the default app: no Celery app was created or imported in this "
                "process, so it went to namespace %r, where the project's worker does not look; import "
                "the project's app (as proj/__init__.py does in Celery's Django layout) or set "
                "CELERY_GOCRAFT_NAMESPACE to the worker's namespace",
                name,
                self.namespace,
            )
        plan = plan_publish(options, self.now())
        for ignored in plan.ignored:
            self._warn_once(f"option:{ignored}", "call option %r is not supported per message; ignored", ignored)
        wanted = options.get("queue")
        if wanted is not None and wanted != (queue or self.conf.task_default_queue):
            # A gocraft queue is one list per job name: another queue would mean another name (D10).
            self._warn_once(
                f"queue:{name}:{wanted}", "task %s cannot be sent to queue %r; it keeps its own", name, wanted
            )
        encoded = encode_args(job_args)
        typed = typed_values(job_args)
        if typed:  # datetimes, Decimals, ... Python workers give back typed, as Celery's JSON does
            plan.meta["types"] = typed
        job_id = plan.job_id or new_task_id()
        parent = _state.current_task()
        request = parent.request if parent is not None else None
        if request is not None and request.called_directly:
            request = None
        if request is not None:  # sent by a running task: Celery records the parent and the root
            plan.meta.setdefault("parent_id", request.id)
            plan.meta.setdefault("root_id", request.root_id or request.id)
        if save_continuation(self, job_id, options):  # link/chain/chord go to the side key first (D15)
            plan.meta["canvas"] = True
        job = job_for(name, encoded, plan, job_id)
        conf = self.conf.snapshot()
        use_retry = plan.publish_retry if plan.publish_retry is not None else bool(conf.get("task_publish_retry"))
        policy = (plan.retry_policy or conf.get("task_publish_retry_policy")) if use_retry else None
        routing_key = queue or conf.get("task_default_queue")
        if signals.before_task_publish.has_receivers():  # the body Go reads: the job as a dict
            body = json.loads(job.to_json())
            signals.before_task_publish.send(
                sender=name, body=body, exchange="", routing_key=routing_key,
                headers=plan.meta.get("headers") or {}, properties={}, declare=[], retry_policy=policy,
            )  # fmt: skip
        push_with_retries(self.publisher, job, plan.run_at, policy)
        if signals.after_task_publish.has_receivers():
            body = json.loads(job.to_json())
            signals.after_task_publish.send(sender=name, body=body, exchange="", routing_key=routing_key)
        logger.debug("published task %s id %s (run_at %s)", name, job_id, plan.run_at)
        result = AsyncResult(job_id, task_name=name, app=self)
        if request is not None:  # the parent's stored result lists it under "children"
            request.__dict__.setdefault("children", []).append(result)
        return result

    # -- broker -----------------------------------------------------------------------------------
    @property
    def namespace(self) -> str:
        """The gocraft namespace (D3): ``gocraft_namespace``, else the transport's
        ``global_keyprefix`` (trailing ``:`` dropped), else ``main``, else ``celery``."""
        ns = self.conf.gocraft_namespace
        if ns:
            return str(ns)
        prefix = (self.conf.broker_transport_options or {}).get("global_keyprefix")
        if prefix:
            return str(prefix).rstrip(":")
        return self.main or "celery"

    def _connection(self) -> tuple[Connection, Keys]:
        snap = self.conf.snapshot()  # the settings are re-read when they change (config.snapshot)
        cached = self._broker
        if cached is not None and self._broker_seen is snap:
            return cached[2], cached[3]
        url = self.conf.broker_url
        namespace = self.namespace
        if cached is not None and cached[0] == url and cached[1] == namespace:
            self._broker_seen = snap
            return cached[2], cached[3]
        if str(url or "").startswith("memory://"):
            conn = memory_connection(str(url))
        else:
            conn = connect(self._redis_url(url))
        keys = Keys(namespace)
        conn.require_namespace_fits(namespace)
        self._broker = (url, namespace, conn, keys)
        self._broker_seen = snap
        self._enqueuer = None
        return conn, keys

    @staticmethod
    def _redis_url(url: Any) -> str:
        if not url:
            raise ImproperlyConfigured(
                "broker_url is not set: set broker_url='redis://localhost:6379/0' (CELERY_BROKER_URL in Django)"
            )
        text = str(url)
        if text.startswith(_REDIS_SCHEMES):
            return text
        if text.startswith("redis+socket://"):
            return "unix://" + text[len("redis+socket://") :]
        raise ImproperlyConfigured(
            f"broker_url={text.split('://', 1)[0]}://... is not supported: celery_shim speaks gocraft/work on "
            f"Redis; set broker_url={_redis_equivalent(text)!r} (CELERY_BROKER_URL in Django settings)"
        )

    @property
    def enqueuer(self) -> Enqueuer:
        """A work_compat Enqueuer on the app's broker and namespace, built on first use."""
        conn, keys = self._connection()
        if self._enqueuer is None:
            self._enqueuer = Enqueuer(keys.namespace, conn)
        return self._enqueuer

    @property
    def publisher(self) -> Publisher:
        """What ``publish`` writes with: the Enqueuer, its plain LPUSHes on a connection held for them."""
        enqueuer = self.enqueuer
        publisher = self._publisher
        if publisher is None or publisher.enqueuer is not enqueuer:
            if publisher is not None:
                publisher.close()
            publisher = self._publisher = Publisher(enqueuer, self._connection()[0])
        return publisher

    @property
    def backend(self) -> Backend:
        """The result backend ``result_backend`` names (D5), built on first use and rebuilt when
        it or a ``result_*`` setting changes (settings are live); a DisabledBackend when none is set."""
        conf = self.conf
        snap = conf.snapshot()  # re-read when the settings change (config.snapshot)
        cached = self._backend
        if cached is not None and self._backend_seen is snap:
            return cached[1]
        url = tuple(
            repr(conf.get(name))
            for name in (
                "result_backend",
                "broker_url",
                "result_expires",
                "result_failure_expires",
                "result_extended",
                "result_backend_transport_options",
            )
        )
        if cached is not None and cached[0] == url:
            self._backend_seen = snap
            return cached[1]
        backend = backend_from_conf(self.conf, broker=lambda: self._connection()[0])
        self._close_backend()
        self._backend = (url, backend)
        self._backend_seen = snap
        return backend

    @property
    def control(self) -> Control:
        """Remote control and inspection (``revoke``, ``inspect()``, ``purge``, limits), in Redis."""
        if self._control is None:
            self._control = Control(self)
        return self._control

    def _close_backend(self) -> None:
        cached, self._backend = self._backend, None
        if cached is not None and isinstance(cached[1], RedisBackend):
            broker = self._broker
            if broker is None or broker[2] is not cached[1].conn:
                cached[1].conn.close()

    def close(self) -> None:
        """Close the broker and result backend connections the app made."""
        self._close_backend()
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None
        if self._broker is not None:
            self._broker[2].close()
            self._broker = None
            self._enqueuer = None

    # -- worker -------------------------------------------------------------------------------------
    def Worker(self, **kwargs: Any) -> Any:
        """A worker node for this app: ``app.Worker(pool="threads", concurrency=4).run()``
        (``celery_shim.worker.WorkController``)."""
        return symbol_by_name(WORKER)(self, **kwargs)

    def worker_main(self, argv: Sequence[str] | None = None) -> int:
        """``python proj.py worker -l INFO``: the command line's ``worker`` command for this app."""
        import sys

        args = list(sys.argv[1:] if argv is None else argv)
        if args and args[0] != "worker":
            args = ["worker", *args]
        self.set_current()
        return int(symbol_by_name(COMMAND_LINE)(["-A", f"{self._locate()}", *args]) or 0)

    def start(self, argv: Sequence[str] | None = None) -> int:
        """``python proj.py <command> ...``: the ``celery-shim`` command line for this app."""
        import sys

        self.set_current()
        args = list(sys.argv[1:] if argv is None else argv)
        return int(symbol_by_name(COMMAND_LINE)(["-A", f"{self._locate()}", *args]) or 0)

    def _locate(self) -> str:
        """``module:attr`` of this app, for the command line to load it."""
        module, attr = locate_app(self)
        return f"{module}:{attr}"

    @property
    def current_worker_task(self) -> Any:
        """The task running in this thread of a worker, or None."""
        return _state.current_task()

    def AsyncResult(
        self, task_id: str, backend: Any = None, task_name: str | None = None, parent: AsyncResult | None = None
    ) -> AsyncResult:
        """A result handle on this app (Celery's ``app.AsyncResult(id)``)."""
        return AsyncResult(task_id, backend=backend, task_name=task_name, app=self, parent=parent)

    @property
    def GroupResult(self) -> type[GroupResult]:
        """GroupResult bound to this app: ``app.GroupResult(id, results)``, ``app.GroupResult.restore(id)``."""
        if self._group_result is None:
            self._group_result = type("GroupResult", (GroupResult,), {"bound_app": self, "__module__": __name__})
        return self._group_result

    def signature(self, *args: Any, **kwargs: Any) -> Signature:
        """``app.signature('tasks.add', args=(2, 2))``: a signature bound to this app (canvas)."""
        from ..canvas import signature

        kwargs["app"] = self
        return signature(*args, **kwargs)


_state.default_app_factory = _default_app
