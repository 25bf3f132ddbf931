"""Every enqueue call recorded from the real Go libraries, replayed here byte for byte.

The vectors in tests/data/vectors (a copy of the data the project was given) were dumped by gocraft/work and LarnTechKe/work themselves. Given
the same clock and ids, our enqueuer must leave the same keys, types, TTLs, members, scores and
values, and return the same JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from work_compat import BackoffStrategy, EnqueueOptions, Enqueuer, ManualClock, RetryOptions, decode_job

# shared/ lies beside the repository, here and in CI.
VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors"

STRATEGIES = {
    "exponential": BackoffStrategy.EXPONENTIAL,
    "linear": BackoffStrategy.LINEAR,
    "fixed": BackoffStrategy.FIXED,
}


def load(name: str) -> dict[str, Any]:
    path = VECTORS / name
    assert path.exists(), f"golden vectors missing at {path}"
    return json.loads(path.read_text())


def stored_unique_ids(keys: list[dict[str, Any]]) -> dict[str, str]:
    """Job name -> id of the job held as a by-key unique value (the duplicates' ids)."""
    out = {}
    for k in keys:
        if k["type"] == "string" and k["value"].startswith("{"):
            held = json.loads(k["value"])
            out[held["name"]] = held["id"]
    return out


def id_sequence(calls: list[dict[str, Any]], held: dict[str, str]) -> Iterator[str]:
    for i, call in enumerate(calls):
        if call["returned"] is not None:
            yield call["returned"]["id"]
        elif call["job_name"] in held:
            yield held[call["job_name"]]
        else:
            yield f"{i:024x}"  # an args-unique duplicate: its id is stored nowhere


def replay(enq: Enqueuer, call: dict[str, Any]) -> Any:
    kind, name, args = call["call"], call["job_name"], call["args"]
    opts = call.get("options", {})
    if kind == "Enqueue":
        return enq.enqueue(name, args)
    if kind == "EnqueueIn":
        return enq.enqueue_in(name, opts["seconds_from_now"], args)
    if kind == "EnqueueUnique":
        return enq.enqueue_unique(name, args)
    if kind == "EnqueueUniqueIn":
        return enq.enqueue_unique_in(name, opts["seconds_from_now"], args)
    if kind == "EnqueueUniqueByKey":
        return enq.enqueue_unique_by_key(name, args, opts["key_map"])
    if kind == "EnqueueUniqueInByKey":
        return enq.enqueue_unique_in_by_key(name, opts["seconds_from_now"], args, opts["key_map"])
    if kind.startswith("EnqueueWithOptions"):
        retry = None
        if "retry" in opts:
            r = opts["retry"]
            retry = RetryOptions(
                max_retries=r.get("max_retries", 0),
                strategy=STRATEGIES[r.get("strategy", "exponential")],
                base_delay=r.get("base_delay", 0),
            )
        options = EnqueueOptions(
            delay=opts.get("delay_s", 0),
            retry=retry,
            unique=opts.get("unique", False),
            unique_key=opts.get("unique_key"),
        )
        return enq.enqueue_with_options(name, args, options)
    raise AssertionError(f"unknown call {kind}")


def returned_json(value: Any) -> Any:
    return None if value is None else json.loads(value.to_json())


def dump_namespace(client: redis.Redis, prefix: str) -> list[dict[str, Any]]:
    """The keys under ``prefix`` in the vectors' dump format."""
    out = []
    for key in sorted(client.keys(prefix + "*")):
        typ = client.type(key).decode()
        entry: dict[str, Any] = {"key": key.decode(), "type": typ, "ttl_s": client.ttl(key)}
        if typ == "list":
            entry["value"] = [v.decode() for v in client.lrange(key, 0, -1)]
        elif typ == "set":
            entry["value"] = sorted(v.decode() for v in client.smembers(key))
        elif typ == "zset":
            entry["value"] = [
                {"member": m.decode(), "score": str(int(s))} for m, s in client.zrange(key, 0, -1, withscores=True)
            ]
        elif typ == "string":
            entry["value"] = client.get(key).decode()
        out.append(entry)
    return out


@pytest.mark.parametrize("vector_file", ["gocraft-keys.json", "fork-keys.json"])
def test_enqueue_calls_reproduce_go_bytes(redis_client: redis.Redis, redis_server: Any, vector_file: str) -> None:
    vec = load(vector_file)
    phase = vec["phase1_enqueue"]
    calls, expected_keys = phase["calls"], phase["keys"]
    ids = id_sequence(calls, stored_unique_ids(expected_keys))
    clock = ManualClock(calls[0]["at_epoch"])
    enq = Enqueuer(vec["namespace"], redis_server.url, clock=clock, make_id=lambda: next(ids))

    for call in calls:
        clock.set(call["at_epoch"])
        got = replay(enq, call)
        assert returned_json(got) == call["returned"], f"{call['call']} {call['job_name']}"
        if got is not None:  # the return value's bytes are Go's too
            job = getattr(got, "job", got)
            assert decode_job(job.to_bytes()) == job

    actual = dump_namespace(redis_client, enq.keys.prefix)
    # TTLs count down while the test runs; Go's dump was taken at once.
    for entry in actual:
        if entry["ttl_s"] > 0:
            assert 86390 <= entry["ttl_s"] <= 86400
            entry["ttl_s"] = 86400
    assert [k["key"] for k in actual] == sorted(k["key"] for k in expected_keys)
    by_key = {k["key"]: k for k in expected_keys}
    for entry in actual:
        want = dict(by_key[entry["key"]])
        if entry["type"] == "zset":  # the dump lists members by score, ties by bytes: as Redis does
            want["value"] = sorted(want["value"], key=lambda m: (int(m["score"]), m["member"].encode()))
        assert entry == want, entry["key"]
