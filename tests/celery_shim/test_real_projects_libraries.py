"""Real projects, round three: what five more projects and the Celery libraries they use showed.

Each test is a small project of our own written as those projects are (``from celery import ...``),
run by a real ``celery-shim --celery-alias`` worker process; where the outcome can be compared, a
real Celery 5.7 worker runs the same project files on the same Redis and must answer the same.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.celery_shim.real_celery import real_celery_worker
from tests.celery_shim.test_real_projects import (  # noqa: F401  fixtures
    ROOT,
    Worker,
    caller,
    client,
    running,
    start_worker,
    url,
    write_project,
)
from celery_shim.gocraft.keys import ShimKeys
from tests.redis_server import RedisServer
from tests.work_compat.conftest import wait_until
from work_compat import Keys

DJANGO_SITE = {
    "site_cfg/__init__.py": "from .celery import app as celery_app\n",
    "site_cfg/settings.py": """
        SECRET_KEY = "test"
        USE_TZ = True
        INSTALLED_APPS = [
            "django.contrib.contenttypes",
            "django_celery_beat",
            "django_celery_results",
            "celery_progress",
            "ledger",
        ]
        DATABASES = {}
        CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
    """,
    "site_cfg/celery.py": """
        import os
        from celery import Celery

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_cfg.settings")
        app = Celery("{namespace}")
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.autodiscover_tasks()
    """,
    "ledger/__init__.py": "",
    "ledger/tasks.py": """
        from celery import shared_task
        from celery_progress.backend import ProgressRecorder

        @shared_task(bind=True)
        def total(self, amounts):
            progress = ProgressRecorder(self)
            for done, _ in enumerate(amounts, 1):
                progress.set_progress(done, len(amounts))
            return sum(amounts)
    """,
}


def _site(root: Path, namespace: str) -> Path:
    return write_project(root, {k: v.replace("{namespace}", namespace) for k, v in DJANGO_SITE.items()})


def test_a_django_project_with_celery_beat_results_and_progress_installed_loads_and_runs(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # django_celery_beat imports celery.beat's Scheduler/ScheduleEntry and celery.utils.time's
    # maybe_make_aware; django_celery_results celery.backends.base's backend classes: worker and
    # django.setup() failed with ImportError. Celery runs the same project and task alike.
    root = _site(tmp_path, namespace)
    with running(root, "site_cfg", url, client, namespace, "-c", "1") as app:
        shim_total = app.send_task("ledger.tasks.total", ([1, 2, 3],)).get(timeout=30)
    with real_celery_worker(root, "site_cfg", url) as real:
        real_total = real.app.send_task("ledger.tasks.total", ([1, 2, 3],)).get(timeout=30)
    assert shim_total == real_total == 6


def test_the_libraries_modules_import_under_the_alias(tmp_path: Path) -> None:
    # What the project's admin, its beat and its views import, in one process under the alias; the DB
    # scheduler itself stays unrun (a Scheduler refuses to be made, naming the feature).
    root = _site(tmp_path, "probe")
    probe = """
        import os, celery_shim
        celery_shim.install()
        os.environ["DJANGO_SETTINGS_MODULE"] = "site_cfg.settings"
        import django
        django.setup()
        from django_celery_beat.schedulers import DatabaseScheduler
        from django_celery_beat.tzcrontab import TzAwareCrontab
        import django_celery_beat.models, django_celery_results.backends, django_celery_results.managers
        from celery_progress.backend import Progress
        from celery import current_app
        try:
            DatabaseScheduler(current_app)
        except Exception as err:
            print(type(err).__name__, "does not run scheduler classes" in str(err))
        print(TzAwareCrontab(minute="*/5").minute == set(range(0, 60, 5)), Progress.__name__)
    """
    (root / "probe.py").write_text(probe.replace("\n        ", "\n"))
    proc = subprocess.run(
        [sys.executable, "probe.py"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{root}:{ROOT}"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ImproperlyConfigured", "True", "True", "Progress"]


def test_backend_redis_is_celerys_local_redis_shorthand(
    tmp_path: Path, redis_server: RedisServer, namespace: str, client: redis.Redis
) -> None:
    # Celery(..., backend='redis'): Celery's Redis backend on redis_host/redis_port (localhost:6379 by
    # default); it was refused with "result_backend=redis://... is not supported ... set 'redis://...'".
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    root = write_project(
        tmp_path,
        {
            "local.py": f"""
                from celery import Celery

                app = Celery("{namespace}", backend="redis", redis_host="127.0.0.1", redis_port={redis_server.port})

                @app.task(name="local.square")
                def square(x):
                    return x * x
            """
        },
    )
    worker = Worker(["-A", "local", "-b", url, "worker", "-P", "solo"], root)  # no --result-backend
    try:
        wait_until(
            lambda: client.smembers(Keys(namespace).worker_pools()) or worker.proc.poll() is not None, 30, "the worker"
        )
        app = caller(url, namespace)
        try:
            sent = app.send_task("local.square", (7,))
            assert sent.get(timeout=20) == 49
        finally:
            app.close()
    finally:
        output = worker.output()
        assert worker.stop() == 0, output
    import celery

    real = celery.Celery("reader", backend="redis", redis_host="127.0.0.1", redis_port=redis_server.port)
    try:
        assert real.AsyncResult(sent.id).get(timeout=5) == 49  # Celery reads it where it would have written it
    finally:
        real.close()


CONTROL_PROJECT = """
    from celery import Celery
    from celery.worker.control import control_command, inspect_command

    app = Celery("{namespace}")
    seen = []

    @control_command(args=[("n", int)], signature="[N=1]")
    def bump(state, n=1):
        seen.append(n)
        return {"ok": f"bumped by {n}", "total": sum(seen)}

    @inspect_command()
    def seen_so_far(state):
        return {"seen": list(seen)}

    @app.task(name="ops.noop")
    def noop():
        return None
