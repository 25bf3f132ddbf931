"""Regressions found by running unmodified Celery projects (Celery's own examples, Flask's) on
celery_shim with ``celery-shim --celery-alias``. Each test is a small project of our own, written
the way those projects are written (``from celery import ...``), run by the command as a user would:
a worker in its own process on the test Redis, and calls from the test through a celery_shim app.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import redis

from celery_shim import Celery
from tests.redis_server import RedisServer
from tests.work_compat.conftest import wait_until
from work_compat import Keys

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """``python -m celery_shim --celery-alias <argv>`` run from ``cwd``, output kept in files."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.out: IO[str] = tempfile.TemporaryFile("w+")
        environ = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}  # the project sets its own
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery_shim", "--celery-alias", *argv],
            cwd=cwd,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**environ, "PYTHONPATH": f"{cwd}{os.pathsep}{ROOT}"},
        )

    def output(self) -> str:
        self.out.seek(0)
        return self.out.read()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            self.out.close()


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    return f"redis://127.0.0.1:{redis_server.port}/0"


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    c = redis.Redis(host="127.0.0.1", port=redis_server.port)
    try:
        yield c
    finally:
        c.close()


def write_project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def start_worker(root: Path, module: str, url: str, client: redis.Redis, namespace: str, *options: str) -> Worker:
    """``-A module worker *options`` with ``url`` as broker and result backend, once it is online."""
    worker = Worker(["-A", module, "-b", url, "--result-backend", url, "worker", *options], root)
    online = Keys(namespace).worker_pools()
    wait_until(lambda: client.smembers(online) or worker.proc.poll() is not None, 30, "the worker's heartbeat")
    assert worker.proc.poll() is None, worker.output()
    return worker


@contextlib.contextmanager
def running(root: Path, module: str, url: str, client: redis.Redis, namespace: str, *options: str) -> Iterator[Celery]:
    """The project's worker (``start_worker``) running for the block, which gets the test's app
    (``caller``); the worker must then stop cleanly (exit code 0) on SIGTERM."""
    worker = start_worker(root, module, url, client, namespace, *options)
    app = caller(url, namespace)
    try:
        yield app
    finally:
        app.close()
        assert worker.stop() == 0, worker.output()


def caller(url: str, namespace: str) -> Celery:
    """The test's side: an app on the project's namespace that sends tasks by name."""
    return Celery("caller", broker=url, backend=url, gocraft_namespace=namespace, set_as_current=False)


