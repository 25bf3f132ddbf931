"""The canvas side keys (spec D4, D15): what happens after a job, kept beside it where Go never looks.

A job's args are what Go handlers read, so a canvas never rides inside them. Instead:

* ``<ns>:celery:canvas:<task_id>`` holds the task's continuation, JSON with the keys that apply:
  ``{"chain": [sig, ...], "link": [sig, ...], "link_error": [sig, ...],
  "chord": {"group_id": g, "size": n}}`` — the chain's next steps (next first), the callbacks, the
  errbacks, and the chord this task is a header member of;
* ``<ns>:celery:canvas:<group_id>`` holds a chord's record: ``{"body": sig, "header": [task ids
  in order], "size": n}``;
* ``<ns>:celery:chord:<group_id>`` counts the chord's finished header tasks (INCR).

Each is written before the job it belongs to is pushed, and expires after ``result_expires`` as
results do (never, when that is None or 0).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from ..gocraft.arguments import encode_args
from ..gocraft.keys import ShimKeys

if TYPE_CHECKING:
    from work_compat import Connection

    from ..app.base import Celery

__all__ = [
    "CANVAS_OPTIONS",
    "continuation_of",
    "count_chord_part",
    "delete_continuation",
    "drop_chord",
    "load_chord",
    "load_continuation",
    "save_chord",
    "save_continuation",
]

logger = logging.getLogger(__name__)

CANVAS_OPTIONS = ("chain", "chord", "link", "link_error")

_CHORD_PART = (files("celery_shim.gocraft") / "lua" / "chord_part.lua").read_text(encoding="utf-8")


def _where(app: Celery) -> tuple[Connection, ShimKeys]:
    conn, keys = app._connection()
    return conn, ShimKeys(keys.namespace)


def ttl_seconds(app: Celery) -> int:
    """``result_expires`` in whole seconds; 0 means no expiry."""
    value = app.conf.result_expires
    if value is None:
        return 0
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    return max(0, int(seconds))


def _dumps(record: Mapping[str, Any]) -> str:
    # D2's encoding, as for job args: a non-JSON arg in a later step fails now, naming its path.
    return json.dumps(encode_args(record), separators=(",", ":"))


def _put(app: Celery, key_of: str, record: Mapping[str, Any]) -> None:
    conn, keys = _where(app)
    payload = _dumps(record)
    ttl = ttl_seconds(app)
    with conn.errors():
        if ttl:
            conn.client.set(keys.canvas(key_of), payload, ex=ttl)
        else:
            conn.client.set(keys.canvas(key_of), payload)


def _get(app: Celery, key_of: str) -> dict[str, Any] | None:
    conn, keys = _where(app)
    with conn.errors():
        raw = conn.client.get(keys.canvas(key_of))
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        logger.error("canvas side key of %s is not JSON; its continuation is dropped: %r", key_of, raw[:200])
        return None
    if not isinstance(record, dict):
        logger.error("canvas side key of %s is not a JSON object; its continuation is dropped", key_of)
        return None
    return record


def continuation_of(options: Mapping[str, Any]) -> dict[str, Any] | None:
    """The side-key record the canvas options of one publish make (None: nothing to keep)."""
    record: dict[str, Any] = {}
    for name in CANVAS_OPTIONS:
        value = options.get(name)
        if not value:
            continue
        if name == "chord":
            record[name] = {"group_id": str(value["group_id"]), "size": int(value["size"])}
        elif isinstance(value, Mapping):
            record[name] = [value]
        else:
            record[name] = list(value)
    return record or None


def save_continuation(app: Celery, task_id: str, options: Mapping[str, Any]) -> bool:
    """Write the task's side key when its options carry a canvas; True when one was written.

    Called by ``Celery.publish`` before the job is pushed, so the worker that runs the job finds it.
    """
    record = continuation_of(options)
    if record is None:
        return False
    _put(app, task_id, record)
    return True


def load_continuation(app: Celery, task_id: str) -> dict[str, Any] | None:
    return _get(app, task_id)


def delete_continuation(app: Celery, task_id: str) -> None:
    conn, keys = _where(app)
    with conn.errors():
        conn.client.delete(keys.canvas(task_id))


def save_chord(app: Celery, group_id: str, record: Mapping[str, Any]) -> None:
    """The chord's body, ordered header ids and size, under the group id's canvas key."""
    _put(app, group_id, record)


def load_chord(app: Celery, group_id: str) -> dict[str, Any] | None:
    return _get(app, group_id)


def drop_chord(app: Celery, group_id: str) -> None:
    """Forget a finished chord: its record and its counter."""
    conn, keys = _where(app)
    with conn.errors():
        conn.client.delete(keys.canvas(group_id), keys.chord(group_id))


def count_chord_part(app: Celery, task_id: str, group_id: str) -> int:
    """Count ``task_id`` as a finished header task of chord ``group_id``; the count after it, or
    -1 when it was counted before. Consumes the task's side key (read it first)."""
    conn, keys = _where(app)
    script = conn.client.register_script(_CHORD_PART)
    with conn.errors():
        n = script(keys=[keys.canvas(task_id), keys.chord(group_id)], args=[ttl_seconds(app)])
    return int(n)
