"""Our webui against the fork's real ``workwebui`` (LarnTechKe/work v0.0.3), route by route.

Both servers run on the same namespace of one redis-server, filled by the fork's Go library and by
work_compat (tests/webui/fork_world.py). Every route of the fork's webui.go is asked the same thing
of both, valid and invalid, and status, content type and body must be the same bytes; changes must
also leave the same keys. The differences that are on purpose are listed in ``DIFFERENCES`` and in
docs/dashboard.md ("Where the dashboard differs from workwebui, on purpose"), and asserted here as
Go's answer and ours. The fork's source comes from ``WORK_COMPAT_FORK_SRC`` (see tests/interop/golibs.py).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis

from tests.interop.driver import GoDriver, LibraryUnavailable, require_go
from tests.redis_server import RedisServer
from tests.webui.differential import (
    Answer,
    Change,
    Servers,
    array_elements,
    ask,
    fields_masked,
    masked_state,
    now_masked,
)
from tests.webui.fork_world import add_go_schedule, frozen_pools, write_go_data, write_python_data
from tests.webui.gofork import build_fork_programs, running_webui, running_workwebui
from tests.webui.workwebui_differences import DIFFERENCES, JSON, Differs, Prefix, err
from work_compat import Client, Job
from work_compat.embedded import free_port

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def fork_programs() -> tuple[Path, Path]:
    """The fork's workwebui and the fork interop driver, built once per session."""
    go = require_go("the workwebui differential tests")
    try:
        return build_fork_programs(go)
    except LibraryUnavailable as err:
        pytest.skip(str(err))


@dataclass
class World:
    """The filled namespace: both servers, its keys (as DUMPs to restore, and readable), and the
    path parts of the entries the cases act on (``refs``)."""

    servers: Servers
    snapshot: dict[bytes, tuple[bytes, int]]
    refs: dict[str, str]
    state: dict[str, Any]


def _refs(client: Client) -> dict[str, str]:
    """Path parts (``score/id``, ids) of entries the cases act on, found in what was written."""
    refs: dict[str, str] = {}

    def add(name: str, items: list[Any], score: str, pick: Callable[[Any], bool]) -> None:
        item = next((i for i in items if pick(i)), None)
        assert item is not None, f"the world has no entry for {name}"
        refs[name] = f"{getattr(item, score)}/{quote(item.job.id, safe='')}"
        refs[name + "_id"] = quote(item.job.id, safe="")
        refs[name + "_score"] = str(getattr(item, score))

    dead = client.dead_jobs(1)[0] + client.dead_jobs(2)[0]
    add("dead_go", dead, "died_at", lambda d: d.job.args.get("by") == "go")
    add("dead_py", dead, "died_at", lambda d: d.job.args.get("by") == "py")
    add("dead_odd", dead, "died_at", lambda d: "/" in d.job.id)
    add("dead_ghost", dead, "died_at", lambda d: d.job.name == "ghost")
    retry = client.retry_jobs(1)[0]
    add("retry_go", retry, "retry_at", lambda d: d.job.args.get("by") == "go")
    add("retry_py", retry, "retry_at", lambda d: d.job.args.get("by") == "py")
    scheduled = client.scheduled_jobs(1)[0] + client.scheduled_jobs(2)[0]
    add("sched_go", scheduled, "run_at", lambda s: s.job.args == {"k": "v"})
    add("sched_unique", scheduled, "run_at", lambda s: s.job.unique and s.job.args == {"u": 1})
    add("sched_bykey", scheduled, "run_at", lambda s: s.job.unique and s.job.args == {"a": 1})
    add("sched_py", scheduled, "run_at", lambda s: s.job.args.get("i") == 3)
    history = client.history_jobs(1)[0] + client.history_jobs(2)[0]
    add("hist_go", history, "completed_at", lambda h: h.job.args.get("by") == "go")
    add("hist_odd", history, "completed_at", lambda h: h.job.id.startswith("periodic:"))
    return refs


