"""The fork's per-job retry options, live across languages, both directions.

A job enqueued with ``EnqueueWithOptions`` carries ``max_retries``, ``backoff_type`` and
``backoff_base`` in its JSON; whichever pool runs it must retry it at the strategy's times and
kill it after ``max_retries`` runs, over the handler's own options. Go enqueues and a Python pool
runs, then Python enqueues and a Go pool runs; the retry members each side writes are watched
while the pools run (their score minus ``failed_at`` is the backoff the pool chose).

gocraft/work has no EnqueueWithOptions: its pools go by the handler's options and drop these
fields when they write the job back (the last test, for both libraries).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from tests.interop.driver import GoDriver
from tests.redis_server import RedisServer
from work_compat import (
    BackoffStrategy,
    EnqueueOptions,
    Enqueuer,
    Job,
    JobOptions,
    Keys,
    ManualClock,
    PoolSettings,
    RetryOptions,
    WorkerPool,
    decode_job,
)

pytestmark = pytest.mark.interop

# name -> (retry options, runs the test waits for)
# (Delays of 2 s or more: "failed_at" is whole seconds, so a retry member stays at least a second,
# long enough for the watch to see it.)
PLANS: dict[str, tuple[RetryOptions, int]] = {
    "ro_linear": (RetryOptions(3, BackoffStrategy.LINEAR, 2), 3),  # retried after 2 s, then 4 s; dead after run 3
    "ro_fixed": (RetryOptions(2, BackoffStrategy.FIXED, 2), 2),  # retried after 2 s; dead after run 2
    "ro_fixed_default": (RetryOptions(2, BackoffStrategy.FIXED, 0), 1),  # no base: 60 s, stays in retry
    "ro_exponential": (RetryOptions(3, BackoffStrategy.EXPONENTIAL, 0), 1),  # 16..74 s, stays in retry
}
ARGS = {"n": 1.5, "s": "<x>"}
HANDLER_MAX_FAILS = 10  # the handler's own limit, which the job's max_retries overrides


def go_options(retry: RetryOptions) -> dict[str, Any]:
    strategy = {BackoffStrategy.EXPONENTIAL: "exponential", BackoffStrategy.LINEAR: "linear"}
    return {
        "retry": {
            "max_retries": retry.max_retries,
            "strategy": strategy.get(retry.strategy, "fixed"),
            "base_delay": retry.base_delay,
        }
    }


def expected_backoff(retry: RetryOptions, fails: int) -> tuple[int, int]:
    """The (lowest, highest) delay the fork gives after failure number ``fails``."""
    base = retry.base_delay if retry.base_delay > 0 else 60
    if retry.strategy == BackoffStrategy.LINEAR:
        return base * fails, base * fails
    if retry.strategy == BackoffStrategy.FIXED:
        return base, base
    return fails**4 + 15, fails**4 + 15 + 29 * (fails + 1)


class RetryWatch:
    """Every distinct member of ``retry`` seen while a pool runs: job id -> [(fails, failed_at, score)]."""

    def __init__(self, r: redis.Redis, keys: Keys) -> None:
        self.r, self.keys = r, keys
        self.seen: dict[str, set[tuple[int, int, int]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for member, score in self.r.zrange(self.keys.retry(), 0, -1, withscores=True):
                job = decode_job(member)
                self.seen.setdefault(job.id, set()).add((job.fails, job.failed_at, int(score)))
            time.sleep(0.02)

    @contextmanager
    def running(self) -> Iterator[RetryWatch]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(5)


def check_outcome(
    r: redis.Redis, keys: Keys, ids: dict[str, str], watch: RetryWatch, runs: dict[str, list[tuple[int, float]]]
) -> None:
    """Each job ran as often as its plan says, with the plan's retry delays and no run before its
    retry was due; then it is dead or waits in retry. ``runs``: (fails, start epoch) of each run."""
    dead = {decode_job(m).id: decode_job(m) for m in r.zrange(keys.dead(), 0, -1)}
    retry = {decode_job(m).id: decode_job(m) for m in r.zrange(keys.retry(), 0, -1)}
    for name, (options, want_runs) in PLANS.items():
        job_id = ids[name]
        assert [fails for fails, _ in runs[name]] == list(range(want_runs)), f"{name}: the fails count of each run"
        seen = sorted(watch.seen.get(job_id, set()))
        assert [fails for fails, _, _ in seen] == list(range(1, want_runs + (0 if job_id in dead else 1))), name
        for fails, failed_at, score in seen:
            low, high = expected_backoff(options, fails)
            assert low <= score - failed_at <= high, f"{name}: retry {fails} after {score - failed_at} s"
            if fails < want_runs:
                assert runs[name][fails][1] >= score, f"{name}: run {fails + 1} started before its retry was due"
        final = dead.get(job_id) or retry[job_id]
        assert (final.max_retries, final.backoff_type) == (options.max_retries, options.strategy), name
        assert final.backoff_base == (options.base_delay or None), name
        assert final.args == ARGS, name
        if want_runs == options.max_retries:
            assert job_id in dead and final.fails == options.max_retries, f"{name} dies after its max_retries"
        else:
            assert job_id in retry and final.fails == want_runs, f"{name} waits in retry"


def test_go_enqueued_retry_options_rule_a_python_pool(
    fork_driver: GoDriver, redis_server: RedisServer, redis_client: redis.Redis, namespace: str
) -> None:
    # Given one job per strategy, enqueued by the fork's EnqueueWithOptions
    calls = [
        {"call": "EnqueueWithOptions", "job_name": name, "args": ARGS, "options": go_options(options)}
        for name, (options, _) in PLANS.items()
    ]
    results = fork_driver.enqueue(namespace, calls)
    assert all(r["error"] == "" for r in results), results
    ids = {c["job_name"]: r["returned"]["id"] for c, r in zip(calls, results)}
    keys = Keys(namespace)

    # ... whose bytes are what work_compat writes for the same call, id and second
    for name, (options, _) in PLANS.items():
        (raw,) = redis_client.lrange(keys.jobs(name), 0, -1)
        go_job = decode_job(raw)
        ours = Enqueuer(
            namespace + "py",
            redis_server.url,
            clock=ManualClock(go_job.enqueued_at),
            make_id=lambda job_id=go_job.id: job_id,
        )
        ours.enqueue_with_options(name, ARGS, EnqueueOptions(retry=options))
        assert redis_client.lindex(Keys(namespace + "py").jobs(name), 0) == raw, name

    # When a Python pool whose handlers fail (and allow 10 runs) works them
    runs: dict[str, list[tuple[int, float]]] = {name: [] for name in PLANS}

    def fail(job: Job) -> None:
        runs[job.name].append((job.fails, time.time()))
        raise RuntimeError("boom")

    pool = WorkerPool(4, namespace, redis_server.url, settings=PoolSettings(requeue_period=0.2))
    for name in PLANS:
        pool.job_with_options(name, JobOptions(max_fails=HANDLER_MAX_FAILS), fail)
    want = sum(n for _, n in PLANS.values())
    with RetryWatch(redis_client, keys).running() as watch:
        pool.start()
        try:
            deadline = time.monotonic() + 30
            while sum(map(len, runs.values())) < want or redis_client.zcard(keys.dead()) < 2:
                assert time.monotonic() < deadline, f"runs so far: {runs}"
                time.sleep(0.05)
        finally:
            pool.stop()
            pool.close()

    # Then each ran with the fork's delays and limits, not the handler's
    check_outcome(redis_client, keys, ids, watch, runs)


def test_python_enqueued_retry_options_rule_a_go_pool(
    fork_driver: GoDriver, redis_server: RedisServer, redis_client: redis.Redis, namespace: str
) -> None:
    # Given one job per strategy, enqueued by work_compat's enqueue_with_options
    enq = Enqueuer(namespace, redis_server.url)
    ids = {}
    for name, (options, _) in PLANS.items():
        job = enq.enqueue_with_options(name, ARGS, EnqueueOptions(retry=options))
        assert job is not None
        ids[name] = job.id
    keys = Keys(namespace)

    # When a Go pool whose handlers fail (and allow 10 runs) works until it ran each as planned
    want = sum(n for _, n in PLANS.values())
    flags = {
        "fail": ",".join(PLANS),
        "maxfails": ",".join(f"{n}={HANDLER_MAX_FAILS}" for n in PLANS),
        "sleep_backoffs": "0,10,50",  # idle workers poll every 50 ms (the library's default reaches 5 s)
    }
    with RetryWatch(redis_client, keys).running() as watch:
        out = fork_driver.work(namespace, list(PLANS), expect=want, timeout=40, **flags)
    assert not out["timed_out"]

    # Then each ran with the fork's delays and limits, not the handler's
    runs: dict[str, list[tuple[int, float]]] = {name: [] for name in PLANS}
    for record in sorted(out["records"], key=lambda rec: rec["started_at_ms"]):
        runs[record["name"]].append((record["fails"], record["started_at_ms"] / 1000))
        assert record["id"] == ids[record["name"]]
        assert json.loads(json.dumps(record["args"])) == ARGS
    check_outcome(redis_client, keys, ids, watch, runs)


def test_each_library_reads_or_drops_per_job_retry_options(
    go_driver: GoDriver, redis_server: RedisServer, redis_client: redis.Redis, namespace: str
) -> None:
    # Given a job allowed 2 runs, 1 s apart, by its own options, and a Go pool whose failing
    # handler allows 1 run
    options = RetryOptions(2, BackoffStrategy.FIXED, 1)
    job = Enqueuer(namespace, redis_server.url).enqueue_with_options("ro_own", ARGS, EnqueueOptions(retry=options))
    assert job is not None

    # When the Go pool runs it until it is dead
    keys = Keys(namespace)
    want = 2 if go_driver.lib == "fork" else 1
    out = go_driver.work(namespace, ["ro_own"], expect=want, timeout=20, fail="ro_own", maxfails="ro_own=1")
    assert not out["timed_out"] and [r["fails"] for r in out["records"]] == list(range(want))
    (raw,) = redis_client.zrange(keys.dead(), 0, -1)
    dead = decode_job(raw)
    if go_driver.lib == "fork":
        # Then the fork ran it twice, as the job says, and kept the options
        assert (dead.fails, dead.max_retries, dead.backoff_type, dead.backoff_base) == (2, 2, options.strategy, 1)
    else:
        # Then gocraft/work ran it once, as its handler says, and wrote it back without them
        assert dead.fails == 1 and (dead.max_retries, dead.backoff_type, dead.backoff_base) == (None, None, None)
        assert not {"max_retries", "backoff_type", "backoff_base"} & set(json.loads(raw))


# EnqueueWithOptions calls: (job name, args, key map, options as the driver takes them)
OPTION_CALLS: list[tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any]]] = [
    ("eo_plain", {"a": 0}, None, {}),
    ("eo_half_second", {"a": 1}, None, {"delay_seconds": 0.5}),
    ("eo_delay", {"a": 2}, None, {"delay_seconds": 3}),
    ("eo_unique", {"a": 3}, None, {"unique": True}),
    ("eo_unique_delay", {"a": 4}, None, {"unique": True, "delay_seconds": 5}),
    ("eo_by_key", {"a": 5}, {"k": "<1>"}, {"unique": True}),
    ("eo_by_key_delay", {"a": 6}, {"k": 2.5}, {"unique": True, "delay_seconds": 7}),
    ("eo_linear", {"a": 7}, None, {"retry": {"strategy": "linear"}}),
    ("eo_zeroes", {"a": 8}, None, {"retry": {"max_retries": 0, "strategy": "fixed", "base_delay": 0}}),
    (
        "eo_all",
        {"a": 9},
        {"k": [1, "x"]},
        {"unique": True, "delay_seconds": 1, "retry": {"max_retries": 4, "strategy": "exponential", "base_delay": 9}},
    ),
]


def namespace_state(r: redis.Redis, namespace: str) -> dict[bytes, Any]:
    """Every key of the namespace with its content (and a unique lock's TTL, to the hour)."""
    out: dict[bytes, Any] = {}
    for key in r.keys(f"{namespace}:*"):
        kind = r.type(key)
        if kind == b"list":
            out[key] = r.lrange(key, 0, -1)
        elif kind == b"zset":
            out[key] = r.zrange(key, 0, -1, withscores=True)
        elif kind == b"set":
            out[key] = sorted(r.smembers(key))
        else:
            out[key] = (r.get(key), r.ttl(key) // 3600)
    return out


def as_python_options(options: dict[str, Any], key_map: dict[str, Any] | None) -> EnqueueOptions:
    retry = options.get("retry")
    strategies = {"exponential": BackoffStrategy.EXPONENTIAL, "linear": BackoffStrategy.LINEAR}
    return EnqueueOptions(
        delay=options.get("delay_seconds", 0),
        unique=options.get("unique", False),
        unique_key=key_map,
        retry=None
        if retry is None
        else RetryOptions(
            retry.get("max_retries", 0),
            strategies.get(retry["strategy"], BackoffStrategy.FIXED),
            retry.get("base_delay", 0),
        ),
    )


def test_enqueue_with_options_writes_the_forks_bytes(
    fork_driver: GoDriver, redis_server: RedisServer, redis_client: redis.Redis, namespace: str
) -> None:
    # Given what the fork's EnqueueWithOptions wrote for every kind of call
    calls = [
        {"call": "EnqueueWithOptions", "job_name": name, "args": args, "key_map": key_map, "options": options}
        for name, args, key_map, options in OPTION_CALLS
    ]
    results = fork_driver.enqueue(namespace, calls)
    assert all(r["error"] == "" and r["returned"] for r in results), results
    go_state = namespace_state(redis_client, namespace)
    redis_client.delete(*go_state)

    # When work_compat makes the same calls, with Go's ids and seconds
    for (name, args, key_map, options), result in zip(OPTION_CALLS, results):
        job = result["returned"]
        enq = Enqueuer(
            namespace, redis_server.url, clock=ManualClock(job["t"]), make_id=lambda job_id=job["id"]: job_id
        )
        assert enq.enqueue_with_options(name, args, as_python_options(options, key_map)) is not None

    # Then the namespace holds the same keys with the same bytes and scores
    # (Go reads its clock again for a delayed job's score: it may be one second later)
    py_state = namespace_state(redis_client, namespace)
    scheduled = f"{namespace}:scheduled".encode()
    go_scheduled = dict(go_state.pop(scheduled))
    py_scheduled = dict(py_state.pop(scheduled))
    assert py_state == go_state
    assert set(py_scheduled) == set(go_scheduled)
    for member, score in py_scheduled.items():
        assert go_scheduled[member] - score in (0, 1), decode_job(member).name
