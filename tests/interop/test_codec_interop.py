"""The job encoder against Go's own bytes: many generated args, one Go enqueue each, compared raw.

Go enqueues each args map; the bytes Go LPUSHed are read straight from Redis, and work_compat must
produce exactly those bytes for a job with the same name, id, t and args (Go-JSON of float64 numbers,
HTML escaping, key order, U+2028/2029, control characters). Unique jobs (with their ``unique_key``)
and their lock keys are compared the same way.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import redis

from tests.interop.driver import GoDriver
from work_compat import Job, Keys, decode_job

pytestmark = pytest.mark.interop

ALPHABET = 'ab<>&"\\/\n\t\x00\x1f\x7f é✓日\u2028\u2029😀'


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:  # floats across Go's positional/exponent boundaries
        return rng.choice([1.0, -1.0]) * rng.choice([rng.random(), 10.0]) ** rng.randint(-30, 30) * rng.random()
    if kind == 3:
        return float(rng.randint(-(2**60), 2**60))
    if kind == 4:
        return rng.choice([0.0, 1e-6, 1e-7, 1e20, 1e21, 123456789012345678.0, 0.1, 2.5e-5])
    if kind == 5:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))
    if kind == 6:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {
        "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 4))): random_value(rng, depth + 1)
        for _ in range(rng.randint(0, 4))
    }


def test_job_bytes_and_unique_keys_equal_gos(go_driver: GoDriver, namespace: str, redis_client: redis.Redis) -> None:
    rng = random.Random(20261128)
    samples = [{f"k{i}": random_value(rng) for i in range(rng.randint(1, 5))} for _ in range(300)]
    calls = [{"call": "Enqueue", "job_name": "codec", "args": a} for a in samples]
    calls += [{"call": "EnqueueUnique", "job_name": "codec_u", "args": a} for a in samples[:100]]
    results = go_driver.enqueue(namespace, calls)
    assert all(r["error"] == "" for r in results)

    keys = Keys(namespace)
    raw = list(reversed(redis_client.lrange(keys.jobs("codec"), 0, -1)))  # oldest first
    assert len(raw) == len(samples)
    for go_bytes, args in zip(raw, samples):
        theirs = decode_job(go_bytes)
        ours = Job(name="codec", id=theirs.id, enqueued_at=theirs.enqueued_at, args=json.loads(json.dumps(args)))
        assert ours.to_bytes() == go_bytes, args

    # Go's lock keys are exactly the keys work_compat computes for the same args
    held = {k.decode("utf-8") for k in redis_client.keys(keys.prefix + "unique:*")}
    ours_keys = {keys.unique("codec_u", json.loads(json.dumps(a))) for a in samples[:100]}
    assert held == ours_keys

    # ... and a unique job's bytes, its unique_key included, are work_compat's (a repeated args
    # map was a duplicate, which Go did not enqueue)
    sent = {r["returned"]["id"]: a for r, a in zip(results[len(samples) :], samples) if r["returned"]}
    raw_u = redis_client.lrange(keys.jobs("codec_u"), 0, -1)
    assert len(raw_u) == len(sent) == len(held)
    for go_bytes in raw_u:
        theirs = decode_job(go_bytes)
        plain = json.loads(json.dumps(sent[theirs.id]))
        ours = Job(name="codec_u", id=theirs.id, enqueued_at=theirs.enqueued_at, args=plain, unique=True)
        ours.unique_key = keys.unique("codec_u", plain)
        assert ours.to_bytes() == go_bytes, plain
