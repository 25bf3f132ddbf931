"""The project's tasks."""

from __future__ import annotations

import datetime as dt

from celery_shim import shared_task


@shared_task(name="proj.add")
def add(x: int, y: int = 1) -> int:
    return x + y


@shared_task(name="proj.when")
def when(when: str) -> str:
    return dt.datetime.fromisoformat(when).strftime("%A")


@shared_task
def report(kind: str) -> str:
    return f"report {kind}"
