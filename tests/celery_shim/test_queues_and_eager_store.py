"""``task_queues`` decides what a worker without ``-Q`` runs, and ``task_store_eager_result``
stores eager results where ``AsyncResult`` reads them — as Celery does for both."""

from __future__ import annotations

from kombu import Queue

from celery_shim import Celery
from celery_shim.worker.worker import WorkController


def _app(**settings: object) -> Celery:
    app = Celery("proj", broker="memory://", set_as_current=False, **settings)

    @app.task(name="mail.send", queue="mail")
    def send() -> None: ...

    @app.task(name="img.resize", queue="images")
    def resize() -> None: ...

    @app.task(name="plain")
    def plain() -> None: ...

    return app


def test_a_worker_without_queues_runs_what_task_queues_declares() -> None:
    declared = _app(task_queues=(Queue("celery"), Queue("mail")))
    assert WorkController(declared, pool="solo").job_names == ["mail.send", "plain"]
    assert WorkController(declared, pool="solo", queues=["images"]).job_names == ["img.resize"]  # -Q wins
    by_name = _app(task_queues={"images": {"exchange": "images"}})  # the old dict form
    assert WorkController(by_name, pool="solo").job_names == ["img.resize"]
    undeclared = _app()
    assert WorkController(undeclared, pool="solo").job_names == ["img.resize", "mail.send", "plain"]


def test_eager_results_are_stored_when_asked(broker_url: str) -> None:
    app = Celery(
        "proj", broker=broker_url, backend=broker_url, task_always_eager=True,
        task_store_eager_result=True, set_as_current=False,
    )  # fmt: skip

    @app.task(name="add")
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="add.quiet", ignore_result=True)
    def quiet(x: int) -> int:
        return x

    stored = add.delay(2, 3)
    ignored = quiet.delay(1)
    assert app.AsyncResult(stored.id).get(timeout=5) == 5
    assert app.backend.get_task_meta(ignored.id)["status"] == "PENDING"
    app.close()