"""


def test_custom_control_and_inspect_commands_reply_as_celerys_do(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # `import celery.worker.control` (@control_command/@inspect_command) failed under the alias.
    root = write_project(tmp_path, {"ops.py": CONTROL_PROJECT.replace("{namespace}", namespace)})

    def exchange(app: object) -> list[object]:
        control = app.control  # type: ignore[attr-defined]
        first = control.broadcast("bump", arguments={"n": 2}, reply=True, timeout=10, limit=1)
        second = control.broadcast("seen_so_far", reply=True, timeout=10, limit=1)
        return [list(reply.values()) for reply in (*first, *second)]

    with running(root, "ops", url, client, namespace, "-P", "solo") as app:
        channel = ShimKeys(namespace).control()
        wait_until(lambda: client.pubsub_numsub(channel)[0][1] > 0, 30, "the worker's control listener")
        shim = exchange(app)
    with real_celery_worker(root, "ops", url) as real:
        expected = exchange(real.app)
    assert shim == expected == [[{"ok": "bumped by 2", "total": 2}], [{"seen": [2]}]]


def test_names_projects_import_most_are_there() -> None:
    # From a survey of public projects' `from celery...` lines (docs/celery.md lists them).
    code = """
        import celery_shim; celery_shim.install()
        from celery import Celery, shared_task, Task, signals, current_app, chain, group, chord, states
        from celery.exceptions import CeleryError, QueueNotFound, SecurityError, SoftTimeLimitExceeded, Retry
        from celery.utils.time import rate, maybe_make_aware
        from celery.app.log import TaskFormatter
        from celery.utils.log import get_task_logger
        from celery.signals import setup_logging, after_setup_logger, worker_process_init, task_prerun
        assert issubclass(SoftTimeLimitExceeded, CeleryError) and issubclass(QueueNotFound, KeyError)
        assert rate("100/m") == 100 / 60
    """
    proc = subprocess.run(
        [sys.executable, "-c", code.replace("\n        ", "\n")], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("statement", "feature"),
    [
        ("from celery.events import EventReceiver", "event stream"),
        ("from celery.bin.celery import celery", "click"),
        ("from celery.worker.request import Request", "OpenTelemetry"),
        ("from celery.app.trace import build_tracer", "Sentry"),
        ("from celery.contrib import rdb", "-P solo"),
        ("from celery.canvas import chunks", "group(task.s"),
    ],
)
def test_what_flower_sentry_and_opentelemetry_need_is_refused_naming_the_feature(statement: str, feature: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", f"import celery_shim; celery_shim.install()\n{statement}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and feature in proc.stderr.splitlines()[-1], proc.stderr  # an ImportError


def test_flower_reads_the_result_backend_the_app_configures(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # `celery -A proj flower` shows results from the app's own result_backend; the shim's dashboard
    # answered 503 "no result backend" unless --result-backend was given again.
    root = write_project(
        tmp_path,
        {
            "shop.py": f"""
                from celery import Celery

                app = Celery("{namespace}", broker="{url}", backend="{url}")

                @app.task(name="shop.total")
                def total(a, b):
                    return a + b
            """
        },
    )
    with running(root, "shop", url, client, namespace, "-P", "solo") as app:
        sent = app.send_task("shop.total", (2, 3))
        assert sent.get(timeout=20) == 5
    dashboard = Worker(["-A", "shop", "flower", "--port=0"], root)
    try:
        found = wait_until(
            lambda: re.search(r"listening on (http://\S+/)", dashboard.output()) or dashboard.proc.poll() is not None,
            30,
            "the dashboard",
        )
        assert isinstance(found, re.Match), dashboard.output()
        with urllib.request.urlopen(f"{found.group(1)}api/task/result/{sent.id}", timeout=10) as resp:
            answer = json.load(resp)
        assert (answer["state"], answer["result"]) == ("SUCCESS", 5)
    finally:
        dashboard.stop()


TIME_LIMITS_PROJECT = """
    import time
    from celery import Celery

    app = Celery("{namespace}")

    @app.task(name="tl.slow", time_limit=1)
    def slow():
        time.sleep(30)

    @app.task(name="tl.long")
    def long(started):
        open(started, "w").close()
        time.sleep(30)
