"""examples/flask_shop, a Celery-style Flask project, runs unmodified on celery_shim: its worker
(with embedded beat) is started with the project's own command line, orders go through the Flask
views, a Go service runs the job the project only declares, and a Go producer starts a Python task.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.interop.golibs import LibraryUnavailable, go_binary
from tests.redis_server import RedisServer
from tests.work_compat.conftest import wait_until
from work_compat import Client, Keys

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "flask_shop"
GO_WORKER = ROOT / "examples" / "go_worker"
NAMESPACE = "shop"  # the app's main name: the project does not set gocraft_namespace


def _go_worker() -> str:
    """examples/go_worker built against the pinned gocraft/work (tests/interop/golibs.py)."""
    go = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if go is None:
        pytest.fail("the flask_shop test needs the Go toolchain (examples/go_worker runs send_sms)")
    try:
        return str(go_binary("orig", GO_WORKER, go=go))
    except LibraryUnavailable as e:  # one line saying how to provide it, as the interop tests skip
        pytest.skip(f"examples/go_worker: {e}")


@pytest.fixture
def shop_url(redis_server: RedisServer) -> Iterator[str]:
    url = f"redis://127.0.0.1:{redis_server.port}/3"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def worker(shop_url: str) -> Iterator[subprocess.Popen[str]]:
    """``celery-shim -A shop.celery_app worker -P threads -c 4 -Q default,images -B``, from the project's directory."""
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery_shim", "-A", "shop.celery_app", "worker", "-P", "threads", "-c", "4", "-Q", "default,images", "-B"],
        cwd=SHOP,
        env={**os.environ, "SHOP_REDIS_URL": shop_url, "PYTHONPATH": f"{SHOP}{os.pathsep}{ROOT}"},
        stdout=log,
        stderr=log,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.seek(0)
        output = log.read()
        log.close()
        print(output[-4000:])


@pytest.fixture
def web(shop_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The project's Flask app, imported as the web process imports it, with its test client."""
    monkeypatch.setenv("SHOP_REDIS_URL", shop_url)
    monkeypatch.syspath_prepend(str(SHOP))
    for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
        del sys.modules[name]
    shop = importlib.import_module("shop")
    app = shop.create_app()
    yield app.test_client()
    importlib.import_module("shop.celery_app").celery.close()
    for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
        del sys.modules[name]


def _state(web: Any, task_id: str) -> dict[str, Any]:
    reply = web.get(f"/tasks/{task_id}")
    assert reply.status_code == 200
    doc: dict[str, Any] = reply.get_json()
    return doc


def test_orders_run_through_retries_a_chain_progress_beat_and_go(
    worker: subprocess.Popen[str], web: Any, shop_url: str
) -> None:
    client = Client(NAMESPACE, shop_url)
    keys = Keys(NAMESPACE)
    r = redis.Redis.from_url(shop_url)
    # Given the worker is up (its heartbeat names the project's tasks)
    wait_until(
        lambda: any("shop.tasks.charge_card" in b.job_names for b in client.worker_pool_heartbeats()),
        timeout=30,
        what="the shop worker's heartbeat",
    )

    # When an order is placed through the Flask view
    reply = web.post(
        "/orders",
        json={"email": "ada@example.com", "cents": 1999, "items": [{"cents": 999, "qty": 2}], "phone": "+33611"},
    )
    assert reply.status_code == 202
    order = reply.get_json()

    # Then the card is charged, the receipt sent after its countdown, and the invoice chain ends
    # with tax applied to the priced items: (999 * 2) * 1.2 = 2397.6 -> 2398 cents
    charge = wait_until(lambda: _state(web, order["charge"])["state"] == "SUCCESS" and _state(web, order["charge"]), 20)
    assert charge["result"] == {"order_id": order["order_id"], "charged": 1999, "attempts": 1}
    receipt = wait_until(lambda: _state(web, order["receipt"])["state"] == "SUCCESS" and _state(web, order["receipt"]), 20)
    assert receipt["result"] == f"receipt for {order['order_id']} sent to ada@example.com"
    invoice = wait_until(lambda: _state(web, order["invoice"])["state"] == "SUCCESS" and _state(web, order["invoice"]), 20)
    assert invoice["result"] == f"INVOICE {order['order_id']}: 23.98 EUR"

    # And send_sms, which the project only declares, waits in its gocraft queue with named args
    # that the Go service reads; the Go service runs it
    queued = json.loads(r.lindex(keys.jobs("send_sms"), 0) or b"{}")
    assert queued["args"] == {"phone": "+33611", "text": f"order {order['order_id']} confirmed"}
    go = subprocess.run(
        [_go_worker(), "-redis", shop_url, "-ns", NAMESPACE, "-jobs", "send_sms", "-expect", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert go.returncode == 0, go.stderr
    assert "send_sms" in go.stdout and "+33611" in go.stdout

    # When a Go producer starts a Python task by name, with named args
    go = subprocess.run(
        [
            _go_worker(), "-redis", shop_url, "-ns", NAMESPACE,
            "-enqueue", "shop.tasks.resize_image=1", "-args", '{"path": "/img/cat.png", "width": 320}',
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert go.returncode == 0, go.stderr
    go_id = go.stdout.split("id=")[1].split()[0]
    # Then the Python worker runs it, and its result is readable by the Go job's id
    resized = wait_until(lambda: _state(web, go_id)["state"] == "SUCCESS" and _state(web, go_id), 20)
    assert resized["result"] == "/img/cat.png resized to 320px"

    # And a flaky mail server is retried with backoff: the retry entry carries fails and the error
    flaky = web.post(
        "/orders", json={"email": "bob@flaky.example", "cents": 500, "items": [{"cents": 500}], "phone": "+33622"}
    ).get_json()
    wait_until(lambda: _state(web, flaky["receipt"])["state"] == "RETRY", 20, "the receipt's RETRY state")
    retries, _ = client.retry_jobs()
    entry = next(rj for rj in retries if rj.job.id == flaky["receipt"])
    assert entry.job.fails == 1 and "SMTP server closed the connection" in (entry.job.last_err or "")

    # And a progress-reporting task ends with its result
    from shop import tasks  # noqa: PLC0415 - the project module, imported by the web fixture

    export = tasks.export_catalogue.delay(40)
    assert export.get(timeout=20) == {"exported": 40}

    # And the embedded beat scheduled the every-30-s job (Go-identical bytes: no args) and the
    # 02:30 Paris crontab with its kwargs
    def beat_members() -> list[dict[str, Any]]:
        return [json.loads(m) for m in r.zrange(keys.scheduled(), 0, -1)]

    members = wait_until(
        lambda: [m for m in beat_members() if m["id"].startswith("periodic:")], 20, "beat's scheduled members"
    )
    purge = [m for m in members if m["name"] == "shop.tasks.purge_abandoned_carts"]
    assert purge and all(m["args"] is None and m["id"].endswith(str(m["t"])) for m in purge)
    r.close()
    client.close()
