"""Publishes a fixed backlog with the real celery package, as a Celery project would have left it.

Run as a script by test_backlog (so the real celery never shares a process with the shim):
``python backlog_publisher.py <broker-url> <protocol>``; prints the task ids as JSON, by label, in
the order the messages were sent.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

from celery import Celery

broker, protocol = sys.argv[1], int(sys.argv[2])
app = Celery("legacy", broker=broker, task_protocol=protocol)


@app.task(name="proj.add")
def add(x, y=1):  # type: ignore[no-untyped-def]
    return x + y


ids: dict[str, str] = {}
ids["plain"] = add.apply_async((2,), {"y": 3}).id
ids["later"] = add.apply_async((4, 5), countdown=3600).id
ids["chain"] = (add.s(1, 2) | add.s(3)).apply_async().parent.id
ids["expiring"] = add.apply_async((6,), expires=600, headers={"tenant": "acme"}).id
ids["pickled"] = add.apply_async((1,), serializer="pickle").id
ids["dated"] = app.send_task("proj.when", (dt.datetime(2024, 5, 1, 12, 30),)).id
ids["unknown"] = app.send_task("go.resize", ("a.png", 640), {"fmt": "webp"}).id
ids["misfit"] = app.send_task("proj.add", (1, 2, 3)).id
ids["limited"] = add.apply_async((8,), time_limit=30, soft_time_limit=10).id
ids["urgent"] = add.apply_async((7,), priority=9).id
print(json.dumps(ids))
app.close()
