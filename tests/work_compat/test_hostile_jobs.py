"""Hostile job bytes (hypothesis): whatever a foreign producer writes, decoding gives a Job or a
DecodeError and nothing else, a decoded job encodes again, and every listing shows the entry (as raw
text when it is not a job) instead of failing: the Client's pages and the dashboard's routes.

A pool in this process runs the same hostile bytes: each entry either runs or goes to dead, and
nothing stays in progress. Worker processes with the issue's poison job are in
tests/faults/test_poison_jobs.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webui.conftest import WebTestCase
from tests.work_compat.conftest import FAST
from work_compat import DecodeError, Job, Keys, Semantics, WorkerPool, decode_job
from work_compat.gojson import MAX_DEPTH

ID = "0123456789abcdef01234567"


def _nested(depth: int, leaf: bytes = b"1") -> bytes:
    return b'{"a":' * depth + leaf + b"}" * depth if depth % 2 else b"[" * depth + leaf + b"]" * depth


def _job_with_args(args_json: bytes, name: bytes = b'"hostile"') -> bytes:
    return b'{"name":' + name + b',"id":"' + ID.encode() + b'","t":1700000000,"args":{"x":' + args_json + b"}}"


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
json_values = st.recursive(
    json_scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4), max_leaves=20
)

# Text a JSON decoder may choke on: escapes of lone surrogates, numbers out of every range, deep
# nesting around the limit and far past it (the 3,000-level job of the issue), bad UTF-8.
hostile_fragments = st.sampled_from(
    [
        b'"\\ud800"',
        b'"\\udc00\\ud800x"',
        b'{"\\udfff":"\\ud83d\\ude00"}',
        b"1e400",
        b"-1e400",
        b"1" * 400,
        b"1" * 5000,
        b"0.1e-400",
        b"NaN",
        b"Infinity",
        b'"\xff\xfe\xc3\x28"',
        b'"\xed\xa0\x80"',
        b"\x00",
        b'"\\u0000"',
        b"[]" * 50,
        _nested(MAX_DEPTH - 5),
        _nested(MAX_DEPTH + 5),
        _nested(3000),
        b"[" * 3000,
        b"{" * 3000,
        b'"' + b"[" * 3000 + b'"',
    ]
)
whole_entries = st.sampled_from(
    [
        b"",
        b"null",
        b"[]",
        b'"a job"',
        b"{" * 3000,
        _nested(3000),
        b'{"name":"hostile","id":"' + ID.encode() + b'","t":1.5,"args":{}}',
        b'{"name":"hostile","id":"' + ID.encode() + b'","t":99999999999999999999,"args":{}}',
        b'{"name":"hostile","fails":-1,"unique":"yes"}',
        b'{"NAME":"hostile","ID":"' + ID.encode() + b'","Args":{"a":1}}',
        b'{"name":"\\ud800","args":{"\\udc00":1}}',
    ]
)


@st.composite
def hostile_bytes(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        return draw(whole_entries)
    if kind == 2:
        return _job_with_args(draw(hostile_fragments))
    if kind == 3:
        name = draw(st.sampled_from([b'"hostile"', b'"\\ud800"', b"5", b"null", b'""', b'"a:b"', b'"\\u0000"']))
        return _job_with_args(json.dumps(draw(json_values)).encode(), name)
    good = _job_with_args(json.dumps(draw(json_values)).encode())
    cut = draw(st.integers(0, len(good)))
    return good[:cut] + draw(st.binary(max_size=8)) + good[cut:]


def check_decodes_or_refuses(raw: bytes) -> Job | None:
    """decode_job's whole contract: a Job that encodes again, or a DecodeError keeping the bytes."""
    try:
        job = decode_job(raw)
    except DecodeError as err:
        assert err.data == raw
        assert err.reason
        return None
    again = decode_job(job.to_bytes())  # what a worker writes back (retry, dead) decodes again...
    assert decode_job(again.to_bytes()).to_bytes() == again.to_bytes()  # ...and is then stable
    return job


@given(hostile_bytes())
@settings(max_examples=400, deadline=None)
def test_any_bytes_decode_to_a_job_or_a_decode_error(raw: bytes) -> None:
    check_decodes_or_refuses(raw)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 3000, 100_000])
def test_a_job_nested_past_the_limit_is_refused_with_a_clear_error(depth: int) -> None:
    with pytest.raises(DecodeError, match=f"nested more than {MAX_DEPTH} levels"):
        decode_job(_job_with_args(_nested(depth)))


def test_nesting_up_to_the_limit_decodes_even_from_a_deep_call_stack() -> None:
    raw = b'{"name":"n","args":{"a":' + b"[" * (MAX_DEPTH - 2) + b"]" * (MAX_DEPTH - 2) + b"}}"  # MAX_DEPTH deep

    def deep(n: int) -> Job:
        return deep(n - 1) if n else decode_job(raw)

    job = deep(200)
    assert decode_job(job.to_bytes()) == job