"""


def test_timed_out_and_terminated_tasks_are_logged_as_celery_logs_them(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # The worker's lines for a hard time limit and a terminate named no exception where Celery's do.
    root = write_project(tmp_path, {"tl.py": TIME_LIMITS_PROJECT.replace("{namespace}", namespace)})

    def run(app: Any, output: Callable[[], str], started: Path) -> list[str]:
        slow = app.send_task("tl.slow")
        with pytest.raises(Exception) as raised:
            slow.get(timeout=30)
        assert type(raised.value).__name__ == "TimeLimitExceeded"
        long = app.send_task("tl.long", (str(started),))
        wait_until(started.exists, 30, "the long task to start")
        app.control.revoke(long.id, terminate=True)
        wait_until(lambda: f"Terminating {long.id}" in output(), 30, "the terminate line")
        lines = output().replace(slow.id, "<slow>").replace(long.id, "<long>").splitlines()
        wanted = ("Task handler raised error", "Hard time limit", "Terminating")
        return [line.split("] ", 1)[1] for line in lines if any(w in line for w in wanted)]

    shim_worker = start_worker(root, "tl", url, client, namespace, "-c", "1", "-l", "info")
    app = caller(url, namespace)
    try:
        shim = run(app, shim_worker.output, tmp_path / "shim-started")
    finally:
        app.close()
        assert shim_worker.stop() == 0
    with real_celery_worker(root, "tl", url, "-P", "prefork", "-c", "1", "-l", "info") as real:
        expected = run(real.app, real.output, tmp_path / "real-started")
    assert shim == [
        "Task handler raised error: TimeLimitExceeded(1)",
        "Hard time limit (1s) exceeded for tl.slow[<slow>]",
        "Terminating <long> (15)",
    ]
    assert shim == expected


REPLACE_PROJECT = """
    from celery import Celery

    app = Celery("{namespace}")

    @app.task(name="rp.add")
    def add(x, y):
        return x + y

    @app.task(name="rp.double")
    def double(x):
        return 2 * x

    @app.task(name="rp.total")
    def total(values):
        return sum(values)

    @app.task(name="rp.via_add", bind=True)
    def via_add(self, x):
        raise self.replace(add.s(x, 100))
