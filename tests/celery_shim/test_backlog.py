"""import-backlog: messages the real celery 5.7 left in a Redis broker become gocraft jobs.

Given a backlog published by the real celery package (protocol 2, and protocol 1 through
``task_protocol=1``) on the test Redis, when it is imported into the app's namespace, then every
convertible message is a gocraft job with the args named by the local task's signature and
Celery's metadata beside them, and every other message is still in Celery's queue, in its order.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu  # noqa: F401  the suite needs the backlog extra: fail loudly if it is missing
import pytest
import redis

from celery_shim import Celery
from celery_shim.gocraft.backlog import BacklogImporter
from celery_shim.gocraft.keys import KombuKeys
from work_compat import Keys, connect, decode_job

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONVERTIBLE = ("plain", "later", "expiring", "dated", "unknown", "limited", "urgent")
LEFT = ("chain", "pickled", "misfit")


def publish_backlog(broker_url: str, protocol: int) -> dict[str, str]:
    """Run the real celery in its own interpreter; the task ids by label, in sending order."""
    proc = subprocess.run(
        [sys.executable, str(HERE / "backlog_publisher.py"), broker_url, str(protocol)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    ids: dict[str, str] = json.loads(proc.stdout)
    return ids


def celery_lists(client: redis.Redis) -> dict[str, list[bytes]]:
    kk = KombuKeys()
    return {key: client.lrange(key, 0, -1) for key in kk.queues("celery")}


def message_id(raw: bytes) -> str:
    envelope = json.loads(raw)
    return str(envelope["headers"].get("id") or envelope["properties"]["correlation_id"])


@pytest.fixture
def shim(broker_url: str, namespace: str, redis_client: redis.Redis) -> Iterator[Celery]:
    app = Celery("proj", broker=broker_url, gocraft_namespace=namespace, set_as_current=False)

    @app.task(name="proj.add")
    def add(x: int, y: int = 1) -> int:
        return x + y

    @app.task(name="proj.when")
    def when(when: str) -> str:
        return when

    try:
        yield app
    finally:
        app.close()


def jobs_by_id(client: redis.Redis, namespace: str) -> dict[str, tuple[str, Any]]:
    """Every job in the namespace's queues and scheduled set: id -> (where, job)."""
    keys = Keys(namespace)
    out: dict[str, tuple[str, Any]] = {}
    for name in client.smembers(keys.known_jobs()):
        for raw in client.lrange(keys.jobs(name.decode()), 0, -1):
            job = decode_job(raw)
            out[job.id] = ("queue", job)
    for raw, score in client.zrange(keys.scheduled(), 0, -1, withscores=True):
        job = decode_job(raw)
        out[job.id] = (f"scheduled@{int(score)}", job)
    return out


@pytest.mark.parametrize("protocol", [2, 1])
def test_a_celery_backlog_becomes_gocraft_jobs_and_the_rest_stays_in_celerys_queue(
    shim: Celery, broker_url: str, namespace: str, redis_client: redis.Redis, protocol: int
) -> None:
    # Given a backlog the real celery published, and the order of Celery's queue
    before = time.time()
    ids = publish_backlog(broker_url, protocol)
    queued_before = celery_lists(redis_client)
    order_before = [message_id(raw) for raw in reversed(queued_before["celery"])]  # oldest first

    # When it is imported into the app's namespace
    source = connect(broker_url)
    try:
        report = BacklogImporter(shim, source).run(["celery"])
    finally:
        source.close()

    # Then every convertible message is one job, named args bound to the local signature
    jobs = jobs_by_id(redis_client, namespace)
    assert sorted(jobs) == sorted(ids[label] for label in CONVERTIBLE)
    where, plain = jobs[ids["plain"]]
    assert (where, plain.name, plain.args) == ("queue", "proj.add", {"x": 2, "y": 3})
    assert jobs[ids["dated"]][1].args == {"when": "2024-05-01T12:30:00"}  # kombu's datetime tag -> ISO text
    assert jobs[ids["unknown"]][1].args == {"*args": ["a.png", 640], "fmt": "webp"}  # no local task: D1 fallback
    assert jobs[ids["urgent"]][1].args == {"x": 7}  # from kombu's priority list
    assert report.unbound == {"go.resize": 1}

    # ... a countdown is a scheduled job at the ceiling of its eta
    where, later = jobs[ids["later"]]
    score = int(where.split("@")[1])
    assert before + 3600 - 1 <= later.extra["celery"]["eta"] <= time.time() + 3600
    assert score == math.ceil(later.extra["celery"]["eta"]) and later.args == {"x": 4, "y": 5}

    # ... expires, headers, limits and ids travel in the "celery" metadata
    meta = jobs[ids["expiring"]][1].extra["celery"]
    assert before + 600 - 1 <= meta["expires"] <= time.time() + 600
    assert meta["headers"] == {"tenant": "acme"}
    limited = jobs[ids["limited"]][1].extra["celery"]
    assert (limited["time_limit"], limited["soft_time_limit"]) == (30, 10)
    if protocol == 2:
        assert meta["root_id"] == ids["expiring"] and "@" in meta["origin"]

    # ... and what cannot be converted is still in Celery's queue, in its order, with the reason
    after = celery_lists(redis_client)
    assert [message_id(raw) for raw in reversed(after["celery"])] == [i for i in order_before if i in {ids[k] for k in LEFT}]
    assert set(after["celery"]) <= set(queued_before["celery"])  # byte for byte the messages Celery wrote
    assert not any(after[key] for key in list(after)[1:])  # the priority list was imported
    reasons = {m.message.split()[0]: m.reason for m in report.left}
    assert sorted(reasons) == sorted(ids[label] for label in LEFT)
    assert "chain" in reasons[ids["chain"]] or "callbacks" in reasons[ids["chain"]]
    assert "not json" in reasons[ids["pickled"]]
    assert "do not fit the local task proj.add" in reasons[ids["misfit"]]
    assert not redis_client.keys("celery_shim.import-claim:*")
    assert (report.imported, [q.found for q in report.queues]) == (len(CONVERTIBLE), [len(ids)])


