"""Flower's state-changing and result routes: async-apply, send-task, task result, revoke."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import quote

from celery_shim import states
from celery_shim.gocraft.keys import ShimKeys
from tests.webui.conftest import WebTestCase
from tests.webui.flower_fixtures import T0, FlowerTestCase
from tests.work_compat.conftest import wait_until
from work_compat import Job, decode_job


class TestApply(FlowerTestCase):
    def test_async_apply_enqueues_a_known_task_with_kwargs_by_name_and_args_under_star_args(self) -> None:
        self.enqueuer.enqueue("later", {})  # "later" becomes a known job name
        self.r.delete(self.keys.jobs("later"))
        body = {"args": [1, "two"], "kwargs": {"to": "ada"}, "expires": 3600}
        started = self.post_json("/api/task/async-apply/later", body)
        assert started["state"] == "PENDING"
        assert uuid.UUID(started["task-id"])
        [raw] = self.r.lrange(self.keys.jobs("later"), 0, -1)
        job = decode_job(raw)
        assert (job.id, job.name, job.args) == (started["task-id"], "later", {"to": "ada", "*args": [1, "two"]})
        assert job.extra["celery"]["expires"] == T0 + 3600
        info = self.get_json("/api/task/info/" + started["task-id"])
        assert (info["args"], info["kwargs"], info["state"]) == ('[1, "two"]', '{"to": "ada"}', "PENDING")

    def test_countdown_and_eta_schedule_the_job(self) -> None:
        self.enqueuer.enqueue("later", {})
        a = self.post_json("/api/task/send-task/later", {"kwargs": {"n": 1}, "countdown": 90})["task-id"]
        b = self.post_json("/api/task/send-task/later", {"eta": "2030-01-01 00:00:00.000000"})["task-id"]
        scores = {decode_job(m).id: int(s) for m, s in self.r.zrange(self.keys.scheduled(), 0, -1, withscores=True)}
        assert scores == {a: T0 + 90, b: 1893456000}

    def test_unknown_names_bad_names_and_bad_bodies(self) -> None:
        assert self.post_json("/api/task/async-apply/nobody", {}, status=404) == {"error": "Unknown task 'nobody'"}
        task_id = self.post_json("/api/task/send-task/nobody", {})["task-id"]  # send-task takes any name
        assert decode_job(self.r.lindex(self.keys.jobs("nobody"), 0)).id == task_id
        assert "':'" in self.post_json("/api/task/send-task/" + quote("a:b", safe=""), {}, status=400)["error"]
        for body in ('{"args": {"a": 1}}', '{"kwargs": []}', "[1]", "{nope", '{"countdown": "soon"}',
                     '{"eta": "tomorrow"}', '{"kwargs": {"*args": 1}}'):
            assert self.post_json("/api/task/send-task/later", body, status=400)["error"], body

    def test_a_sent_task_runs_in_a_pool_and_shows_succeeded(self) -> None:
        self.start_pool()
        task_id = self.post_json("/api/task/async-apply/ok", {"kwargs": {"n": 7}})["task-id"]
        state = wait_until(
            lambda: self.get_json(f"/api/task/info/{task_id}")["state"] == "SUCCESS", what="the task to succeed"
        )
        assert state


class TestResult(FlowerTestCase):
    def test_stored_success_and_failure(self) -> None:
        backend = self.backend()
        backend.store_result("t-ok", {"sum": 3}, states.SUCCESS)
        backend.store_result("t-bad", ValueError("bad"), states.FAILURE, traceback="Traceback ...")
        assert self.get_json("/api/task/result/t-ok") == {"task-id": "t-ok", "state": "SUCCESS", "result": {"sum": 3}}
        bad = self.get_json("/api/task/result/t-bad")
        assert (bad["state"], bad["result"], bad["traceback"]) == ("FAILURE", "ValueError('bad')", "Traceback ...")

    def test_waiting_for_a_result_and_timing_out(self) -> None:
        self.io_loop.call_later(0.3, lambda: self.backend().store_result("t-late", 5, states.SUCCESS))
        began = time.monotonic()
        assert self.get_json("/api/task/result/t-late?timeout=10")["result"] == 5
        assert time.monotonic() - began < 5
        pending = self.get_json("/api/task/result/t-never?timeout=0.3")
        assert pending == {"task-id": "t-never", "state": "PENDING"}
        for bad in ("x", "-1", "31"):
            assert self.get_json(f"/api/task/result/t?timeout={bad}", status=400)["error"]

    def test_without_stored_result_the_state_comes_from_gocraft(self) -> None:
        self.enqueuer.enqueue("later", {})
        job = self.enqueuer.enqueue("later", {})
        assert self.get_json(f"/api/task/result/{job.id}")["state"] == "PENDING"


class TestNoResultBackend(WebTestCase):
    def test_result_is_503_as_flower_and_apply_has_no_state(self) -> None:
        err = self.get_json("/api/task/result/x", status=503)["error"]
        assert "no result backend" in err
        assert list(self.post_json("/api/task/send-task/later", {})) == ["task-id"]


class TestRevoke(FlowerTestCase):
    def test_revoke_removes_the_job_from_every_waiting_place(self) -> None:
        queued = self.enqueuer.enqueue("later", {"q": 1})
        scheduled = self.enqueuer.enqueue_in("later", 600, {"s": 1}).job
        retry = Job(name="later", id="periodic:later:*/5 * * * * *:1795821860", enqueued_at=T0, args={}, fails=1)
        self.r.zadd(self.keys.retry(), {retry.to_bytes(): T0 + 30})
        listener = self.r.pubsub()
        listener.subscribe(ShimKeys(self.ns).control())
        for job, where in ((queued, "queue"), (scheduled, "scheduled"), (retry, "retry")):
            path = "/api/task/revoke/" + quote(job.id, safe="")
            assert self.post_json(path) == {"message": f"Revoked '{job.id}'", "removed_from": [where]}
            assert self.get_json("/api/task/info/" + quote(job.id, safe=""))["state"] == "REVOKED"
            assert self.get_json("/api/task/result/" + quote(job.id, safe=""))["state"] == "REVOKED"
        assert self.r.llen(self.keys.jobs("later")) == 0
        assert self.r.zcard(self.keys.scheduled()) == self.r.zcard(self.keys.retry()) == 0
        revoked = dict(self.r.zrange(ShimKeys(self.ns).revoked(), 0, -1, withscores=True))
        assert revoked == {queued.id.encode(): T0, scheduled.id.encode(): T0, retry.id.encode(): T0}
        # an unknown id is revoked too (a Python worker drops it should it appear), and terminate is sent on
        assert self.post_json("/api/task/revoke/nope?terminate=true&signal=SIGKILL")["removed_from"] == []
        messages: list[dict[str, object]] = []

        def four_messages() -> bool:
            m = listener.get_message(timeout=0.1)
            if m is not None and m["type"] == "message":
                messages.append(json.loads(m["data"]))
            return len(messages) == 4

        wait_until(four_messages, what="a control message per revoke")
        listener.close()
        assert messages[-1]["command"] == "revoke"
        assert messages[-1]["arguments"] == {"task_id": ["nope"], "terminate": True, "signal": "SIGKILL"}

    def test_terminate_and_signal_in_the_form_body_as_flowers_documented_curl(self) -> None:
        # curl -X POST -d 'terminate=True' http://localhost:5555/api/task/revoke/<id>: Flower reads the body too.
        listener = self.r.pubsub()
        listener.subscribe(ShimKeys(self.ns).control())
        wait_until(lambda: listener.get_message(timeout=0.1) is not None, what="the subscription")
        body = "terminate=True&signal=SIGKILL"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        assert self.post_json("/api/task/revoke/busy", body, headers=headers)["message"] == "Revoked 'busy'"
        messages: list[dict[str, object]] = []

        def a_message() -> bool:
            m = listener.get_message(timeout=0.1)
            if m is not None and m["type"] == "message":
                messages.append(json.loads(m["data"]))
            return bool(messages)

        wait_until(a_message, what="the revoke control message")
        listener.close()
        assert messages[0]["arguments"] == {"task_id": ["busy"], "terminate": True, "signal": "SIGKILL"}