"""


def test_task_replace_hands_its_id_chain_and_chord_place_to_the_new_task(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # Task.replace() was missing (AttributeError in the task).
    root = write_project(tmp_path, {"rp.py": REPLACE_PROJECT.replace("{namespace}", namespace)})

    def run(app: Any, canvas: Any) -> list[Any]:
        sig = app.signature
        alone = sig("rp.via_add", (1,)).apply_async()
        chained = canvas.chain(sig("rp.via_add", (1,)), sig("rp.double")).apply_async()
        gathered = canvas.chord([sig("rp.via_add", (1,)), sig("rp.via_add", (2,))], sig("rp.total")).apply_async()
        return [r.get(timeout=30) for r in (alone, chained, gathered)]

    import celery

    import celery_shim

    with running(root, "rp", url, client, namespace, "-P", "solo") as app:
        shim = run(app, celery_shim)
    with real_celery_worker(root, "rp", url) as real:
        expected = run(real.app, celery)
    assert shim == expected == [101, 202, 203]


def test_task_replace_in_eager_mode_returns_the_new_tasks_result_as_celery_does() -> None:
    import celery

    import celery_shim

    def run(module: Any) -> tuple[Any, str]:
        app = module.Celery("eager", broker="memory://", set_as_current=False)

        @app.task(name="eager.add")
        def add(x: int, y: int) -> int:
            return x + y

        @app.task(name="eager.via_add", bind=True)
        def via_add(self: Any, x: int) -> Any:
            return self.replace(add.s(x, 10))

        result = via_add.apply((1,))
        return result.get(), result.state

    assert run(celery_shim) == run(celery) == (11, "SUCCESS")


PYDANTIC_PROJECT = """
    from typing import Optional

    from celery import Celery
    from pydantic import BaseModel

    app = Celery("{namespace}")

    class Order(BaseModel):
        sku: str
        quantity: int

    class Quote(BaseModel):
        sku: str
        price: float

    @app.task(name="pd.quote", pydantic=True)
    def quote(order: Order, discount: Optional[Order] = None, note: str = "") -> Quote:
        assert isinstance(order, Order) and (discount is None or isinstance(discount, Order))
        return Quote(sku=order.sku, price=order.quantity * 2.5 - (discount.quantity if discount else 0))

    @app.task(name="pd.strict", pydantic=True, pydantic_strict=True)
    def strict(order: Order) -> int:
        return order.quantity
"""


def test_pydantic_tasks_validate_arguments_and_dump_results_as_celerys_do(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # @app.task(pydantic=True) was accepted and ignored: the task got plain dicts.
    root = write_project(tmp_path, {"pd.py": PYDANTIC_PROJECT.replace("{namespace}", namespace)})

    def run(app: Any) -> list[Any]:
        ok = app.send_task("pd.quote", ({"sku": "a", "quantity": "4"},), {"discount": {"sku": "d", "quantity": 1}})
        bad = app.send_task("pd.quote", ({"sku": "a"},))
        strict = app.send_task("pd.strict", ({"sku": "a", "quantity": "4"},))
        out: list[Any] = [ok.get(timeout=30)]
        for failing in (bad, strict):
            with pytest.raises(Exception) as raised:
                failing.get(timeout=30)
            out.append((type(raised.value).__name__, str(raised.value)))
        return out

    with running(root, "pd", url, client, namespace, "-P", "solo") as app:
        shim = run(app)
    with real_celery_worker(root, "pd", url) as real:
        expected = run(real.app)
    # pydantic's ValidationError has no args: Celery stores and gives back an empty one, and so does the shim
    assert shim == expected == [{"sku": "a", "price": 9.0}, ("ValidationError", ""), ("ValidationError", "")]


CANVAS_PROJECT = """
    from celery import Celery

    app = Celery("{namespace}")

    @app.task(name="cv.add")
    def add(x, y):
        return x + y

    @app.task(name="cv.tsum")
    def tsum(values):
        return sum(values)

    @app.task(name="cv.flat")
    def flat(values):
        return sum(sum(v) if isinstance(v, list) else v for v in values)
