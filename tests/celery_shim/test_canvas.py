"""Canvas: what a chain, group, chord or callback writes to Redis, and how the driver resumes it.

Given an app on the test Redis, when a canvas is published, then only its first jobs exist, each a
plain gocraft job whose args Go can read, and what comes next sits in the side keys
(``<ns>:celery:canvas:<id>``) with the result TTL. When the driver is told a task finished (as the
worker tells it), then it publishes exactly the next jobs, counts a chord header task once however
often it is told, and calls the chord body with the header results in header order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis

from celery_shim import Celery, states
from celery_shim.app import continuation as canvas_driver
from celery_shim.canvas import Signature, chain, chord, group, maybe_signature, signature
from celery_shim.exceptions import ChordError, EncodeError
from celery_shim.gocraft.keys import ResultKeys, ShimKeys
from celery_shim.result import GroupResult
from celery_shim.app.task import Context
from tests.celery_shim.canvas_tasks import Seen, make_tasks
from tests.celery_shim.conftest import app_on
from work_compat import Job, Keys, decode_job


@pytest.fixture
def app(url: str, namespace: str) -> Iterator[Celery]:
    with app_on(url, namespace, "canvas") as app:
        yield app


@pytest.fixture
def t(app: Celery) -> SimpleNamespace:
    return make_tasks(app, Seen())


def jobs(client: redis.Redis, namespace: str, name: str) -> list[Job]:
    """The queued jobs of ``name``, oldest first."""
    return [decode_job(raw) for raw in reversed(client.lrange(Keys(namespace).jobs(name), 0, -1))]


def side_key(client: redis.Redis, namespace: str, key_of: str) -> Any:
    raw = client.get(ShimKeys(namespace).canvas(key_of))
    return None if raw is None else json.loads(raw)


def all_keys(client: redis.Redis) -> list[str]:
    return sorted(k.decode() for k in client.scan_iter())


def finish(app: Celery, job: Job, result: Any) -> None:
    """What the worker does when ``job`` succeeds: store the result, then call the driver."""
    meta = job.extra.get("celery", {})
    request = Context(id=job.id, root_id=meta.get("root_id") or job.id, canvas=bool(meta.get("canvas")))
    app.backend.store_result(job.id, result, states.SUCCESS, request=request)
    canvas_driver.on_success(app, job.id, result, request)


def fail(app: Celery, job: Job, exc: BaseException) -> None:
    meta = job.extra.get("celery", {})
    request = Context(id=job.id, root_id=meta.get("root_id") or job.id, canvas=bool(meta.get("canvas")))
    app.backend.store_result(job.id, exc, states.FAILURE, traceback="Traceback ...", request=request)
    canvas_driver.on_failure(app, job.id, exc, "Traceback ...", request)


# -- signatures -------------------------------------------------------------------------------------
class TestSignature:
    def test_partial_args_are_prepended_unless_immutable(self, t: SimpleNamespace) -> None:
        assert t.add.s(2).clone((1,)).args == (1, 2)
        assert t.add.si(2, 3).clone((1,)).args == (2, 3)
        assert t.add.s(2)(5) == 7  # called directly, as a function

    def test_set_link_and_on_error_return_what_celery_returns(self, t: SimpleNamespace) -> None:
        sig = t.add.s(1)
        callback = t.record.s()
        assert sig.link(callback) is callback
        assert sig.on_error(t.on_err.s()) is sig
        assert sig.set(countdown=3) is sig
        assert sig.options["countdown"] == 3
        assert sig.options["link"] == [callback]

    def test_operators_build_chains_and_chords(self, t: SimpleNamespace) -> None:
        assert isinstance(t.add.s(1, 1) | t.mul.s(2), chain)
        assert len((t.add.s(1, 1) | t.mul.s(2) | (t.add.s(1) | t.add.s(2))).tasks) == 4
        assert isinstance(group(t.add.s(1, 1)) | t.tsum.s(), chord)
        assert isinstance(chord([t.add.s(1, 1)], t.tsum.s()) | t.mul.s(2), chord)

    def test_json_round_trip_keeps_the_kind_and_the_data(self, t: SimpleNamespace) -> None:
        workflow = chain(t.add.s(1, 2), group(t.mul.s(2), t.mul.s(3)), t.tsum.si([1]).set(countdown=1))
        back = Signature.from_dict(json.loads(json.dumps(workflow)))
        assert isinstance(back, chain)
        assert isinstance(back.tasks[1], group)
        assert back.tasks[2].immutable and back.tasks[2].options == {"countdown": 1}
        assert json.loads(json.dumps(back)) == json.loads(json.dumps(workflow))
        assert maybe_signature(None) is None
        assert signature(dict(t.add.s(1))).task == "canvas.add"

    def test_freeze_fixes_the_id_the_job_gets(
        self, app: Celery, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        sig = t.add.s(1, 2)
        frozen = sig.freeze()
        published = sig.apply_async()
        assert published.id == frozen.id == sig.id
        assert [j.id for j in jobs(redis_client, namespace, "canvas.add")] == [frozen.id]


# -- what publishing writes -------------------------------------------------------------------------
class TestPublish:
    def test_a_chain_queues_its_first_step_and_keeps_the_rest_aside(
        self, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        result = (t.add.s(1, 2) | t.mul.s(10) | t.add.si(4, 5)).apply_async()

        (first,) = jobs(redis_client, namespace, "canvas.add")
        assert first.id == result.parent.parent.id
        assert first.args == {"x": 1, "y": 2}  # what a Go handler reads: no canvas inside args
        assert first.extra == {"celery": {"canvas": True}}
        assert jobs(redis_client, namespace, "canvas.mul") == []
        rest = side_key(redis_client, namespace, first.id)["chain"]
        assert [(s["task"], s["args"], s["immutable"], s["options"]["task_id"]) for s in rest] == [
            ("canvas.mul", [10], False, result.parent.id),
            ("canvas.add", [4, 5], True, result.id),
        ]
        assert all(s["options"]["root_id"] == first.id for s in rest)
        assert 86000 < redis_client.ttl(ShimKeys(namespace).canvas(first.id)) <= 86400  # result_expires

    def test_a_group_queues_every_member_with_its_place_and_saves_the_group(
        self, app: Celery, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        result = group(t.add.s(i, i) for i in range(3)).apply_async()

        members = jobs(redis_client, namespace, "canvas.add")
        assert [j.id for j in members] == [r.id for r in result.results]
        assert [j.extra["celery"] for j in members] == [{"group_id": result.id, "group_index": i} for i in range(3)]
        assert not any(k.startswith(f"{namespace}:celery:") for k in all_keys(redis_client))
        assert redis_client.exists(ResultKeys().group(result.id))
        restored = GroupResult.restore(result.id, app=app)
        assert restored is not None and [r.id for r in restored.results] == [r.id for r in result.results]

    def test_a_chord_counts_on_its_header_and_keeps_the_body_aside(
        self, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        result = chord([t.add.s(i, i) for i in range(3)])(t.tsum.s())

        header = result.parent
        members = jobs(redis_client, namespace, "canvas.add")
        assert [j.id for j in members] == [r.id for r in header.results]
        for member in members:
            assert member.extra["celery"]["group_id"] == header.id
            assert side_key(redis_client, namespace, member.id) == {"chord": {"group_id": header.id, "size": 3}}
        record = side_key(redis_client, namespace, header.id)
        assert record["header"] == [r.id for r in header.results]
        assert (record["body"]["task"], record["body"]["options"]["task_id"]) == ("canvas.tsum", result.id)
        assert jobs(redis_client, namespace, "canvas.tsum") == []
        assert not redis_client.exists(ShimKeys(namespace).chord(header.id))

    def test_a_chord_needs_a_result_backend(
        self, url: str, namespace: str, redis_client: redis.Redis, t: SimpleNamespace
    ) -> None:
        no_backend = Celery("nb", broker=url, gocraft_namespace=namespace, set_as_current=False)
        tasks = make_tasks(no_backend, Seen())
        try:
            with pytest.raises(NotImplementedError, match="result_backend"):
                chord([tasks.add.s(1, 1)], tasks.tsum.s()).apply_async()
        finally:
            no_backend.close()
        assert all_keys(redis_client) == []

    def test_link_and_link_error_go_to_the_side_key(
        self, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        result = t.add.apply_async((1, 2), link=t.record.s("x"), link_error=[t.on_err.s(), t.on_err_id.s()])

        (job,) = jobs(redis_client, namespace, "canvas.add")
        assert job.args == {"x": 1, "y": 2} and job.id == result.id
        record = side_key(redis_client, namespace, job.id)
        assert [s["task"] for s in record["link"]] == ["canvas.record"]
        assert [s["task"] for s in record["link_error"]] == ["canvas.on_err", "canvas.on_err_id"]

    def test_an_empty_chain_publishes_nothing(self, app: Celery, redis_client: redis.Redis) -> None:
        assert chain(app=app).apply_async() is None
        assert all_keys(redis_client) == []

    def test_a_later_step_json_cannot_carry_fails_before_anything_is_written(
        self, t: SimpleNamespace, redis_client: redis.Redis
    ) -> None:
        with pytest.raises(EncodeError, match="chain"):
            (t.add.s(1, 2) | t.collect.s(label=object())).apply_async()
        assert all_keys(redis_client) == []


# -- the driver, told what the worker tells it ------------------------------------------------------
class TestDriver:
    def test_the_next_step_gets_the_result_and_the_rest_of_the_chain(
        self, app: Celery, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        result = (t.add.s(1, 2) | t.mul.s(10) | t.add.s(5)).apply_async()
        (first,) = jobs(redis_client, namespace, "canvas.add")

        finish(app, first, 3)

        (second,) = jobs(redis_client, namespace, "canvas.mul")
        assert (second.id, second.args) == (result.parent.id, {"x": 3, "y": 10})
        assert second.extra["celery"] == {"canvas": True, "root_id": first.id, "parent_id": first.id}
        assert side_key(redis_client, namespace, first.id) is None
        assert [s["options"]["task_id"] for s in side_key(redis_client, namespace, second.id)["chain"]] == [result.id]

    def test_a_step_with_no_local_task_is_sent_by_name_and_ends_the_python_side(
        self, app: Celery, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        # A Go job: the result goes under "*args" (no local signature names it).
        (t.add.s(1, 2) | signature("send_report", kwargs={"address": "ada@example.com"})).apply_async()
        (first,) = jobs(redis_client, namespace, "canvas.add")

        finish(app, first, 3)

        (go_job,) = jobs(redis_client, namespace, "send_report")
        assert go_job.args == {"address": "ada@example.com", "*args": [3]}

    def test_a_chord_header_task_counts_once_and_the_body_gets_header_order(
        self, app: Celery, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        result = chord([t.add.s(1, 1), t.add.s(2, 2)], t.tsum.s()).apply_async()
        first, second = jobs(redis_client, namespace, "canvas.add")
        counter = ShimKeys(namespace).chord(result.parent.id)

        finish(app, second, 4)
        finish(app, second, 4)  # told twice (a rerun after a crash): counted once
        assert redis_client.get(counter) == b"1"
        assert jobs(redis_client, namespace, "canvas.tsum") == []

        finish(app, first, 2)

        (body,) = jobs(redis_client, namespace, "canvas.tsum")
        assert (body.id, body.args) == (result.id, {"values": [2, 4]})
        assert not any(k.startswith(f"{namespace}:celery:") for k in all_keys(redis_client))

    def test_a_failed_header_task_fails_the_body(
        self, app: Celery, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        result = chord([t.add.s(1, 1), t.boom.s(2)], t.tsum.s()).apply_async()
        (ok,) = jobs(redis_client, namespace, "canvas.add")
        (bad,) = jobs(redis_client, namespace, "canvas.boom")

        fail(app, bad, ValueError("boom 2"))
        finish(app, ok, 2)

        assert jobs(redis_client, namespace, "canvas.tsum") == []
        assert result.state == states.FAILURE
        assert isinstance(result.result, ChordError)
        assert str(result.result) == f"Dependency {bad.id} raised ValueError('boom 2')"

    def test_a_result_the_next_step_cannot_take_fails_the_chain_and_still_counts_for_the_chord(
        self, app: Celery, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        result = chord([t.add.s(1, 1) | t.mul.s(2), t.add.s(2, 2)], t.collect.s()).apply_async()
        first, second = jobs(redis_client, namespace, "canvas.add")

        finish(app, first, b"\x00raw")  # the result store tags bytes; job args refuse them (D2)
        finish(app, second, 4)

        assert jobs(redis_client, namespace, "canvas.mul") == []
        assert jobs(redis_client, namespace, "canvas.collect") == []
        assert isinstance(result.result, ChordError)
        assert not any(k.startswith(f"{namespace}:celery:") for k in all_keys(redis_client))

    def test_a_revoked_header_task_counts_and_fails_the_body(
        self, app: Celery, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        result = chord([t.add.s(1, 1), t.add.s(2, 2)], t.tsum.s()).apply_async()
        first, second = jobs(redis_client, namespace, "canvas.add")

        app.control.revoke(second.id)  # deleted from its queue: no worker will ever see it
        finish(app, first, 2)

        assert jobs(redis_client, namespace, "canvas.add") == [first]  # the revoked one left its queue
        assert jobs(redis_client, namespace, "canvas.tsum") == []
        assert isinstance(result.result, ChordError)
        assert "TaskRevokedError" in str(result.result)
        assert not any(k.startswith(f"{namespace}:celery:canvas") for k in all_keys(redis_client))

    def test_a_failed_step_fails_the_rest_of_the_chain(
        self, app: Celery, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        result = (t.boom.s(1) | t.mul.s(10) | t.add.s(5)).apply_async()
        (first,) = jobs(redis_client, namespace, "canvas.boom")

        fail(app, first, ValueError("boom 1"))

        assert [result.state, result.parent.state] == [states.FAILURE, states.FAILURE]
        with pytest.raises(ValueError, match="boom 1"):
            result.get(timeout=1)
        assert jobs(redis_client, namespace, "canvas.mul") == []
        assert side_key(redis_client, namespace, first.id) is None

    def test_a_job_without_the_canvas_flag_costs_no_lookup(
        self, app: Celery, t: SimpleNamespace, redis_client: redis.Redis, namespace: str
    ) -> None:
        t.add.delay(1, 2)
        (job,) = jobs(redis_client, namespace, "canvas.add")
        assert job.extra == {}
        redis_client.config_resetstat()
        canvas_driver.on_success(app, job.id, 3, Context(id=job.id, canvas=False))
        assert redis_client.info("stats")["total_commands_processed"] <= 1  # the INFO call itself