def test_prefork_children_of_an_aliased_worker_import_celery_as_celery_shim(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # The default pool is prefork: its spawned children import the project again, and its
    # `from celery import Celery` must give celery_shim there too, not the real celery package.
    root = write_project(
        tmp_path,
        {
            "calc.py": f"""
                from celery import Celery

                app = Celery("{namespace}", broker="amqp://")

                @app.task
                def add(x, y):
                    return x + y
            """
        },
    )
    with running(root, "calc", url, client, namespace, "-c", "1") as app:

        @app.task(name="calc.add")
        def add(x: int, y: int) -> int:
            raise AssertionError("runs in the worker")

        assert add.delay(2, 3).get(timeout=20) == 5


def test_send_task_by_name_with_positional_args_reaches_a_function_without_star_args(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # A producer without the task's code sends it by name, as Celery's docs show for send_task;
    # its positionals travel under "*args" and must become the function's leading arguments.
    root = write_project(
        tmp_path,
        {
            "shop.py": f"""
                from celery import Celery

                app = Celery("{namespace}")

                @app.task(name="shop.price")
                def price(amount, rate, currency="EUR"):
                    return f"{{amount * rate}} {{currency}}"
            """
        },
    )
    with running(root, "shop", url, client, namespace, "-P", "solo") as app:
        assert app.send_task("shop.price", (3, 2)).get(timeout=20) == "6 EUR"
        assert app.send_task("shop.price", (3,), {"rate": 4, "currency": "USD"}).get(timeout=20) == "12 USD"
        with pytest.raises(TypeError, match="argument"):
            app.send_task("shop.price", (1, 2, 3, 4)).get(timeout=20)  # as Python would refuse the call


def test_a_script_that_starts_its_own_prefork_worker_runs_its_tasks(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # `python notes.py worker` in Celery's examples: the app and its tasks live in the script run
    # as __main__; the prefork children must load that script (with the alias), not skip its tasks.
    root = write_project(
        tmp_path,
        {
            "notes.py": f"""
                from celery import Celery

                app = Celery("{namespace}", broker="amqp://")

                @app.task
                def shout(text):
                    return text.upper()

                if __name__ == "__main__":
                    app.start()
            """
        },
    )
    worker = Worker(["-b", url, "--result-backend", url, "run", "notes.py", "worker", "-c", "1"], root)
    online = Keys(namespace).worker_pools()
    wait_until(lambda: client.smembers(online) or worker.proc.poll() is not None, 30, "the worker's heartbeat")
    app = caller(url, namespace)

    @app.task(name=f"{namespace}.shout")
    def shout(text: str) -> str:
        raise AssertionError("runs in the worker")

    try:
        assert shout.delay("hi").get(timeout=20) == "HI"
    finally:
        app.close()
        output = worker.output()
        assert worker.stop() == 0, output
    assert "already imported" not in output  # the children never loaded the real celery


def test_a_django_project_whose_task_modules_import_models_runs_on_the_prefork_pool(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # Celery's Django layout: tasks.py imports the app's models at the top, which needs the app
    # registry loaded; spawned children must set Django up before importing the task modules.
    root = write_project(
        tmp_path,
        {
            "site_cfg/__init__.py": "from .celery import app as celery_app\n",
            "site_cfg/settings.py": """
                SECRET_KEY = "test"
                INSTALLED_APPS = ["django.contrib.contenttypes", "inventory"]
                DATABASES = {}
                CELERY_BROKER_URL = "amqp://"
            """,
            "site_cfg/celery.py": f"""
                import os
                from celery import Celery

                os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_cfg.settings")
                app = Celery("{namespace}")
                app.config_from_object("django.conf:settings", namespace="CELERY")
                app.autodiscover_tasks()
            """,
            "inventory/__init__.py": "",
            "inventory/models.py": """
                from django.db import models

                class Item(models.Model):
                    name = models.CharField(max_length=20)
            """,
            "inventory/tasks.py": """
                from celery import shared_task
                from inventory.models import Item

                @shared_task
                def label():
                    return Item._meta.label
            """,
        },
    )
    with running(root, "site_cfg", url, client, namespace, "-c", "1") as app:
        assert app.send_task("inventory.tasks.label").get(timeout=20) == "inventory.Item"


def test_a_bound_task_whose_function_takes_no_argument_is_refused_with_a_type_error(url: str, namespace: str) -> None:
    # bind=True on `def f():` (as in one of Celery's own examples): Celery's delay() raises TypeError.
    app = caller(url, namespace)

    @app.task(bind=True)
    def forgot_self() -> None:
        raise AssertionError("never runs")

    try:
        with pytest.raises(TypeError, match="first argument"):
            forgot_self.delay()
    finally:
        app.close()


def test_set_default_makes_the_app_the_one_current_app_answers(url: str, namespace: str) -> None:
    # Flask's celery_init_app() ends with celery_app.set_default(); it used to be an AttributeError.
    from celery_shim import current_app

    first = caller(url, namespace)
    made = caller(url, namespace)
    try:
        made.set_default()
        assert current_app._get_current_object() is made
    finally:
        first.close()
        made.close()


def test_an_app_factory_with_set_default_and_a_task_class_wrapping_call(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # Flask's documented pattern: a factory builds the app with task_cls=<Task subclass whose
    # __call__ opens a context>, configures it from a dict and calls set_default(); the tasks are
    # shared_task in another module. The worker must run each task through that __call__.
    root = write_project(
        tmp_path,
        {
            "webapp/__init__.py": f"""
                import contextvars
                from celery import Celery, Task

                context = contextvars.ContextVar("context", default="none")

                def make_celery():
                    class ContextTask(Task):
                        def __call__(self, *args, **kwargs):
                            token = context.set("open")
                            try:
                                return self.run(*args, **kwargs)
                            finally:
                                context.reset(token)

                    app = Celery("{namespace}", task_cls=ContextTask)
                    app.config_from_object(dict(broker_url="amqp://", task_ignore_result=True))
                    app.set_default()
                    return app

                from . import jobs  # noqa: E402
            """,
            "webapp/jobs.py": """
                from celery import shared_task

                @shared_task(ignore_result=False)
                def where(label):
                    from webapp import context
                    return f"{label}: {context.get()}"
            """,
            "entry.py": """
                from celery import current_app
                from webapp import make_celery

                celery_app = make_celery()
                assert current_app._get_current_object() is celery_app
            """,
        },
    )
    with running(root, "entry", url, client, namespace, "-c", "1") as app:
        assert app.send_task("webapp.jobs.where", ("job",)).get(timeout=20) == "job: open"


def test_assigning_app_task_gives_later_tasks_that_class_and_its_call(url: str, namespace: str) -> None:
    # The older Flask pattern: `celery.Task = ContextTask` before the @celery.task decorators.
    app = caller(url, namespace)
    calls: list[str] = []

    class ContextTask(app.Task):  # type: ignore[name-defined,misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(self.name)
            return self.run(*args, **kwargs)

    app.Task = ContextTask

    @app.task
    def double(x: int) -> int:
        return 2 * x

    try:
        assert isinstance(double, ContextTask)
        assert double.apply((21,)).get() == 42 and calls == [double.name]
    finally:
        app.close()


def test_a_retry_decorator_built_on_celery_utils_time_backs_off_and_retries(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # A common pattern: a project's own decorator wraps shared_task and computes the retry countdown
    # with celery.utils.time.get_exponential_backoff_interval; the import used to fail under the alias.
    root = write_project(
        tmp_path,
        {
            "flaky.py": f"""
                import functools
                from celery import Celery, shared_task
                from celery.utils.time import get_exponential_backoff_interval

                app = Celery("{namespace}")

                def retrying(**options):
                    def wrap(func):
                        @functools.wraps(func)
                        def body(*args, **kwargs):
                            try:
                                return func(*args, **kwargs)
                            except OSError as exc:
                                wait = get_exponential_backoff_interval(
                                    factor=1, retries=task.request.retries, maximum=2, full_jitter=True
                                )
                                raise task.retry(exc=exc, countdown=wait)
                        task = shared_task(**options)(body)
                        return task
                    return wrap

                @retrying(max_retries=3)
                def fetch(key):
                    if fetch.request.retries < 2:
                        raise OSError("not yet")
                    return f"{{key}} after {{fetch.request.retries}} retries"
            """
        },
    )
    with running(root, "flaky", url, client, namespace, "-P", "solo") as app:
        assert app.send_task("flaky.fetch", ("k",)).get(timeout=30) == "k after 2 retries"


def test_get_exponential_backoff_interval_follows_celerys_curve() -> None:
    from celery_shim.utils.time import get_exponential_backoff_interval

    assert [get_exponential_backoff_interval(3, n, 40) for n in range(6)] == [3, 6, 12, 24, 40, 40]
    assert {get_exponential_backoff_interval(1, 3, 600, full_jitter=True) for _ in range(400)} == set(range(9))


def test_current_app_configured_by_the_project_is_found_by_dash_a_and_loaded_in_prefork_children(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # Some projects never build an app: they configure the default one through current_app and hand
    # `celery = current_app` to -A (`-A main.celery`); the prefork children must load it the same way.
    root = write_project(
        tmp_path,
        {
            "settings.py": f"""
                class Config:
                    CELERY_GOCRAFT_NAMESPACE = "{namespace}"
                    CELERY_BROKER_URL = "amqp://"

                config = Config()
            """,
            "service/__init__.py": """
                from celery import current_app as current_celery_app

                def make_celery():
                    from settings import config
                    current_celery_app.config_from_object(config, namespace="CELERY")
                    return current_celery_app
            """,
            "service/jobs.py": """
                from celery import shared_task

                @shared_task
                def greet(name):
                    return f"hello {name}"
            """,
            "main.py": """
                from service import make_celery
                import service.jobs  # noqa: F401

                celery = make_celery()
            """,
        },
    )
    with running(root, "main.celery", url, client, namespace, "-c", "1") as app:
        assert app.send_task("service.jobs.greet", ("ada",)).get(timeout=20) == "hello ada"


def test_a_task_that_returns_the_result_of_a_canvas_it_started_stores_its_tuple_form(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # A task that launches a chord (or calls x.delay()) and returns what that gives back: Celery's
    # backend stores the handle's as_tuple() form instead of failing to encode it as JSON.
    root = write_project(
        tmp_path,
        {
            "fanout.py": f"""
                from celery import Celery, chord

                app = Celery("{namespace}")

                @app.task
                def square(x):
                    return x * x

                @app.task
                def total(values):
                    return sum(values)

                @app.task
                def launch(n):
                    return chord(square.s(i) for i in range(n))(total.s())

                @app.task
                def relay(x):
                    return square.delay(x)
            """
        },
    )
    with running(root, "fanout", url, client, namespace, "-c", "2") as app:
        stored = app.send_task("fanout.launch", (3,)).get(timeout=30)
        (body_id, ((_group_id, _), members)), parent = stored  # the body, its parent group and the members
        assert parent is None and len(members) == 3
        assert app.AsyncResult(body_id).get(timeout=30) == 0 + 1 + 4
        (child_id, _), _ = app.send_task("fanout.relay", (7,)).get(timeout=30)
        assert app.AsyncResult(child_id).get(timeout=30) == 49


def test_celery_listed_in_django_installed_apps_loads_under_the_alias(tmp_path: Path) -> None:
    # Older Django guides put 'celery' in INSTALLED_APPS; Django probes celery.apps and celery.models
    # and needs the package's location on disk. Progress-bar libraries also check
    # isinstance(result.backend, celery.backends.base.DisabledBackend).
    root = write_project(
        tmp_path,
        {
            "site_cfg/__init__.py": "",
            "site_cfg/settings.py": """
                SECRET_KEY = "test"
                INSTALLED_APPS = ["django.contrib.contenttypes", "celery"]
                DATABASES = {}
            """,
            "probe.py": """
                import os
                import celery_shim

                celery_shim.install()
                os.environ["DJANGO_SETTINGS_MODULE"] = "site_cfg.settings"
                import django
                from django.apps import apps

                django.setup()
                from celery import Celery
                from celery.backends.base import DisabledBackend

                app = Celery("probe", set_as_current=False)
                print(apps.get_app_config("celery").path, isinstance(app.AsyncResult("x").backend, DisabledBackend))
                try:
                    import celery.models
                except ModuleNotFoundError as err:
                    print(err.name, "does not provide" in str(err))
            """,
        },
    )
    proc = subprocess.run(
        [sys.executable, "probe.py"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{ROOT}"},
    )
    assert proc.returncode == 0, proc.stderr
    location, disabled, missing, clear = proc.stdout.split()
    assert location == str(ROOT / "celery_shim") and disabled == "True"
    assert missing == "celery.models" and clear == "True"  # a module celery_shim lacks still says so on import


def test_old_names_beside_namespaced_ones_load_as_in_celery(monkeypatch: pytest.MonkeyPatch) -> None:
    # A Django settings file with BROKER_URL next to CELERY_RESULT_BACKEND, read with
    # namespace='CELERY': Celery loads it (old names still count) instead of refusing the mix.
    import celery

    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)

    class Settings:
        BROKER_URL = "redis://broker-host:6379/0"
        CELERY_RESULT_BACKEND = "redis://results-host:6379/1"
        CELERY_TASK_TRACK_STARTED = True
        CELERYD_CONCURRENCY = 3

    shim = Celery("proj", set_as_current=False)
    shim.config_from_object(Settings, namespace="CELERY")
    real = celery.Celery("proj", set_as_current=False)
    real.config_from_object(Settings, namespace="CELERY")
    for name in ("broker_url", "result_backend", "task_track_started", "worker_concurrency"):
        assert shim.conf[name] == real.conf[name], name
    assert shim.conf.broker_url == "redis://broker-host:6379/0"


def test_a_task_sent_through_the_implicit_default_app_is_named_in_a_warning(
    url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A web process that never imports the project's app publishes through the default app, whose
    # namespace is not the worker's: Celery users get no error, so the shim says where it went.
    import celery_shim._state as app_module
    from celery_shim import shared_task

    monkeypatch.setattr(app_module, "_current", None)
    monkeypatch.setenv("CELERY_BROKER_URL", url)

    @shared_task(name="orphan_ping")
    def orphan_ping() -> None: ...

    caplog.set_level("WARNING", logger="celery_shim.app.base")
    orphan_ping.delay()
    orphan_ping.delay()
    warned = [r.getMessage() for r in caplog.records if "default app" in r.getMessage()]
    assert len(warned) == 1 and "orphan_ping" in warned[0] and "'default'" in warned[0], warned
    assert "CELERY_GOCRAFT_NAMESPACE" in warned[0]


def test_the_namespace_can_be_set_from_the_environment(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from celery_shim import Celery

    monkeypatch.setenv("CELERY_GOCRAFT_NAMESPACE", "shop")
    app = Celery("web", broker=url, set_as_current=False)
    try:
        assert app.namespace == "shop"
    finally:
        app.close()


def test_a_second_signal_is_a_cold_shutdown_that_leaves_at_once(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # Ctrl-C twice: Celery's worker leaves at once; the running task stays in progress for a reaper.
    root = write_project(
        tmp_path,
        {
            "slowproj.py": f"""
                import time
                from celery import Celery

                app = Celery("{namespace}")

                @app.task(name="crawl")
                def crawl():
                    time.sleep(120)
            """
        },
    )
    worker = start_worker(root, "slowproj", url, client, namespace, "-c", "1")
    keys = Keys(namespace)
    try:
        caller(url, namespace).send_task("crawl")
        [pool_id] = [p.decode() for p in client.smembers(keys.worker_pools())]
        inprogress = keys.jobs_in_progress("crawl", pool_id)
        wait_until(lambda: client.llen(inprogress) == 1, 30, "the task to start")
        worker.proc.send_signal(signal.SIGINT)
        wait_until(lambda: "warm shutdown" in worker.output(), 10, "the warm shutdown")
        time.sleep(1.1)  # a second signal within a second of the first is taken as the same one
        worker.proc.send_signal(signal.SIGINT)
        assert worker.proc.wait(10) == 1, worker.output()
        assert "cold shutdown" in worker.output()
        # The job waits in progress, the pool still registered, for a reaper to requeue it
        assert client.llen(inprogress) == 1 and client.sismember(keys.worker_pools(), pool_id)
    finally:
        worker.stop()


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_what_a_task_prints_goes_to_the_worker_log(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis, pool: str
) -> None:
    # Projects debug with print(); Celery's worker logs those lines (worker_redirect_stdouts).
    root = write_project(
        tmp_path,
        {
            "printer.py": f"""
                from celery import Celery

                app = Celery("{namespace}")

                @app.task(name="shout")
                def shout(word):
                    print("heard", word)
                    return word
            """
        },
    )
    worker = start_worker(root, "printer", url, client, namespace, "-P", pool, "-c", "1")
    try:
        assert caller(url, namespace).send_task("shout", ("hello",)).get(timeout=20) == "hello"
        wait_until(lambda: "heard hello" in worker.output(), 10, "the printed line in the log")
        [line] = [x for x in worker.output().splitlines() if "heard hello" in x]
        assert line.startswith("[") and "WARNING/" in line and line.endswith("] heard hello"), line
    finally:
        worker.stop()