def test_a_dry_run_converts_and_reports_but_changes_nothing(
    shim: Celery, broker_url: str, redis_client: redis.Redis
) -> None:
    publish_backlog(broker_url, 2)
    snapshot = {key: redis_client.dump(key) for key in redis_client.keys("*")}
    source = connect(broker_url)
    try:
        report = BacklogImporter(shim, source, dry_run=True).run(["celery"])
    finally:
        source.close()
    assert {key: redis_client.dump(key) for key in redis_client.keys("*")} == snapshot
    assert report.dry_run and report.imported == len(CONVERTIBLE) and len(report.left) == len(LEFT)


def test_messages_an_interrupted_import_had_taken_are_put_back_and_imported(
    shim: Celery, broker_url: str, namespace: str, redis_client: redis.Redis
) -> None:
    # Given an import that crashed after taking a message into its claim list
    ids = publish_backlog(broker_url, 2)
    kk = KombuKeys()
    taken = redis_client.lmove(kk.queue("celery"), kk.import_claim("celery"), "RIGHT", "LEFT")
    assert taken is not None and message_id(taken) == ids["plain"]
    # When the import runs again, the message is back at the head of its queue and imported first
    source = connect(broker_url)
    try:
        report = BacklogImporter(shim, source).run(["celery"])
    finally:
        source.close()
    assert report.recovered == 1
    assert ids["plain"] in jobs_by_id(redis_client, namespace)
    assert redis_client.llen(kk.import_claim("celery")) == 0


def cli(*argv: str, namespace: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "celery_shim", *argv],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), "CLI_PROJ_NAMESPACE": namespace, **(env or {})},
    )


def test_the_command_imports_the_discovered_queues_with_a_progress_bar_and_a_report(
    broker_url: str, namespace: str, redis_client: redis.Redis
) -> None:
    ids = publish_backlog(broker_url, 2)
    # A dry run first: the report, and nothing moved
    dry = cli("-A", "cli_proj", "-b", broker_url, "import-backlog", "--dry-run", namespace=namespace)
    assert dry.returncode == 1, dry.stderr  # some messages would stay
    assert "would import 7 messages in total" in dry.stdout
    assert redis_client.llen("celery") + redis_client.llen("celery\x06\x169") == len(ids)

    proc = cli("-A", "cli_proj", "-b", broker_url, "import-backlog", namespace=namespace)
    assert proc.returncode == 1, proc.stderr
    assert f"queue celery: {len(ids)} messages, imported 7 (1 scheduled for later), left 3" in proc.stdout
    assert f"{ids['misfit']} proj.add: its args do not fit the local task proj.add" in proc.stdout
    assert "task go.resize is not registered here" in proc.stdout
    assert f"import-backlog [{'#' * 30}] {len(ids)}/{len(ids)}" in proc.stderr
    assert len(jobs_by_id(redis_client, namespace)) == 7

    # Running it again finds only what stays, and imports nothing twice
    again = cli("-A", "cli_proj", "-b", broker_url, "import-backlog", "-Q", "celery", "--json", namespace=namespace)
    data = json.loads(again.stdout)
    assert (data["imported"], len(data["left"])) == (0, 3)
    assert len(jobs_by_id(redis_client, namespace)) == 7


def test_without_kombu_the_command_says_how_to_install_it(broker_url: str, namespace: str) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['kombu'] = None\n"
            "from celery_shim.bin.celery import main\n"
            f"sys.exit(main(['-A', 'cli_proj', '-b', {broker_url!r}, 'import-backlog']))",
        ],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), "CLI_PROJ_NAMESPACE": namespace},
    )
    assert proc.returncode == 2
    assert "pip install 'work-compat[backlog]'" in proc.stderr
