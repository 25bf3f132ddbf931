"""Python and the real Go library on one namespace: enqueue, process, list, unique collisions.

(a) jobs of every kind enqueued by work_compat are run once each by a Go worker pool, with the same
    args as Go's Arg* helpers see them; (b) jobs Go enqueued, retried and killed are listed by the
    Python client exactly as Go's client lists them; (c) unique jobs collide across languages.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
import redis

from tests.interop.driver import GoDriver
from tests.redis_server import RedisServer
from work_compat import (
    BackoffStrategy,
    Client,
    EnqueueOptions,
    Enqueuer,
    Job,
    Keys,
    RetryOptions,
    WorkerPool,
    decode_job,
)

pytestmark = pytest.mark.interop

RICH_ARGS: dict[str, Any] = {
    "bool_f": False,
    "bool_t": True,
    "ctrl": 'tab\tnl\nquote"bs\\ \b\f\x01\x7f',
    "empty": "",
    "empty_list": [],
    "empty_map": {},
    "float": 3.25,
    "float_big": 1.5e300,
    "float_small": 1e-7,
    "float_tiny_positional": 0.00001,
    "float_whole": 2.0,
    "html": '<a href="x">&amp;</a>',
    "int": 42,
    "int_big": 9007199254740993,
    "list": [1, "two", 3.5, False, None, {"a": 1}],
    "neg": -7,
    "nested": {"deep": {"x": [1, 2]}, "k": "v", "n": 1},
    "nil": None,
    "slash": "a/b",
    "str": "plain",
    "unicode": "héllo ✓ 日本 \u2028\u2029",
    "zero": 0,
}

# Go's Arg* helpers hold numbers as float64 and refuse integers beyond this; work_compat reads
# JSON integers exactly (a documented difference), so those keys are left out of the comparison.
GO_INT_BOUND = 9007199254740892


def go_view(value: Any, lua_moved: bool) -> Any:
    """What a Go worker holds after decoding: float64 numbers; after a Lua move, cjson's effects."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        f = float(value)
        return float("%.14g" % f) if lua_moved else f
    if isinstance(value, dict):
        return {k: go_view(v, lua_moved) for k, v in value.items()}
    if isinstance(value, list):
        if lua_moved and not value:
            return {}  # cjson turns an empty array into an empty object
        return [go_view(v, lua_moved) for v in value]
    raise TypeError(value)


def python_getters(job: Job, key: str) -> dict[str, Any]:
    """The four helpers on a fresh job each, as the driver calls Go's (value and error text)."""
    out = {}
    for go_name, method in (
        ("ArgString", "arg_string"),
        ("ArgInt64", "arg_int64"),
        ("ArgFloat64", "arg_float64"),
        ("ArgBool", "arg_bool"),
    ):
        fresh = Job(name=job.name, id=job.id, enqueued_at=job.enqueued_at, args=job.args)
        value = getattr(fresh, method)(key)
        err = fresh.arg_error()
        out[f"{go_name}({key})"] = {"value": value, "error": str(err) if err else ""}
    return out


