"""Tasks of the prefork worker tests: module level, so that the pool's spawned children import them.

The tests point ``app`` at their Redis and namespace through ``app.conf``; the worker hands those
settings to its children.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

from celery_shim import Celery, signals
from celery_shim.exceptions import SoftTimeLimitExceeded

app = Celery("wtasks", set_as_current=False)


def _redis() -> Any:
    return app._connection()[0].client


def process_init_key() -> str:
    return f"{app.namespace}:test:process_init"


@signals.worker_process_init.connect
def _child_started(sender: Any = None, **kwargs: Any) -> None:
    if multiprocessing.parent_process() is not None:  # only in the pool's children
        _redis().rpush(process_init_key(), f"{sender}|{os.getpid()}")


@app.task(name="pid")
def pid() -> int:
    return os.getpid()


@app.task(name="soft_catch")
def soft_catch() -> str:
    try:
        while True:
            time.sleep(0.01)
    except SoftTimeLimitExceeded:
        return "stopped by the soft limit"


@app.task(name="hang")
def hang() -> None:
    time.sleep(120)


@app.task(name="crash")
def crash() -> None:
    os._exit(3)


@app.task(name="crash_once", acks_late=True, reject_on_worker_lost=True)
def crash_once(key: str) -> str:
    if _redis().incr(key) == 1:
        os._exit(3)
    return "survived"


@app.task(name="pid_then_hang")
def pid_then_hang(key: str) -> None:
    _redis().set(key, os.getpid())
    time.sleep(120)


@app.task(name="limited", rate_limit="1/h")
def limited() -> str:
    return "ok"
