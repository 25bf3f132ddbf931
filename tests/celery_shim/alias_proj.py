"""A Celery project module as written for the real celery: run by ``celery-shim --celery-alias``."""

from __future__ import annotations

import os

from celery import Celery, shared_task
from celery.exceptions import Ignore

app = Celery("alias_proj")
app.conf.update(gocraft_namespace=os.environ.get("CLI_PROJ_NAMESPACE", "alias_proj"))


@shared_task(name="alias.hello")
def hello(name: str) -> str:
    if not name:
        raise Ignore()
    return f"hello {name} from {type(app).__module__}"
