"""``python -m bench.readme_table``: the README's Performance table from an enqueue.json, and a clear
error for results it cannot make the table from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.readme_table import render

REPO = Path(__file__).resolve().parent.parent


def _row(key: str, rate: float, ratio: float) -> dict[str, Any]:
    return {"key": key, "label": key, "best_jobs_per_s": rate, "ratio_vs_go_best": ratio}


def _doc() -> dict[str, Any]:
    return {
        "workload": {"n": 10_000, "runs": 5},
        "machine": {"cpu_count": 2, "pinned_cpu": None},
        "go_reference": "go_gocraft",
        "results": [
            _row("go_gocraft", 14_000.4, 1.0),
            _row("go_fork", 13_000, 0.9286),
            _row("go_v051", 15_000, 1.07),
            _row("enqueue", 10_500, 0.75),
            _row("enqueue_many_all", 160_000, 11.43),
            _row("enqueue_many_1000", 190_000, 13.57),
            _row("raw_lpush_pipeline", 180_000, 12.86),
        ],
    }


def test_table_rows_and_ratios() -> None:
    assert render(_doc(), "enqueue.json").splitlines() == [
        "Enqueueing 10,000 jobs, Go and Python on one 2-CPU machine and one Redis (best of 5 runs, "
        "`bench/results/enqueue.md`; the Go side is gocraft/work 5959e69 and its fork LarnTechKe/work v0.0.3):",
        "",
        "| implementation | jobs/s | vs Go `Enqueue` |",
        "| --- | ---: | ---: |",
        "| Go gocraft/work 5959e69 `Enqueue` (1 goroutine) | 14,000 | 1.00x |",
        "| Go LarnTechKe/work v0.0.3 `Enqueue` (1 goroutine) | 13,000 | 0.93x |",
        "| `Enqueuer.enqueue` (1 thread, one call per job) | 10,500 | 0.75x |",
        "| `Enqueuer.enqueue_many` (one call of 10,000) | 160,000 | 11.43x |",
        "| `Enqueuer.enqueue_many` (10 calls of 1,000) | 190,000 | 13.57x |",
    ]


def test_command_prints_table_and_refuses_old_results(tmp_path: Path) -> None:
    (tmp_path / "enqueue.json").write_text(json.dumps(_doc()))
    cmd = [sys.executable, "-m", "bench.readme_table", "--results", str(tmp_path)]
    ok = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == render(_doc(), "x")

    old = _doc()
    del old["go_reference"]  # written before the pinned Go rows: its Go row was v0.5.1
    old["results"] = [_row("go_enqueue", 14_000, 1.0), *old["results"][3:]]
    (tmp_path / "enqueue.json").write_text(json.dumps(old))
    refused = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert "has no gocraft/work 5959e69 row" in refused.stderr
    assert "python -m bench.enqueue" in refused.stderr


def _worker_row(key: str, label: str, rate: float, cpu: float | None, p50: float = 5.0) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "version_text": "1.0",
        "status": "ok",
        "jobs_per_s_first_to_last": rate,
        "redis_cpu_us_per_job": cpu,
        "latency": {"p50_ms": p50, "p99_ms": p50 * 2},
    }


def test_worker_table_is_against_the_forks_pool() -> None:
    from bench.readme_table import ResultsError, render_workers

    doc = {
        "workload": {"n": 30_000, "runs": 3, "concurrency": 8},
        "machine": {"cpu_count": 2},
        "results": [
            _worker_row("go", "Go fork pool", 25_000, 30.0),
            _worker_row("work_compat", "work_compat threads", 30_000, 15.0),
            _worker_row("peer", "Some peer", 1_000, None),
            {"key": "broken", "label": "Crashed", "status": "failed"},
        ],
    }
    lines = render_workers(doc, "workers.json").splitlines()
    assert lines[0].startswith("Running 30,000 no-op jobs queued beforehand, concurrency 8")
    assert lines[4:] == [
        "| Go fork pool 1.0 | 25,000 | 1.00x | 30.0 | 1.00x | 5.0 / 10.0 |",
        "| work_compat threads 1.0 | 30,000 | 1.20x | 15.0 | 0.50x | 5.0 / 10.0 |",
        "| Some peer 1.0 | 1,000 | 0.04x | n/a | n/a | 5.0 / 10.0 |",
    ]
    doc["results"] = doc["results"][1:]
    with pytest.raises(ResultsError, match="no row for the fork's pool"):
        render_workers(doc, "workers.json")