"""


def test_chord_headers_holding_chains_that_end_in_a_chord_or_a_group_run_as_in_celery(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # They were refused at publish with an undocumented TypeError ("ends in a chord; end it in a task").
    root = write_project(tmp_path, {"cv.py": CANVAS_PROJECT.replace("{namespace}", namespace)})

    def run(app: Any, canvas: Any) -> list[Any]:
        chain, chord, group = canvas.chain, canvas.chord, canvas.group
        add, tsum, flat = (lambda *a: app.signature("cv.add", a)), app.signature("cv.tsum"), app.signature("cv.flat")
        flows = [
            chord([chain(add(1, 2), chord([add(1), add(2)], tsum.clone())), add(1, 1)], tsum.clone()),
            chord([chain(add(1, 2), group(add(1), add(2))), add(1, 1)], flat.clone()),  # the group's list, one entry
            chord([group(add(1, 1), add(2, 2)), add(3, 3)], tsum.clone()),  # a group in a header is unrolled
            chain(add(1, 2), group(add(1), add(2)), tsum.clone()),  # a group inside a chain
        ]
        return [flow.apply_async().get(timeout=30) for flow in flows]

    import celery

    import celery_shim

    with running(root, "cv", url, client, namespace, "-P", "threads", "-c", "2") as app:
        shim = run(app, celery_shim)
    with real_celery_worker(root, "cv", url, "-P", "threads", "-c", "2") as real:
        expected = run(real.app, celery)
    assert shim == expected == [11, 11, 12, 9]


TYPED_PROJECT = """
    from celery import Celery

    app = Celery("{namespace}")

    @app.task(name="ty.describe")
    def describe(when, amount, ids, day=None):
        return [type(when).__name__, when.isoformat(), type(amount).__name__, str(amount),
                [type(i).__name__ for i in ids], type(day).__name__]
"""


def test_datetimes_decimals_and_uuids_reach_python_tasks_typed_as_with_celerys_json(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # A datetime positional arg arrived as its ISO string; Celery 5.7's JSON gives the task a datetime.
    # The gocraft job's args still hold plain strings (what Go handlers read, test_publish checks them);
    # the types ride in its "celery" metadata.
    import datetime as dt
    import uuid
    from decimal import Decimal

    root = write_project(tmp_path, {"ty.py": TYPED_PROJECT.replace("{namespace}", namespace)})
    when = dt.datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=dt.timezone.utc)
    call = ((when, Decimal("12.50"), [uuid.UUID(int=7)]), {"day": dt.date(2030, 1, 2)})

    with running(root, "ty", url, client, namespace, "-P", "solo") as app:
        sent = app.send_task("ty.describe", *call)
        shim = sent.get(timeout=30)
    with real_celery_worker(root, "ty", url) as real:
        expected = real.app.send_task("ty.describe", *call).get(timeout=30)
    assert shim == expected == ["datetime", when.isoformat(), "Decimal", "12.50", ["UUID"], "date"]


def test_the_job_keeps_plain_strings_for_go_and_the_types_beside_them(
    url: str, namespace: str, client: redis.Redis
) -> None:
    import datetime as dt
    from decimal import Decimal

    from work_compat import decode_job

    app = caller(url, namespace)
    try:
        app.send_task("ty.describe", (dt.datetime(2030, 1, 2, 3, 4, 5), Decimal("1.5"), []), {"day": dt.date(2030, 1, 2)})
    finally:
        app.close()
    [raw] = client.lrange(Keys(namespace).jobs("ty.describe"), 0, -1)
    job = decode_job(raw)
    assert job.args == {"*args": ["2030-01-02T03:04:05", "1.5", []], "day": "2030-01-02"}
    assert sorted(job.extra["celery"]["types"]) == [[["*args", 0], "datetime"], [["*args", 1], "decimal"], [["day"], "date"]]


TIMING_PROJECT = """
    import time
    from celery import Celery

    app = Celery("{namespace}")

    @app.task(name="tm.stamp")
    def stamp(path):
        with open(path, "a") as f:
            f.write(f"{time.time()}\\n")

    @app.task(name="tm.flaky", bind=True, autoretry_for=(OSError,), retry_backoff=True, retry_jitter=False,
              max_retries=3)
    def flaky(self, path):
        with open(path, "a") as f:
            f.write(f"{time.time()}\\n")
        if self.request.retries < 3:
            raise OSError("not yet")
