"""The project's app, as a Celery project writes it (the test picks the namespace by env)."""

from __future__ import annotations

import os

from celery_shim import Celery

app = Celery("cli_proj", include=["cli_proj.tasks"])
app.conf.gocraft_namespace = os.environ.get("CLI_PROJ_NAMESPACE", "cli_proj")
app.conf.task_routes = {"cli_proj.tasks.report": {"queue": "reports"}}
app.conf.beat_schedule = {"add-every-minute": {"task": "proj.add", "schedule": 60.0, "args": (1, 2)}}