def comparable_getters(getters: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    skip = {k for k, v in args.items() if type(v) is int and abs(v) > GO_INT_BOUND}
    out = {}
    for name, got in getters.items():
        key = name[name.index("(") + 1 : -1]
        if key in skip:
            continue
        value = got["value"]
        out[name] = {"value": float(value) if type(value) in (int, float) else value, "error": got["error"]}
    return out


def test_python_enqueued_jobs_run_once_in_go(go_driver: GoDriver, redis_server: RedisServer, namespace: str) -> None:
    # Given every enqueue path of work_compat, on one namespace
    enq = Enqueuer(namespace, redis_server.url)
    expected: dict[str, tuple[Job, bool]] = {}  # id -> (job, went through a Lua move)

    def add(job: Job | None, moved: bool = False) -> None:
        assert job is not None
        expected[job.id] = (job, moved)

    add(enq.enqueue("ia_plain", RICH_ARGS))
    add(enq.enqueue("ia_plain", None))
    add(enq.enqueue("ia_plain", {}))
    add(enq.enqueue_in("ia_sched", 0, RICH_ARGS).job, moved=True)
    add(enq.enqueue_in("ia_sched", -30, {"late": True}).job, moved=True)
    add(enq.enqueue_unique("ia_unique", {"a": "<&>", "object_id": "123", "z": 1}))
    uin = enq.enqueue_unique_in("ia_unique_in", -1, {"f": 1.5, "object_id": "456"})
    assert uin is not None
    add(uin.job, moved=True)
    add(enq.enqueue_unique_by_key("ia_bykey", {"payload": "p1"}, {"k": "key1"}))
    byin = enq.enqueue_unique_in_by_key("ia_bykey_in", 0, {"payload": "q1"}, {"k": "key2", "n": 7})
    assert byin is not None
    add(byin.job, moved=True)
    add(enq.enqueue_with_options("ia_opts", {"n": 1}, EnqueueOptions(retry=RetryOptions(3, BackoffStrategy.FIXED, 7))))
    add(enq.enqueue_with_options("ia_opts", {"n": 2}, EnqueueOptions(delay=0.5)), moved=True)
    add(enq.enqueue_with_options("ia_opts", {"n": 3}, EnqueueOptions(unique=True, unique_key={"u": 1})))
    for job in enq.enqueue_many(("ia_many", {"i": k, "s": "x" * 32}) for k in range(50)):
        add(job)
    names = sorted({j.name for j, _ in expected.values()})

    # When a Go worker pool registers those names and works until it has seen them all
    out = go_driver.work(namespace, names, expect=len(expected), concurrency="4")

    # Then each job ran exactly once, under its own name, with the args Go's helpers see
    assert not out["timed_out"]
    ran = [r["id"] for r in out["records"]]
    assert sorted(ran) == sorted(expected), "every Python job runs once, and nothing else runs"
    for record in out["records"]:
        job, moved = expected[record["id"]]
        assert record["name"] == job.name
        assert record["result"] == "ok"
        assert go_view(record["args"], False) == (None if job.args is None else go_view(job.args, moved))
        go_job = decode_job(json.dumps(record["job"]))  # the job as Go marshals it in the handler
        for key in job.args or {}:
            ours = comparable_getters(python_getters(go_job, key), go_job.args or {})
            theirs = comparable_getters(
                {k: v for k, v in record["getters"].items() if k.endswith(f"({key})")}, go_job.args or {}
            )
            assert ours == theirs, f"{job.name} {key}"

    # And Go released the unique lock of the args-unique job when it started it
    assert enq.enqueue_unique("ia_unique", {"a": "<&>", "object_id": "123", "z": 1}) is not None


def _sorted_jobs(page: dict[str, Any]) -> dict[str, Any]:
    return {"count": page["count"], "jobs": page["jobs"]}


def test_go_enqueued_jobs_are_listed_as_go_lists_them(
    go_driver: GoDriver, redis_server: RedisServer, namespace: str
) -> None:
    # Given jobs enqueued by Go (and some by Python) on one namespace
    calls = [
        {
            "call": "Enqueue",
            "job_name": "gb_plain",
            "args": RICH_ARGS | {"int_big": 12},
            "int_args": ["int", "neg", "zero"],
        },
        {"call": "Enqueue", "job_name": "gb_plain", "args": None},
        {"call": "EnqueueIn", "job_name": "gb_later", "args": {"when": "later"}, "seconds_from_now": 300},
        {"call": "EnqueueUnique", "job_name": "gb_unique", "args": {"k": "<v>"}},
        {"call": "EnqueueUniqueIn", "job_name": "gb_unique_in", "args": {"f": 0.5}, "seconds_from_now": 600},
        {"call": "Enqueue", "job_name": "gb_fail", "args": {"why": "dies"}},
        {"call": "Enqueue", "job_name": "gb_retry", "args": {"why": "retries"}},
    ]
    results = go_driver.enqueue(namespace, calls)
    assert all(r["error"] == "" and r["returned"] for r in results)
    enq = Enqueuer(namespace, redis_server.url)
    enq.enqueue_in("py_later", 120, {"from": "python"})
    enq.enqueue("py_plain", {"from": "python"})
    # ... and a Go pool that kills one job and sends another to retry
    out = go_driver.work(
        namespace, ["gb_fail", "gb_retry"], expect=2, fail="gb_fail,gb_retry", maxfails="gb_fail=1,gb_retry=3"
    )
    assert not out["timed_out"]

    # When both clients list the namespace
    client = Client(namespace, redis_server.url)
    go_lists = go_driver.list(namespace)
    queues = [json.loads(q.to_json()) for q in client.queues()]
    scheduled, s_total = client.scheduled_jobs(1)
    retry, r_total = client.retry_jobs(1)
    dead, d_total = client.dead_jobs(1)

    # Then they agree field for field (latency is "now - t", read a moment apart)
    assert [dict(q, latency=0) for q in queues] == [dict(q, latency=0) for q in go_lists["queues"]]
    for ours, theirs in zip(queues, go_lists["queues"]):
        assert abs(ours["latency"] - theirs["latency"]) <= 2
    assert {"count": s_total, "jobs": [json.loads(j.to_json()) for j in scheduled]} == _sorted_jobs(
        go_lists["scheduled"]
    )
    assert {"count": r_total, "jobs": [json.loads(j.to_json()) for j in retry]} == _sorted_jobs(go_lists["retry"])
    assert {"count": d_total, "jobs": [json.loads(j.to_json()) for j in dead]} == _sorted_jobs(go_lists["dead"])
    assert s_total == 3 and r_total == 1 and d_total == 1
    assert [json.loads(h.to_json()) for h in client.worker_pool_heartbeats()] == (
        go_lists["worker_pool_heartbeats"] or []
    )


def test_dead_and_scheduled_jobs_are_managed_across_languages(
    go_driver: GoDriver, redis_server: RedisServer, namespace: str, redis_client: redis.Redis
) -> None:
    # Given two dead jobs written by a Go worker
    go_driver.enqueue(namespace, [{"call": "Enqueue", "job_name": "xd", "args": {"n": n}} for n in (1, 2)])
    out = go_driver.work(namespace, ["xd"], expect=2, fail="xd", maxfails="xd=1")
    assert not out["timed_out"]
    client = Client(namespace, redis_server.url)
    dead, total = client.dead_jobs()
    assert total == 2

    # When Python retries one and Go deletes the other
    client.retry_dead_job(dead[0].died_at, dead[0].job.id)
    assert go_driver.client(namespace, "delete_dead_job", dead[1].died_at, dead[1].job.id) == ""

    # Then the retried job is back on its queue with fresh attempts, and dead is empty for both
    queued = [decode_job(b) for b in redis_client.lrange(client.keys.jobs("xd"), 0, -1)]
    assert [j.id for j in queued] == [dead[0].job.id]
    assert queued[0].fails == 0 and queued[0].last_err == ""
    assert go_driver.list(namespace)["dead"]["count"] == 0
    assert client.dead_jobs()[1] == 0

    # Given a scheduled unique job from Python, Go's client deletes it and frees its lock
    enq = Enqueuer(namespace, redis_server.url)
    sj = enq.enqueue_unique_in("xs", 300, {"k": 1})
    assert sj is not None
    assert go_driver.client(namespace, "delete_scheduled_job", sj.run_at, sj.job.id) == ""
    assert client.scheduled_jobs()[1] == 0
    assert enq.enqueue_unique_in("xs", 300, {"k": 1}) is not None
    # ... and Python's client reports ErrNotDeleted's condition for what Go already removed
    assert "nothing deleted" in go_driver.client(namespace, "delete_scheduled_job", sj.run_at, sj.job.id)


UNIQUE_ARGS: list[dict[str, Any] | None] = [
    {"b": "cool", "a": 1},
    {"z": 1, "object_id": "123", "a": "<&>"},
    {"f": 1.5, "tiny": 1e-7, "big": 1e21, "whole": 2.0},
    {"nested": {"y": [1, {"b": 2, "a": 1}], "x": "\u2028"}, "u": "日本"},
    {},
    None,
]


@pytest.mark.parametrize("direction", ["python-first", "go-first"])
def test_unique_jobs_collide_across_languages(
    go_driver: GoDriver, redis_server: RedisServer, namespace: str, direction: str
) -> None:
    enq = Enqueuer(namespace, redis_server.url)
    for i, args in enumerate(UNIQUE_ARGS):
        name, name_in = f"u{i}", f"uin{i}"
        go_calls = [
            {"call": "EnqueueUnique", "job_name": name, "args": args, "int_args": _ints(args)},
            {
                "call": "EnqueueUniqueIn",
                "job_name": name_in,
                "args": args,
                "seconds_from_now": 60,
                "int_args": _ints(args),
            },
        ]
        if direction == "python-first":
            assert enq.enqueue_unique(name, args) is not None
            assert enq.enqueue_unique_in(name_in, 60, args) is not None
            results = go_driver.enqueue(namespace, go_calls)
            assert [r["returned"] for r in results] == [None, None], f"Go sees Python's lock for {args}"
            assert [r["error"] for r in results] == ["", ""]
        else:
            results = go_driver.enqueue(namespace, go_calls)
            assert all(r["returned"] is not None for r in results)
            assert enq.enqueue_unique(name, args) is None, f"Python sees Go's lock for {args}"
            assert enq.enqueue_unique_in(name_in, 60, args) is None
    # nil and {} are different keys in both languages
    assert enq.enqueue_unique("u5", {}) is not None

    # And by key (a key map apart from the args; nil keys by the args), on both sides
    for i, key_map in enumerate(UNIQUE_ARGS):
        name, name_in, payload = f"k{i}", f"kin{i}", {"payload": i}
        ints = {"int_args": ["payload"], "int_key_map": _ints(key_map)}
        go_calls = [
            {"call": "EnqueueUniqueByKey", "job_name": name, "args": payload, "key_map": key_map, **ints},
            {
                "call": "EnqueueUniqueInByKey",
                "job_name": name_in,
                "args": payload,
                "key_map": key_map,
                "seconds_from_now": 60,
                **ints,
            },
        ]
        if direction == "python-first":
            assert enq.enqueue_unique_by_key(name, payload, key_map) is not None
            assert enq.enqueue_unique_in_by_key(name_in, 60, payload, key_map) is not None
            results = go_driver.enqueue(namespace, go_calls)
            assert [(r["returned"], r["error"]) for r in results] == [(None, "")] * 2, f"Go sees the key {key_map}"
        else:
            results = go_driver.enqueue(namespace, go_calls)
            assert all(r["returned"] is not None and r["error"] == "" for r in results), results
            assert enq.enqueue_unique_by_key(name, payload, key_map) is None, f"Python sees the key {key_map}"
            assert enq.enqueue_unique_in_by_key(name_in, 60, payload, key_map) is None


def _ints(args: dict[str, Any] | None) -> list[str]:
    return [k for k, v in (args or {}).items() if type(v) is int]


def test_go_heartbeats_and_observations_read_by_python(
    go_driver: GoDriver, redis_server: RedisServer, namespace: str
) -> None:
    # Given a Go pool busy with a job that checked in
    enq = Enqueuer(namespace, redis_server.url)
    job = enq.enqueue("hb_slow", {"x": "<1>"})
    proc = go_driver.start_work(
        namespace,
        ["hb_slow"],
        expect="1",
        timeout="30",
        sleep_ms="hb_slow=4000",
        checkin="hb_slow=half way",
        concurrency="3",
    )
    client = Client(namespace, redis_server.url)
    try:
        deadline = time.monotonic() + 15
        busy = []
        while time.monotonic() < deadline:
            busy = [o for o in client.worker_observations() if o.is_busy and o.checkin]
            if busy:
                break
            time.sleep(0.1)
        assert busy, "the Go worker's observation and check-in become visible"

        # When both clients read pools and workers
        go_lists = go_driver.list(namespace)
        ours_pools = [json.loads(h.to_json()) for h in client.worker_pool_heartbeats()]
        ours_workers = [json.loads(o.to_json()) for o in client.worker_observations()]
    finally:
        proc.communicate(timeout=60)

    # Then they agree (a beat may land between the two reads)
    theirs_pools = go_lists["worker_pool_heartbeats"]
    assert len(ours_pools) == len(theirs_pools) == 1
    assert abs(ours_pools[0].pop("heartbeat_at") - theirs_pools[0].pop("heartbeat_at")) <= 5
    assert ours_pools == theirs_pools
    assert ours_pools[0]["job_names"] == ["hb_slow"] and ours_pools[0]["concurrency"] == 3
    assert ours_workers == go_lists["worker_observations"]
    (obs,) = busy
    assert obs.job_id == job.id and obs.checkin == "half way"
    assert json.loads(obs.args_json) == {"x": "<1>"} and "\\u003c" in obs.args_json
    assert not math.isnan(obs.started_at)


@pytest.mark.parametrize("direction", ["python-first", "go-first"])
def test_a_unique_by_key_resubmission_replaces_the_queued_job_across_languages(
    go_driver: GoDriver, redis_server: RedisServer, redis_client: redis.Redis, namespace: str, direction: str
) -> None:
    """By key, a duplicate is refused but replaces the held job: the pool runs the latest args.
    The first side enqueues, the other resubmits (EnqueueUniqueByKey, and on the fork
    EnqueueWithOptions with a unique key), and the first side's pool runs the one job."""
    enq = Enqueuer(namespace, redis_server.url)
    key = {"account": 7, "kind": "<sync>"}
    go_calls: list[dict[str, Any]] = [
        {"call": "EnqueueUniqueByKey", "job_name": "ubk", "args": {"v": 2}, "key_map": key, "int_key_map": ["account"]}
    ]
    if go_driver.lib == "fork":
        options = {"unique": True}
        go_calls.append(
            {"call": "EnqueueWithOptions", "job_name": "ubk", "args": {"v": 3}, "key_map": key, "options": options}
        )
    last = len(go_calls) + 1  # the args a Go run must see: the last resubmission's

    if direction == "python-first":
        first = enq.enqueue_unique_by_key("ubk", {"v": 1}, key)
        assert first is not None
        results = go_driver.enqueue(namespace, go_calls)
        assert [(r["returned"], r["error"]) for r in results] == [(None, "")] * len(go_calls), "Go sees the lock"
        # Then a Go pool runs one job: Python's id in the queue, the latest args from the lock
        out = go_driver.work(namespace, ["ubk"], expect=1)
        (record,) = out["records"]
        assert record["args"] == {"v": last}
        assert record["unique_key"] == first.unique_key
    else:
        (made,) = go_driver.enqueue(namespace, [dict(go_calls[0], args={"v": 1})])
        assert made["error"] == "" and made["returned"]["args"] == {"v": 1}
        assert made["returned"]["unique_key"] == Keys(namespace).unique("ubk", key)
        assert enq.enqueue_unique_by_key("ubk", {"v": 2}, key) is None, "Python sees Go's lock"
        assert enq.enqueue_with_options("ubk", {"v": 3}, EnqueueOptions(unique=True, unique_key=key)) is None
        # Then a Python pool runs one job, with the latest args
        seen: list[Any] = []
        pool = WorkerPool(1, namespace, redis_server.url).job("ubk", lambda job: seen.append((job.id, job.args)))
        pool.start()
        try:
            assert pool.drain(10)
        finally:
            pool.stop()
            pool.close()
        assert [args for _, args in seen] == [{"v": 3}]
    assert redis_client.llen(Keys(namespace).jobs("ubk")) == 0
    assert redis_client.keys(f"{namespace}:unique:*") == [], "the run released the lock"