"""


def test_countdowns_and_retry_delays_are_honoured_below_the_second(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # They were rounded up to whole seconds: countdown=0.1 waited a second, retry_backoff's 1, 2, 4 s
    # ran at 1.7, 3.0, 4.8 s. The scheduled and retry sets keep whole-second scores (Go's view), and a
    # Python worker moves its own jobs at their exact eta.
    root = write_project(tmp_path, {"tm.py": TIMING_PROJECT.replace("{namespace}", namespace)})
    stamps, attempts = tmp_path / "stamps", tmp_path / "attempts"
    with running(root, "tm", url, client, namespace, "-c", "1") as app:
        wait_until(lambda: time.time() % 1 < 0.1, 2, "the start of a second")  # ceil(eta) is then 0.6 s after eta
        sent_at = time.time()
        app.send_task("tm.stamp", (str(stamps),), countdown=0.3)
        wait_until(stamps.exists, 10, "the countdown task")
        app.send_task("tm.flaky", (str(attempts),)).get(timeout=30)
    eta = sent_at + 0.3
    [ran_at] = [float(line) for line in stamps.read_text().split()]
    assert eta <= ran_at < math.ceil(eta), (eta, ran_at)  # never early, and before its whole second
    runs = [float(line) for line in attempts.read_text().split()]
    gaps = [b - a for a, b in zip(runs, runs[1:], strict=False)]
    assert len(gaps) == 3 and all(g >= d for g, d in zip(gaps, (1, 2, 4), strict=True)), gaps
    assert sum(gaps) - 7 < 1.0, gaps  # three retries late by under a second in all (was about 2.5 s)


def test_flowers_documented_revoke_curl_terminates_the_running_task(
    tmp_path: Path, url: str, namespace: str, client: redis.Redis
) -> None:
    # curl -X POST -d 'terminate=True' http://localhost:5555/api/task/revoke/<id> answered "Revoked"
    # and the task ran on: only ?terminate=True in the query string reached the worker.
    root = write_project(tmp_path, {"tl.py": TIME_LIMITS_PROJECT.replace("{namespace}", namespace)})
    started = tmp_path / "started"
    worker = start_worker(root, "tl", url, client, namespace, "-c", "1", "-l", "info")
    dashboard = Worker(["-A", "tl", "-b", url, "--result-backend", url, "flower", "--port=0"], root)
    app = caller(url, namespace)
    try:
        found = wait_until(
            lambda: re.search(r"listening on (http://\S+/)", dashboard.output()) or dashboard.proc.poll() is not None,
            30,
            "the dashboard",
        )
        assert isinstance(found, re.Match), dashboard.output()
        long = app.send_task("tl.long", (str(started),))
        wait_until(started.exists, 30, "the task to start")
        form = urllib.request.Request(f"{found.group(1)}api/task/revoke/{long.id}", data=b"terminate=True", method="POST")
        with urllib.request.urlopen(form, timeout=10) as resp:
            assert json.load(resp)["message"] == f"Revoked '{long.id}'"
        wait_until(lambda: f"Terminating {long.id} (15)" in worker.output(), 30, "the worker to terminate the task")
        wait_until(lambda: long.state == "REVOKED", 30, "the REVOKED state")
    finally:
        app.close()
        dashboard.stop()
        assert worker.stop() == 0, worker.output()
