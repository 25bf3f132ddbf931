"""Celery's canvas (``celery.canvas``): signatures, chains, groups and chords over gocraft jobs.

A Signature is a plain dict in Celery's layout (``task``, ``args``, ``kwargs``, ``options``,
``subtask_type``, ``immutable``), so it survives JSON and comes back through ``from_dict``. That is
what lets a canvas run across processes (spec D15): the first step of a chain, every member of a
group and every header task of a chord is an ordinary gocraft job, which a Go worker can run too;
what happens after a job (the chain's next steps, ``link``/``link_error`` callbacks, a chord's
count) is kept in the job's side key (canvas_store), and the Python worker that finishes the job
follows it (canvas_driver). Eager mode (``task_always_eager``, ``apply()``) runs the whole canvas in
this process, step by step, as Celery does.
"""

from __future__ import annotations

from ..install import refused_attribute
from .primitives import chain, chord, group
from .signature import Signature, maybe_signature, signature, subtask

__all__ = ["Signature", "chain", "chord", "group", "maybe_signature", "signature", "subtask"]

__getattr__ = refused_attribute(
    __name__,
    dict.fromkeys(
        ("chunks", "xmap", "xstarmap"),
        "Celery's chunks/xmap/xstarmap primitives are not supported by celery_shim: send a group of the calls "
        "instead (group(task.s(*args) for args in items))",
    ),
)
