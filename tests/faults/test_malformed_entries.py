"""Scenario 3: a foreign producer writes entries that are not jobs, while a pool works.

Into the queue ``P jobs:known``: text that is not JSON, a JSON array, ``{"name": 5}``, ``args`` as
an array, ``t`` as a float (``1.7e9``), a job without a name, invalid UTF-8. Each must end in
``P dead`` as a valid job that work_compat's Client lists: name = the queue's job name, a new
24-hex id, ``args = {"raw": <the original text>}`` and an ``err`` saying what was wrong; the lock
counters stay consistent and valid jobs pushed after them still run.

The same kinds ZADDed into ``P scheduled`` and ``P retry`` (due now) end in dead as valid jobs
too (those without a usable name have no queue to name them by), and do not block due jobs
scored after them.

The scenario runs once (module fixture); each test checks one part of its outcome.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.faults.conftest import HEX24, leftovers, wait_for
from tests.faults.jobs import FAST_BACKOFFS, SETTINGS
from work_compat import Client, DeadJob, Enqueuer, Job, WorkerPool, make_identifier
from work_compat.embedded import EmbeddedRedis

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]

ID = "0123456789abcdef01234567"

# kind -> (entry, words the err must contain when a worker buries it)
KINDS: dict[str, tuple[bytes, str]] = {
    "not_json": (b"this is not JSON {", "not JSON"),
    "json_array": (b'["known", {"i": 1}]', "array"),
    "name_is_a_number": (b'{"name":5,"id":"' + ID.encode() + b'","t":1700000000,"args":{}}', "'name'"),
    "args_is_an_array": (b'{"name":"known","id":"' + ID.encode() + b'","t":1700000000,"args":[1,2]}', "'args'"),
    "t_is_a_float": (b'{"name":"known","id":"' + ID.encode() + b'","t":1.7e9,"args":{}}', "'t'"),
    "missing_name": (b'{"id":"' + ID.encode() + b'","t":1700000000,"args":{"x":1}}', "name"),
    "invalid_utf8": (b"\xff\xfe\xc3\x28 not UTF-8 \xed\xa0\x80", "not JSON"),
}
# What a requeuer can tell from a sorted-set member (it can only move members with a string name;
# the others it buries itself).
ZSET_ERR = {
    "not_json": "JSON",
    "json_array": "name",
    "name_is_a_number": "name",
    "args_is_an_array": "'args'",
    "t_is_a_float": "'t'",
    "missing_name": "name",
    "invalid_utf8": "JSON",
}
ZSETS = ("scheduled", "retry")


def tagged(entry: bytes, tag: str) -> bytes:
    """The entry made unique per sorted set (so two sets' members stay two dead members)."""
    if entry.startswith(b"{"):
        return b'{"tag":"' + tag.encode() + b'",' + entry[1:]
    if entry.startswith(b"["):
        return b'["' + tag.encode() + b'",' + entry[1:]
    return entry + b" " + tag.encode()


def text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


@dataclass
class Outcome:
    dead: list[DeadJob]
    ran: Counter[int]
    valid: set[int]
    leftovers: dict[str, object]
    lock: int | None
    lock_info: dict[bytes, bytes]
    pool_id: str
    started_at: int

    def dead_for(self, raw: bytes) -> list[DeadJob]:
        return [d for d in self.dead if (d.job.args or {}).get("raw") == text(raw)]


@pytest.fixture(scope="module")
def outcome(fault_redis: EmbeddedRedis) -> Iterator[Outcome]:
    ns = f"f{uuid.uuid4().hex[:10]}"
    ran: Counter[int] = Counter()
    lock = threading.Lock()

    def handler(job: Job) -> None:
        time.sleep(0.02)
        with lock:
            ran[job.arg_int64("i")] += 1

    pool = WorkerPool(2, ns, fault_redis.url, settings=SETTINGS, sleep_backoffs=FAST_BACKOFFS)
    pool.job("known", handler)
    keys = pool.keys
    rc = fault_redis.client()
    enq = Enqueuer(ns, fault_redis.url)
    client = Client(ns, fault_redis.url)
    started_at = int(time.time())
    try:
        enq.enqueue_many(("known", {"i": i}) for i in range(20))
        pool.start()
        wait_for("the pool to work", lambda: len(ran) > 0, 10)
        for entry, _ in KINDS.values():
            rc.lpush(keys.jobs("known"), entry)
        enq.enqueue_many(("known", {"i": i}) for i in range(20, 40))  # pushed after the bad ones
        now = int(time.time())
        for zset in ZSETS:
            key = keys.scheduled() if zset == "scheduled" else keys.retry()
            rc.zadd(key, {tagged(entry, zset): now - 5 for entry, _ in KINDS.values()})
            i = 100 if zset == "scheduled" else 101  # due, scored after the bad members
            rc.zadd(key, {Job("known", make_identifier(), now, {"i": i}).to_bytes(): now - 1})
        valid = set(range(40)) | {100, 101}
        expected_dead = len(KINDS) * (1 + len(ZSETS))
        wait_for(
            "every valid job to run and every bad entry to be dead",
            lambda: set(ran) == valid and rc.zcard(keys.dead()) >= expected_dead,
            20,
            state=lambda: (sorted(valid - set(ran)), leftovers(rc, keys, ["known"])),
        )
        assert pool.drain(timeout=10)
        dead: list[DeadJob] = []
        page = 1
        while True:
            items, total = client.dead_jobs(page)
            dead += items
            if not items or len(dead) >= total:
                break
            page += 1
        yield Outcome(
            dead=dead,
            ran=ran,
            valid=valid,
            leftovers={k: v for k, v in leftovers(rc, keys, ["known"]).items() if k != keys.dead()},
            lock=int(rc.get(keys.jobs_lock("known")) or 0),
            lock_info=rc.hgetall(keys.jobs_lock_info("known")),
            pool_id=pool.pool_id,
            started_at=started_at,
        )
    finally:
        pool.stop(timeout=5)
        for thing in (pool, enq, client):
            thing.close()
        rc.close()


def check_dead_job(d: DeadJob, out: Outcome, raw: bytes, name: str, err_words: str) -> None:
    job = d.job
    assert HEX24.match(job.id), f"not a fresh 24-hex id: {job.id!r} ({d.to_json()})"
    assert job.id != ID
    assert job.name == name, d.to_json()
    assert job.args == {"raw": text(raw)}
    assert err_words.lower() in job.last_err.lower(), f"err {job.last_err!r} does not say {err_words!r}"
    assert job.fails >= 1
    assert out.started_at <= d.died_at <= int(time.time())


@pytest.mark.parametrize("kind", list(KINDS))
def test_queue_entry_ends_in_dead_as_a_valid_job(outcome: Outcome, kind: str) -> None:
    raw, err_words = KINDS[kind]
    found = outcome.dead_for(raw)
    assert len(found) == 1, f"{kind}: {len(found)} dead jobs carry it; dead: {[d.to_json() for d in outcome.dead]}"
    check_dead_job(found[0], outcome, raw, "known", err_words)


@pytest.mark.parametrize("zset", ZSETS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_zset_member_ends_in_dead_as_a_valid_job(outcome: Outcome, zset: str, kind: str) -> None:
    raw = tagged(KINDS[kind][0], zset)
    found = outcome.dead_for(raw)
    assert len(found) == 1, f"{zset} {kind}: {len(found)} dead jobs carry it"
    # A member with a string name reaches the queue and is buried by a worker, under the queue's
    # name; one without a usable name is buried by the requeuer and has no name to give.
    moved = kind in ("args_is_an_array", "t_is_a_float")
    check_dead_job(found[0], outcome, raw, "known" if moved else "", ZSET_ERR[kind])
    if not moved:
        assert f":{zset})" in found[0].job.last_err, found[0].job.last_err


def test_every_dead_job_has_its_own_id(outcome: Outcome) -> None:
    """Client.delete_dead_job / retry_dead_job find a dead job by (died_at, id): two buried
    entries sharing both are one entry to every client, Go's and ours."""
    ids = Counter((d.died_at, d.job.id) for d in outcome.dead)
    shared = {k: n for k, n in ids.items() if n > 1}
    assert not shared, f"dead jobs sharing (died_at, id): {shared}; " + "; ".join(
        d.to_json() for d in outcome.dead if (d.died_at, d.job.id) in shared
    )


def test_valid_jobs_still_run(outcome: Outcome) -> None:
    assert set(outcome.ran) == outcome.valid
    assert len(outcome.dead) == len(KINDS) * (1 + len(ZSETS)), [d.to_json() for d in outcome.dead]


def test_lock_counters_consistent_after_drain(outcome: Outcome) -> None:
    assert outcome.lock == 0
    assert {k.decode(): int(v) for k, v in outcome.lock_info.items()} == {outcome.pool_id: 0}
    assert outcome.leftovers == {}
