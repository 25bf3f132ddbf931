"""A key of the wrong Redis type in the namespace (a string where a heartbeat hash belongs, a list
where the retry set belongs, ...): the Client and every dashboard route skip it, name it in
``warnings()`` / the JSON's ``warnings`` / a page banner, and show everything else.

The reaper's half, with real worker processes, is tests/faults/test_wrong_type_keys.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.webui.conftest import T0, WebTestCase

ROUTES = (
    "/api/dashboard",
    "/api/worker_pools",
    "/api/busy_workers",
    "/api/workers",
    "/api/tasks",
    "/api/task/types",
    "/metrics",
    "/task/0123456789abcdef01234567",
    "/api/task/info/0123456789abcdef01234567",
    "/api/queues",
    "/api/queues/length",
    "/api/dead_jobs",
    "/api/retry_jobs",
    "/api/scheduled_jobs",
    "/api/history_jobs",
    "/api/periodic_schedules",
    "/api/ui/queues",
    "/",
    "/pools",
    "/tasks",
    "/dead",
    "/history",
)

# case -> (the key made wrong, how); the key is a method of Keys with its arguments
CASES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "heartbeat_string": ("heartbeat", ("badpool",), "string"),
    "worker_pools_string": ("worker_pools", (), "string"),
    "observation_string": ("worker_observation", ("w9",), "string"),
    "known_jobs_string": ("known_jobs", (), "string"),
    "queue_string": ("jobs", ("b",), "string"),
    "in_progress_string": ("jobs_in_progress", ("a", "goodpool"), "string"),
    "lock_hash": ("jobs_lock", ("a",), "hash"),
    "lock_info_string": ("jobs_lock_info", ("a",), "string"),
    "dead_string": ("dead", (), "string"),
    "retry_list": ("retry", (), "list"),
    "scheduled_string": ("scheduled", (), "string"),
    "history_string": ("history", (), "string"),
    "history_index_string": ("history_index", (), "string"),
    "schedules_string": ("periodic_schedules", (), "string"),
    "max_concurrency_hash": ("jobs_max_concurrency", ("a",), "hash"),
}
# Only the reaper and the workers use these; the dashboard must merely not fail near them.
NOT_READ_BY_THE_DASHBOARD = {"lock_hash", "lock_info_string", "max_concurrency_hash"}


class TestWrongTypeKeys(WebTestCase):
    def _namespace_with(self, case: str) -> str:
        """A namespace with a live pool, a busy worker, queued/scheduled/dead jobs, and one bad key."""
        k = self.keys
        self.enqueuer.enqueue("a", {"n": 1})
        self.enqueuer.enqueue("b", {"n": 2})
        self.enqueuer.enqueue_in("a", 60, {"n": 3})
        self.r.sadd(k.known_jobs(), "a", "b")  # the Enqueuer's known-jobs cache outlives a flushdb
        self.r.zadd(k.dead(), {b'{"name":"a","id":"d1","t":1,"args":{}}': T0 - 5})
        self.r.sadd(k.worker_pools(), "goodpool", "badpool")
        beat = {"heartbeat_at": T0, "started_at": T0 - 60, "job_names": "a,b", "concurrency": 2, "pid": 1}
        self.r.hset(k.heartbeat("goodpool"), mapping={**beat, "worker_ids": "w1,w9"})
        self.r.hset(k.heartbeat("badpool"), mapping={**beat, "worker_ids": "w2"})
        self.r.hset(
            k.worker_observation("w1"), mapping={"job_name": "a", "job_id": "j1", "started_at": T0, "args": "{}"}
        )
        method, args, kind = CASES[case]
        key: str = getattr(k, method)(*args)
        self.r.delete(key)
        make: dict[str, Callable[[], object]] = {
            "string": lambda: self.r.set(key, "oops"),
            "hash": lambda: self.r.hset(key, "oops", 1),
            "list": lambda: self.r.rpush(key, "oops"),
        }
        make[kind]()
        return key

    @pytest.mark.timeout(60)
    def test_every_route_answers_and_names_the_bad_key(self) -> None:
        for case in CASES:
            with self.subTest(case=case):
                self.r.flushdb()
                key = self._namespace_with(case)
                for path in ROUTES:
                    resp = self.fetch(path)
                    assert resp.code < 500, (case, path, resp.code, resp.body[:300])
                if case in NOT_READ_BY_THE_DASHBOARD:
                    continue
                # read once more now that every listing has met the key
                body = json.loads(self.fetch("/api/dashboard").body)
                assert any(repr(key) in w for w in body["warnings"]), (case, body["warnings"])
                assert any(repr(key) in w for w in self.client.warnings())

    def test_a_bad_heartbeat_hides_only_its_own_pool(self) -> None:
        key = self._namespace_with("heartbeat_string")
        pools = self.client.worker_pool_heartbeats()
        assert [p.worker_pool_id for p in pools] == ["goodpool"]
        assert [o.worker_id for o in self.client.worker_observations() if o.is_busy] == ["w1"]
        body = json.loads(self.fetch("/api/dashboard").body)
        assert body["workers"] == {"active": 1, "total": 2, "pools": 1}
        assert body["warnings"] == [f"key {key!r} is not a hash: the pool listing skipped it (delete or fix the key)"]
        page = self.fetch("/pools").body.decode()
        assert "data-warning" in page and key in page

    def test_a_bad_dead_set_leaves_the_other_sets_listed(self) -> None:
        self._namespace_with("dead_string")
        assert self.client.dead_jobs(1) == ([], 0)
        assert self.client.dead_count() == 0
        assert self.client.scheduled_count() == 1
        names = {q.job_name: q.count for q in self.client.queues()}
        assert names == {"a": 1, "b": 1}

    def test_without_bad_keys_there_is_no_warning(self) -> None:
        self.enqueuer.enqueue("a", {"n": 1})
        body = json.loads(self.fetch("/api/dashboard").body)
        assert "warnings" not in body  # the payload is then Go's
        assert "data-warning" not in self.fetch("/").body.decode()
