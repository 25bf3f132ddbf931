"""Task ids (celery_shim.utils.ids): UUID4 strings as str(uuid.uuid4()) writes them, never repeated, and a
forked child never hands out the ids its parent will."""

from __future__ import annotations

import multiprocessing
import uuid

from celery_shim.utils.ids import new_task_id


def test_ids_are_uuid4_strings_and_unique() -> None:
    ids = [new_task_id() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:2_000]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)


def _child_ids(out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out.put([new_task_id() for _ in range(100)])


def test_a_forked_child_makes_ids_of_its_own() -> None:
    new_task_id()  # the parent has random bytes on hand that the child inherits
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    proc = ctx.Process(target=_child_ids, args=(out,))
    proc.start()
    child = out.get(timeout=30)
    proc.join(30)
    parent = [new_task_id() for _ in range(100)]
    assert not set(child) & set(parent)
