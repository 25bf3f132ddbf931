"""Fuzzing the whole JSON API from its own OpenAPI description (schemathesis) against a live
``workwebui`` process on the real Redis, with jobs in every place: no answer may be a 5xx while
Redis is up, and every answer must match the description (status, content type, body schema).

The run is bounded: a few examples per operation, and ``/api/task/result``'s ``timeout`` is
capped at a fraction of a second for the fuzzer (the description allows 30 s).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.redis_server import RedisServer
from tests.work_compat.conftest import FAST, FAST_SLEEP_BACKOFFS
from work_compat import Enqueuer, Job, JobOptions, WorkerPool

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = 25


class Failing(Exception):
    pass


def _fail(job: Job) -> None:
    raise Failing("no")


@pytest.fixture(scope="module")
def live(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A served namespace with queued, scheduled, retrying, dead and finished jobs: (base URL, ns)."""
    ns = "fuzz" + os.urandom(4).hex()
    enqueuer = Enqueuer(ns, redis_server.url)
    pool = WorkerPool(2, ns, redis_server.url, settings=FAST, sleep_backoffs=FAST_SLEEP_BACKOFFS)
    pool.job("ok", lambda job: None)
    pool.job_with_options("bad", JobOptions(max_fails=1), _fail)
    pool.job_with_options("flaky", JobOptions(max_fails=9), _fail)
    for n in range(5):
        enqueuer.enqueue("ok", {"n": n})
        enqueuer.enqueue("bad", {"n": n, "*args": [n]})
    enqueuer.enqueue("flaky", {})
    pool.start()
    assert pool.drain(10)
    for n in range(3):
        enqueuer.enqueue("queued", {"n": n, "html": "<b>&</b>"})
        enqueuer.enqueue_in("queued", 3600, {"n": n})
    enqueuer.enqueue_in("queued", 3600, None)
    log = tmp_path_factory.mktemp("fuzz") / "workwebui.log"  # a file: a full pipe would stall the server
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "webui", "-redis", redis_server.url, "-ns", ns, "--port", "0",
             "--result-backend", redis_server.url, "--log-level", "WARNING"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)/", line)
        assert m, (line, log.read_text())
        yield m.group(1), ns
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
        pool.stop()
        enqueuer.close()
    errors = [ln for ln in log.read_text().splitlines() if " 500 " in ln or "Traceback" in ln or "ERROR" in ln]
    assert not errors, log.read_text()[-5000:]


@pytest.fixture(scope="module")
def api(live: tuple[str, str]) -> Any:
    base, _ = live
    with urllib.request.urlopen(base + "/api/openapi.json", timeout=10) as resp:
        raw = json.loads(resp.read())
    timeout = next(p for p in raw["paths"]["/api/task/result/{task_id}"]["get"]["parameters"] if p["name"] == "timeout")
    timeout["schema"]["maximum"] = 0.2
    schema = schemathesis.openapi.from_dict(raw)
    schema.config.update(base_url=base)
    return schema


def _exercise(api: Any, mode: schemathesis.GenerationMode, checks: list[Any]) -> list[str]:
    """Run every operation with ``EXAMPLES`` generated cases; the failures, one line each."""
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == 34  # every route of webui/openapi.json
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failing case is reported as is
        )
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=checks, timeout=10)

        try:
            exercise()
        except Unsatisfiable:  # no invalid request exists for an operation without parameters
            assert mode is schemathesis.GenerationMode.NEGATIVE
        except Exception as err:  # every operation runs; the failures are reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {err}")
    return failures


def test_valid_requests_get_no_server_error_and_answers_match_the_description(api: Any) -> None:
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures = _exercise(api, schemathesis.GenerationMode.POSITIVE, checks)
    assert not failures, "\n\n".join(failures)


def test_invalid_requests_get_no_server_error(api: Any) -> None:
    failures = _exercise(api, schemathesis.GenerationMode.NEGATIVE, [not_a_server_error, content_type_conformance])
    assert not failures, "\n\n".join(failures)