def test_lone_surrogate_escapes_decode_to_the_replacement_character_as_in_go() -> None:
    job = decode_job(b'{"name":"n\\ud800","id":"x","t":1,"args":{"\\udc00":"\\ud83d\\ude00\\ud83d"}}')
    assert job.name == "n\ufffd"
    assert job.args == {"\ufffd": "\U0001f600\ufffd"}


def test_numbers_out_of_the_float64_range_are_refused_as_go_refuses_them() -> None:
    with pytest.raises(DecodeError, match="out of the float64 range"):
        decode_job(_job_with_args(b"1e400"))


@pytest.fixture
def hostile_pool(make_pool: Callable[..., WorkerPool]) -> Iterator[tuple[WorkerPool, list[str]]]:
    """A started pool of 2 workers handling ``hostile`` (ORIG semantics: a job of another name in
    its queue is dead at once); the list collects the ids its handler ran."""
    ran: list[str] = []
    lock = threading.Lock()

    def handler(job: Job) -> None:
        with lock:
            ran.append(job.id)

    pool = make_pool(2, settings=replace(FAST, semantics=Semantics.ORIG))
    pool.job("hostile", handler)
    pool.start()
    yield pool, ran


@given(entries=st.lists(hostile_bytes(), min_size=1, max_size=8, unique=True))  # equal dead members would merge
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_pool_runs_or_buries_any_bytes(
    entries: list[bytes], hostile_pool: tuple[WorkerPool, list[str]], redis_client: redis.Redis
) -> None:
    pool, ran = hostile_pool
    k: Keys = pool.keys
    redis_client.delete(k.dead(), k.history(), k.jobs_lock("hostile"), k.jobs_lock_info("hostile"))
    ran.clear()
    redis_client.rpush(k.jobs("hostile"), *entries)
    assert pool.drain(20)
    assert redis_client.llen(k.jobs("hostile")) == 0
    assert redis_client.llen(k.jobs_in_progress("hostile", pool.pool_id)) == 0
    assert int(redis_client.get(k.jobs_lock("hostile")) or 0) == 0
    assert redis_client.zcard(k.retry()) == 0
    dead = [decode_job(raw) for raw in redis_client.zrange(k.dead(), 0, -1)]
    assert len(ran) + len(dead) == len(entries)
    for job in dead:  # not a job, or a job no handler here takes: the reason is kept
        assert job.last_err


class TestListings(WebTestCase):
    """Hostile members in every sorted set and queue: the Client's pages and the dashboard's routes
    answer, and a member that is not a job is shown with its raw text."""

    ROUTES = (
        "/api/dead_jobs",
        "/api/retry_jobs",
        "/api/scheduled_jobs",
        "/api/queues",
        "/api/dashboard",
        "/api/tasks",
        "/api/tasks?state=FAILURE",
        "/api/task/types",
        f"/api/task/info/{ID}",
        "/api/queues/length",
        "/metrics",
        "/dead",
        "/retry",
        "/scheduled",
        "/tasks",
        "/queues",
        "/",
        f"/task/{ID}",
    )

    def _store(self, entries: list[bytes]) -> None:
        self.r.delete(self.keys.dead(), self.keys.retry(), self.keys.scheduled(), self.keys.jobs("hostile"))
        self.r.sadd(self.keys.known_jobs(), "hostile")
        for i, raw in enumerate(entries):
            for key in (self.keys.dead(), self.keys.retry(), self.keys.scheduled()):
                self.r.zadd(key, {raw: 1_800_000_000 + i})
            self.r.lpush(self.keys.jobs("hostile"), raw)

    @given(st.lists(hostile_bytes(), min_size=1, max_size=6, unique=True))
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def test_listings_never_fail_on_one_bad_entry(self, entries: list[bytes]) -> None:
        self._store(entries)
        shown: list[Any] = []
        for page in (self.client.dead_jobs, self.client.retry_jobs, self.client.scheduled_jobs):
            items, total = page(1)
            assert total == len(entries)
            assert len(items) == len(entries)
            shown += items
        self.client.queues()
        for item in shown:
            raw_text = (item.job.args or {}).get("raw") if not item.job.id else None
            if raw_text is not None:  # a stand-in: the entry's text, and why it is not a job
                assert item.job.last_err
        for path in self.ROUTES:
            resp = self.fetch(path)
            assert resp.code < 500, (path, resp.code, resp.body[:300])

    def test_the_issue_poison_job_is_listed_as_raw_text(self) -> None:
        raw = _job_with_args(_nested(3000))
        self._store([raw])
        items, total = self.client.dead_jobs(1)
        assert total == 1
        assert items[0].job.args == {"raw": raw.decode()}
        assert "nested more than" in items[0].job.last_err
        resp = self.fetch("/api/dead_jobs")
        assert resp.code == 200
        body = json.loads(resp.body)
        assert body["count"] == 1
        for path in self.ROUTES:
            assert self.fetch(path).code < 500, path
