"""Flower's API over a namespace a real pool worked: workers, tasks, task info, types, queues."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import quote

from celery_shim import states
from celery_shim.gocraft.keys import ShimKeys
from tests.webui.flower_fixtures import T0, FlowerTestCase
from work_compat import Job


def iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat()


class TestWorkers(FlowerTestCase):
    def test_pools_keyed_by_id_with_registered_names_and_the_running_job(self) -> None:
        made = self.populate()
        workers = self.get_json("/api/workers")
        assert list(workers) == [made.pool_id]
        w = workers[made.pool_id]
        assert w["registered"] == ["boom", "flaky", "ok", "slow"]
        assert [q["name"] for q in w["active_queues"]] == w["registered"]
        assert w["stats"]["pool"]["max-concurrency"] == 2
        assert w["stats"]["prefetch_count"] == 0
        assert w["online"] is True
        [active] = w["active"]
        assert (active["id"], active["name"], active["kwargs"], active["args"]) == (made.slow, "slow", {"why": "wait"}, [])
        assert active["time_start"] == T0
        assert active["checkin"] == "halfway"

    def test_status_workername_and_a_stale_heartbeat(self) -> None:
        self.r.sadd(self.keys.worker_pools(), "fresh", "stale")
        self.r.hset(self.keys.heartbeat("fresh"), mapping={"heartbeat_at": T0 - 2, "job_names": "a", "worker_ids": "w1"})
        self.r.hset(self.keys.heartbeat("stale"), mapping={"heartbeat_at": T0 - 60, "job_names": "a", "worker_ids": "w2"})
        assert self.get_json("/api/workers?status=true") == {"fresh": True, "stale": False}
        assert list(self.get_json("/api/workers?workername=stale&refresh=1")) == ["stale"]
        assert self.get_json("/api/workers?workername=nope", status=404) == {"error": "Unknown worker 'nope'"}
        assert "status" in self.get_json("/api/workers?status=maybe", status=400)["error"]


class TestTasks(FlowerTestCase):
    def test_every_place_shows_with_its_state_and_times(self) -> None:
        made = self.populate()
        self.backend().store_result(made.ok, {"sum": 3}, states.SUCCESS)
        tasks = self.get_json("/api/tasks")
        by_state = {t["uuid"]: t["state"] for t in tasks.values()}
        assert by_state == {
            made.ok: "SUCCESS",
            made.boom: "FAILURE",
            made.flaky: "RETRY",
            made.slow: "STARTED",
            made.queued: "PENDING",
            made.scheduled: "PENDING",
        }
        ok, boom, flaky, slow = (tasks[i] for i in (made.ok, made.boom, made.flaky, made.slow))
        assert (ok["succeeded"], ok["result"], ok["received"]) == (T0, '{"sum": 3}', T0)
        # the Python pool recorded when, where and how long it ran (ms), which the history lacks
        assert (ok["gocraft"]["timing"], ok["worker"]) == ("pool", made.pool_id)
        assert 0.0 <= ok["runtime"] < 1.0 and abs(ok["started"] - time.time()) < 60
        assert (ok["args"], ok["kwargs"]) == ("[]", '{"n": 1}')
        assert (boom["failed"], boom["exception"], boom["args"], boom["kwargs"]) == (T0, "BoomError: boom", "[1, 2]", '{"who": "ada"}')
        assert boom["gocraft"]["where"] == "dead"
        retry_at = self.client.retry_jobs()[0][0].retry_at
        assert (flaky["retries"], flaky["retried"], flaky["eta"]) == (1, T0, iso(retry_at))
        assert (slow["worker"], slow["started"], slow["gocraft"]["checkin"]) == (made.pool_id, T0, "halfway")
        assert tasks[made.scheduled]["eta"] == iso(T0 + 600)
        # Flower's own field names are all there
        for field in ("name", "uuid", "state", "received", "started", "succeeded", "failed", "retried", "runtime",
                      "retries", "eta", "expires", "exception", "traceback", "result", "args", "kwargs", "worker"):
            assert field in ok

    def test_filters_sort_limit_offset_and_search(self) -> None:
        made = self.populate()
        assert set(self.get_json("/api/tasks?taskname=later")) == {made.queued, made.scheduled}
        assert list(self.get_json("/api/tasks?state=FAILURE")) == [made.boom]
        assert list(self.get_json("/api/tasks?state=All&workername=All&taskname=All")) != []
        names = [t["name"] for t in self.get_json("/api/tasks?sort_by=name").values()]
        assert names == sorted(names)
        assert [t["name"] for t in self.get_json("/api/tasks?sort_by=-name").values()] == sorted(names, reverse=True)
        everything = list(self.get_json("/api/tasks?sort_by=name"))
        assert list(self.get_json("/api/tasks?sort_by=name&limit=2&offset=1")) == everything[1:3]
        assert list(self.get_json("/api/tasks?search=state:RETRY")) == [made.flaky]
        assert list(self.get_json("/api/tasks?search=kwargs:who=ada")) == [made.boom]
        assert list(self.get_json("/api/tasks?search=args:2")) == [made.boom]
        assert set(self.get_json("/api/tasks?search=" + quote("state:RETRY state:STARTED"))) == {made.flaky, made.slow}
        assert list(self.get_json("/api/tasks?search=wait")) == [made.slow]  # free text: the args
        # the worker filter keeps tasks without a worker, as Flower's does
        assert made.slow in self.get_json(f"/api/tasks?workername={made.pool_id}")
        assert made.slow not in self.get_json("/api/tasks?workername=other")
        local = dt.datetime.fromtimestamp(T0 + 120).strftime("%Y-%m-%d %H:%M")
        assert self.get_json("/api/tasks?received_start=" + quote(local)) == {}

    def test_bad_parameters_are_400(self) -> None:
        for query in ("limit=x", "limit=-1", "offset=x", "sort_by=args", "received_start=yesterday"):
            assert self.get_json(f"/api/tasks?{query}", status=400)["error"]


class TestTaskInfo(FlowerTestCase):
    def test_any_id_round_trips_url_encoded(self) -> None:
        ids = [
            "periodic:later:@every 10s:1700000000",
            "periodic:later:*/5 * * * * *:1795821860",
            "3f2b6c1e-7d1a-4c8e-9a55-0d7e4e6b8c21",
            "with \"quotes\" & <html> ünïcode",
        ]
        for n, task_id in enumerate(ids):
            job = Job(name="later", id=task_id, enqueued_at=T0, args={"n": n})
            self.r.zadd(self.keys.scheduled(), {job.to_bytes(): 1700000000 if n == 0 else T0 + n})
        for task_id in ids:
            info = self.get_json("/api/task/info/" + quote(task_id, safe=""))
            assert (info["uuid"], info["name"], info["state"]) == (task_id, "later", "PENDING")
        assert self.get_json("/api/task/info/" + quote(ids[0], safe=""))["eta"] == iso(1700000000)

    def test_finished_running_and_unknown(self) -> None:
        made = self.populate()
        assert self.get_json(f"/api/task/info/{made.ok}")["state"] == "SUCCESS"
        assert self.get_json(f"/api/task/info/{made.boom}")["exception"] == "BoomError: boom"
        assert self.get_json(f"/api/task/info/{made.slow}")["state"] == "STARTED"
        assert self.get_json(f"/api/task/info/{made.queued}")["gocraft"]["where"] == "queue"
        assert self.get_json("/api/task/info/nope", status=404) == {"error": "Unknown task 'nope'"}

    def test_a_stored_result_alone_is_enough(self) -> None:
        self.backend().store_result("only-a-result", ValueError("bad"), states.FAILURE, traceback="Traceback ...")
        info = self.get_json("/api/task/info/only-a-result")
        assert (info["state"], info["exception"], info["traceback"]) == ("FAILURE", "ValueError('bad')", "Traceback ...")

    def test_a_revoked_id_is_revoked(self) -> None:
        self.r.zadd(ShimKeys(self.ns).revoked(), {"gone": T0})
        info = self.get_json("/api/task/info/gone")
        assert (info["state"], info["revoked"]) == ("REVOKED", T0)


class TestTypesAndQueues(FlowerTestCase):
    def test_types_and_queue_lengths(self) -> None:
        self.populate()
        self.enqueuer.enqueue("later", {})
        assert self.get_json("/api/task/types") == {"task-types": ["boom", "flaky", "later", "ok", "slow"]}
        lengths = {q["name"]: q["messages"] for q in self.get_json("/api/queues/length")["active_queues"]}
        assert lengths["later"] == 2
        assert lengths["ok"] == 0
