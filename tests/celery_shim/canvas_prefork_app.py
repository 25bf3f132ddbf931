"""A module-level app with the canvas test tasks, for the prefork pool (its children import it)."""

from __future__ import annotations

from celery_shim import Celery
from tests.celery_shim.canvas_tasks import Seen, make_tasks

app = Celery("canvas_prefork", set_as_current=False)
t = make_tasks(app, Seen())