@contextmanager
def both_servers(programs: tuple[Path, Path], url: str, ns: str, logs: Path, r: redis.Redis) -> Iterator[Servers]:
    """The fork's workwebui and ours, serving namespace ``ns`` of the Redis at ``url``."""
    with (
        running_workwebui(programs[0], url, ns, logs / f"workwebui-{ns}.log") as go,
        running_webui(url, ns, ROOT, logs / f"webui-{ns}.log") as ours,
    ):
        yield Servers(go, ours, r, ns)


@pytest.fixture(scope="module")
def world(
    fork_programs: tuple[Path, Path], redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    ns = f"wdiff{uuid.uuid4().hex[:8]}"
    url = redis_server.url
    driver = GoDriver("fork", fork_programs[1], url)
    r = redis_server.client()
    client = Client(ns, url)
    try:
        with both_servers(fork_programs, url, ns, tmp_path_factory.mktemp("servers"), r) as servers:
            servers.clear()
            write_go_data(driver, ns)
            write_python_data(url, ns)
            with frozen_pools(driver, url, ns, ROOT):
                add_go_schedule(servers)
                yield World(servers, servers.snapshot(), _refs(client), servers.state())
    finally:
        client.close()
        r.close()


@pytest.fixture
def servers(world: World) -> Servers:
    """Both servers, with the namespace as the world left it (a previous case's change undone)."""
    world.servers.restore(world.snapshot)
    return world.servers


def path_of(world: World, template: str) -> str:
    return template.format(**world.refs)


def same(go: Answer, ours: Answer) -> None:
    """Status, content type and body, byte for byte (Go frames bodies over 2 KiB as chunked: not compared)."""
    assert (ours.status, ours.content_type) == (go.status, go.content_type), (go, ours)
    assert ours.body == go.body, first_difference(go.body, ours.body)


def first_difference(go: bytes, ours: bytes) -> str:
    at = next((i for i, (a, b) in enumerate(zip(go, ours)) if a != b), min(len(go), len(ours)))
    return f"bodies differ at byte {at}: Go {go[at - 80 : at + 80]!r}, ours {ours[at - 80 : at + 80]!r}"


# -- reads: the same bytes -----------------------------------------------------------------------
FORK_GETS = [
    "/api/dashboard",
    "/api/queues",
    "/api/worker_pools",
    "/api/busy_workers",
    "/api/retry_jobs",
    "/api/scheduled_jobs",
    "/api/dead_jobs",
    "/api/periodic_schedules",
    "/api/history_jobs",
    "/api/history_jobs/{hist_go_id}",
    "/api/redis_info",
]
PAGES = ["", "?page", "?page=", "?page=1", "?page=2", "?page=0", "?page=01", "?page=3", "?page=99"]
PAGES += ["?page=2&page=x", "?page=461168601842738791", "?other=1&page=2"]
READS = [
    "/api/dashboard",
    "/api/queues",
    "/api/worker_pools",
    "/api/busy_workers",
    *(f"/api/{which}_jobs{q}" for which in ("retry", "scheduled", "dead", "history") for q in PAGES),
    "/api/history_jobs?job_name=ok",
    "/api/history_jobs?job_name=doomed&page=2",
    "/api/history_jobs?job_name=nothing",
    "/api/history_jobs?job_name=ok&job_name=doomed",
    "/api/history_jobs?job_name=%20ok",
    "/api/history_jobs?job_name=",
    "/api/history_jobs/{hist_go_id}",
    "/api/history_jobs/{hist_odd_id}",
    "/api/history_jobs/unknown-id",
    "/api/history_jobs/a%2Fb%20c",
]


@pytest.mark.parametrize("path", READS)
def test_reads_are_gos_bytes(servers: Servers, world: World, path: str) -> None:
    go, ours = servers.read("GET", path_of(world, path))
    same(go, ours)


@pytest.mark.parametrize("path", [*FORK_GETS, "/api/dead_jobs?page=x"])
def test_head_is_gos_get_without_a_body(servers: Servers, world: World, path: str) -> None:
    """Go's ``GET`` patterns answer HEAD too: the GET's status and headers, no body."""
    go, ours = servers.read("HEAD", path_of(world, path))
    if path == "/api/dead_jobs?page=x":  # the 500/400 of a bad page, as for GET (see DIFFERENCES)
        assert (go.status, ours.status) == (500, 400)
        return
    assert (ours.status, ours.content_type, ours.body) == (go.status, go.content_type, b"")


def test_periodic_schedules_are_gos_entries_in_name_order(servers: Servers) -> None:
    """Go lists schedules in Go map order, which changes from call to call; ours sorts by name.

    (Asked once each: ``read`` would wait for two Go answers in the same order.)"""
    go, ours = ask(servers.go, "GET", "/api/periodic_schedules"), ask(servers.ours, "GET", "/api/periodic_schedules")
    assert (ours.status, ours.content_type) == (go.status, go.content_type) == (200, JSON)
    go_entries, our_entries = array_elements(go.body), array_elements(ours.body)
    assert len(our_entries) == 4
    assert sorted(our_entries) == sorted(go_entries)
    names = [json.loads(b"{" + e + b"}")["name"] for e in our_entries]
    assert names == sorted(names)
    assert ours.body == b"[\n\t{" + b"},\n\t{".join(our_entries) + b"}\n]"


EMPTY_READS = [p for p in FORK_GETS if "{" not in p and "redis_info" not in p] + ["/api/history_jobs/x"]


@pytest.fixture(scope="module")
def empty(
    fork_programs: tuple[Path, Path], redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    """Both servers on a namespace nothing has written to."""
    r = redis_server.client()
    try:
        with both_servers(
            fork_programs, redis_server.url, f"wdiff{uuid.uuid4().hex[:8]}", tmp_path_factory.mktemp("empty"), r
        ) as s:
            yield s
    finally:
        r.close()


@pytest.mark.parametrize("path", EMPTY_READS)
def test_an_empty_namespace_reads_as_gos(empty: Servers, path: str) -> None:
    """``[]``, ``null`` for no busy worker, zero counts: Go's bytes again."""
    go, ours = empty.read("GET", path)
    same(go, ours)


@pytest.mark.parametrize("which", ["retry", "scheduled", "dead"])
def test_an_entry_go_cannot_decode(empty: Servers, which: str) -> None:
    """Go's client fails the whole page on one member it cannot decode; ours lists a stand-in with
    the member's text and the reason (docs/dashboard.md's table), and the other jobs."""
    key = f"{empty.prefix}{which}"
    good = Job(name="mail", id="good", enqueued_at=1_800_000_000, args={"a": 1})
    empty.r.zadd(key, {b"not json": 1_800_000_000, good.to_bytes(): 1_800_000_001})
    try:
        go, ours = empty.read("GET", f"/api/{which}_jobs")
    finally:
        empty.r.delete(key)
    assert (go.status, go.content_type, go.body) == (
        500,
        JSON,
        err("invalid character 'o' in literal null (expecting 'u')"),
    )
    assert (ours.status, ours.content_type) == (200, JSON)
    listed = json.loads(ours.body)
    assert listed["count"] == 2
    assert listed["jobs"][0]["args"] == {"raw": "not json"} and listed["jobs"][0]["err"].startswith("not JSON")
    assert listed["jobs"][1]["id"] == "good"


@pytest.fixture(scope="module")
def unreachable(fork_programs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Both servers pointed at a port where no Redis listens."""
    port = free_port()
    r = redis.Redis(port=port)
    try:
        logs = tmp_path_factory.mktemp("unreachable")
        with both_servers(fork_programs, f"redis://127.0.0.1:{port}/0", "wdiff", logs, r) as s:
            yield s
    finally:
        r.close()


@pytest.mark.parametrize("path", ["/api/dashboard", "/api/queues", "/api/dead_jobs", "/api/history_jobs/x"])
def test_an_unreachable_redis_is_a_503_that_says_so(unreachable: Servers, path: str) -> None:
    """Go answers 500 with its dial error, and its dashboard 200 with every count 0 (an idle system,
    to the reader); ours answers 503 naming the Redis it cannot reach (docs/dashboard.md's table)."""
    go, ours = unreachable.read("GET", path)
    port = unreachable.r.get_connection_kwargs()["port"]
    if path == "/api/dashboard":
        assert (go.status, go.content_type) == (200, JSON) and b'"count": 0' in go.body
    else:
        assert (go.status, go.content_type, go.body) == (
            500,
            JSON,
            err(f"dial tcp 127.0.0.1:{port}: connect: connection refused"),
        )
    assert (ours.status, ours.content_type) == (503, JSON)
    assert ours.body.startswith(b'{"error": "cannot reach Redis at redis://127.0.0.1:%d/0: ' % port)


VOLATILE_INFO = [
    "uptime_seconds",
    "connected_clients",
    "used_memory",
    "used_memory_human",
    "used_memory_peak_human",
    "total_commands_processed",
    "instantaneous_ops_per_sec",
    "keyspace_hits",
    "keyspace_misses",
]


def test_redis_info_is_gos_layout_and_values(servers: Servers) -> None:
    """Fields, order and types byte for byte; counters that tick with every command are masked."""
    go, ours = ask(servers.go, "GET", "/api/redis_info"), ask(servers.ours, "GET", "/api/redis_info")
    assert (ours.status, ours.content_type) == (go.status, go.content_type) == (200, JSON)
    assert fields_masked(ours.body, VOLATILE_INFO) == fields_masked(go.body, VOLATILE_INFO)
    assert b'"version": "' in go.body and b'"db_keys": ' in go.body
    for name in VOLATILE_INFO:  # the masked values have Go's types: numbers stay numbers
        pattern = rb'"' + name.encode() + rb'": ' + (rb'"' if name.endswith("human") else rb"[0-9]")
        assert re.search(pattern, ours.body) and re.search(pattern, go.body), name


# -- changes: the same answer and the same keys afterwards ---------------------------------------
def masked_answer(change: Change, ids: dict[str, str] | None = None) -> Answer:
    body = now_masked(change.answer.body, change.window)
    for old, new in (ids or {}).items():
        body = body.replace(old.encode(), new.encode())
    return change.answer.replaced(body)


def same_change(go: Change, ours: Change, ids: dict[str, str] | None = None) -> None:
    same(masked_answer(go, ids), masked_answer(ours, ids))
    go_state, our_state = masked_state(go, ids), masked_state(ours, ids)
    differing = {
        k: (go_state.get(k), our_state.get(k)) for k in {*go_state, *our_state} if go_state.get(k) != our_state.get(k)
    }
    assert not differing, f"keys left differently (Go's, ours): {differing}"


SCHEDULE = {"name": "new one", "job_name": "report", "spec": "0 15 4 * * *", "args": {"big": 2**53 + 1, "s": "<&>"}}
CHANGES: list[tuple[str, str, Any]] = [
    ("POST", "/api/delete_dead_job/{dead_go}", None),
    ("POST", "/api/delete_dead_job/{dead_py}", None),
    ("POST", "/api/delete_dead_job/{dead_odd}", None),
    ("POST", "/api/delete_dead_job/+{dead_go_score}/{dead_go_id}", None),  # ParseInt takes a sign
    ("POST", "/api/retry_dead_job/{dead_go}", None),
    ("POST", "/api/retry_dead_job/{dead_py}", None),
    ("POST", "/api/retry_dead_job/{dead_odd}", None),
    ("POST", "/api/delete_all_dead_jobs", None),
    ("POST", "/api/delete_all_dead_jobs", b"ignored"),
    ("POST", "/api/retry_all_dead_jobs", None),
    ("POST", "/api/delete_scheduled_job/{sched_go}", None),
    ("POST", "/api/delete_scheduled_job/{sched_py}", None),
    ("POST", "/api/delete_scheduled_job/{sched_unique}", None),  # its unique lock goes too
    ("POST", "/api/delete_retry_job/{retry_go}", None),
    ("POST", "/api/delete_retry_job/{retry_py}", None),
    ("POST", "/api/periodic_schedules", SCHEDULE),
    ("POST", "/api/periodic_schedules", {**SCHEDULE, "name": "go-nightly", "created_at": 1700000000, "enabled": False}),
    ("POST", "/api/periodic_schedules", {**SCHEDULE, "args": {}, "unknown": 1}),
    ("DELETE", "/api/periodic_schedules/go-nightly", None),
    ("DELETE", "/api/periodic_schedules/py%20off%2Fslash", None),
    ("DELETE", "/api/periodic_schedules/absent", None),
    ("POST", "/api/periodic_schedules/py%20off%2Fslash/enable", None),
    ("POST", "/api/periodic_schedules/go-nightly/disable", None),
]


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_changes_answer_and_leave_what_go_does(
    servers: Servers, world: World, method: str, path: str, body: Any
) -> None:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    go, ours = servers.change(method, path_of(world, path), data)
    assert go.answer.status == 200, go.answer
    if "absent" not in path:  # the case did something, on both sides
        assert go.state != world.state
    same_change(go, ours)


ENQUEUES: list[dict[str, Any]] = [
    {"job_name": "mail", "args": {"to": "x@example.com"}},
    {"job_name": "mail"},
    {"job_name": "mail", "args": None, "delay": 0},
    {"job_name": "report", "args": {"n": 2.50, "big": 12345678901234567890, "neg": -0.0}, "delay": 3600},
    {"job_name": "report", "delay": -5},
    {"job_name": "mail", "retry": {"max_retries": 3, "strategy": "linear", "base_delay": 10}},
    {"job_name": "mail", "retry": {"strategy": "fixed"}},
    {"job_name": "mail", "retry": {"strategy": "nonsense", "max_retries": 0}},
    {"job_name": "brand-new", "args": {"html": "<script>"}, "other": "ignored"},
    {"JOB_NAME": "mail", "Args": {"x": 1}, "Delay": 60},  # Go matches member names without case
    {"job_name": "mail", "args": {}},
    {"job_name": "mail", "args": {"u": "é\u2028\x7f", "nested": {"n": [1, 2.5, -0.0, 1e21, 1e-7]}}},
    {"job_name": "mail", "retry": {}},
    {"job_name": "mail", "retry": None},
    {"job_name": "mail", "retry": {"Strategy": "LINEAR", "MAX_RETRIES": 2}},
]


@pytest.mark.parametrize("body", ENQUEUES)
def test_enqueue_answers_and_leaves_what_go_does(servers: Servers, body: dict[str, Any]) -> None:
    """The new job's id is random and its ``t`` is now: compared as ``ID`` and ``NOW``."""
    go, ours = servers.change("POST", "/api/enqueue", json.dumps(body).encode())
    assert go.answer.status == 200, go.answer
    go_id, our_id = (json.loads(c.answer.body)["id"] for c in (go, ours))
    assert go_id != our_id
    same_change(go, ours, {go_id: "ID", our_id: "ID"})


# -- the differences on purpose (docs/dashboard.md) --------------------------------------------
def matches(expected: tuple[int, str, bytes], answer: Answer) -> bool:
    status, content_type, body = expected
    fits = answer.body.startswith(body) if isinstance(body, Prefix) else answer.body == body
    return (answer.status, answer.content_type) == (status, content_type) and fits


@pytest.mark.parametrize("case", DIFFERENCES, ids=lambda c: f"{c.method} {c.path} {c.body!r}"[:90])
def test_differences_on_purpose(servers: Servers, world: World, case: Differs) -> None:
    path = path_of(world, case.path)
    if case.method == "GET":
        go_answer, our_answer = servers.read("GET", path)
    else:
        go, ours = servers.change(case.method, path, case.body)
        go_answer, our_answer = go.answer, ours.answer
        KEY_CHECKS[case.keys](world, go, ours)
    assert matches(case.go, go_answer), go_answer
    assert matches(case.ours, our_answer), our_answer
    if go_answer.status == our_answer.status == 405:  # Allow: the same methods, but for Go's SPA
        go_allow, our_allow = (set((a.allow or "").split(", ")) for a in (go_answer, our_answer))
        assert our_allow <= go_allow and go_allow - our_allow <= {"GET", "HEAD"}
        assert our_answer.allow == ", ".join(sorted(our_allow))


def _same_keys(world: World, go: Change, ours: Change) -> None:
    assert masked_state(ours) == masked_state(go)


def _go_only(world: World, go: Change, ours: Change) -> None:
    """Go took the bad input (and stored it); ours refused it and changed nothing."""
    assert ours.state == world.state
    assert go.state != world.state


def _by_key_lock(world: World, go: Change, ours: Change) -> None:
    """Go deletes the lock its key would have from the args, not the job's own ``unique_key``: the
    real lock stays, and no job with that key can be enqueued until it expires; ours removes it."""
    lock = f'{world.servers.prefix}unique:report:{{"k":"x"}}\n'
    assert lock in go.state and lock not in ours.state
    assert masked_state(ours) == {k: v for k, v in masked_state(go).items() if k != lock}


def _args_kept(world: World, go: Change, ours: Change) -> None:
    """Go re-reads the stored schedule through float64 to flip ``enabled``, so its args lose digits
    (12345678901234567890 is stored back as 12345678901234567000); ours changes enabled and
    updated_at and keeps the args' bytes."""
    key = world.servers.prefix + "periodic_schedules"
    go_hash, our_hash = dict(masked_state(go)[key][1]), dict(masked_state(ours)[key][1])
    assert b'"huge":12345678901234567000' in go_hash[b"py-newyear"]
    assert our_hash[b"py-newyear"] == go_hash[b"py-newyear"].replace(
        b"12345678901234567000", b"12345678901234567890"
    ).replace(b"9007199254740992", b"9007199254740993")
    assert {k: v for k, v in masked_state(ours).items() if k != key} == {
        k: v for k, v in masked_state(go).items() if k != key
    }


def _instances_removed(world: World, go: Change, ours: Change) -> None:
    """Go leaves the instances its pools already put in ``scheduled`` (up to 4 minutes of runs);
    ours also removes those still ahead. Everything else is left alike."""
    key = world.servers.prefix + "scheduled"
    instance = b'"id":"periodic:report:0 * * * * *:'
    go_members, our_members = dict(go.state[key][1]), dict(ours.state[key][1])
    removed = set(go_members) - set(our_members)
    assert removed and set(our_members) <= set(go_members)
    assert all(instance in m for m in removed)
    assert {m for m, t in go_members.items() if instance in m and t > ours.window[1]} <= removed
    assert {k: v for k, v in masked_state(ours).items() if k != key} == {
        k: v for k, v in masked_state(go).items() if k != key
    }


KEY_CHECKS: dict[str, Callable[[World, Change, Change], None]] = {
    "same": _same_keys,
    "go only": _go_only,
    "by-key lock": _by_key_lock,
    "args kept": _args_kept,
    "instances removed": _instances_removed,
}


def test_every_difference_is_in_the_docs_table() -> None:
    """docs/dashboard.md lists each difference once: every row here is there, and no other."""
    text = (ROOT / "docs" / "dashboard.md").read_text()
    section = text.split("## Where the dashboard differs from workwebui, on purpose", 1)[1].split("\n## ", 1)[0]
    cells = [re.split(r"(?<!\\)\|", line)[1] for line in section.splitlines() if line.startswith("| ")]
    rows = [c.strip().replace("\\|", "|") for c in cells if c.strip() != "route" and set(c.strip()) != {"-"}]
    assert len(rows) == len(set(rows))
    tested_here = {
        "GET /api/periodic_schedules",
        "Any route while Redis is unreachable",
        "GET /api/{retry,scheduled,dead}_jobs with an entry Go cannot decode",
    }
    assert set(rows) == {c.row for c in DIFFERENCES} | tested_here
