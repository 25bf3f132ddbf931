"""``python -m bench.readme_table``: the README's Performance tables, from ``bench/results/``.

Prints, to paste over the README's, the sentence that introduces each table and the table:

- enqueue (``enqueue.json``): the pinned Go rows (gocraft/work 5959e69, the ratios' reference, and
  the fork LarnTechKe/work v0.0.3), then ``enqueue`` and ``enqueue_many``. Rows that are context
  only (v0.5.1, raw LPUSH) stay in ``bench/results/enqueue.md``.
- worker pools (``runtime/workers.json``, when there): every row of that run, first-to-last-job
  throughput and Redis CPU per job against the fork's pool, and latency at light load.

``--results DIR`` reads another results folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .gobuild import LIBRARIES

RESULTS_DIR = Path(__file__).resolve().parent / "results"
GO_ROWS = {"go_gocraft": LIBRARIES["gocraft"].label, "go_fork": LIBRARIES["fork"].label}
PYTHON_ROWS = {
    "enqueue": "`Enqueuer.enqueue` (1 thread, one call per job)",
    "enqueue_many_all": "`Enqueuer.enqueue_many` (one call of {n:,})",
    "enqueue_many_1000": "`Enqueuer.enqueue_many` ({calls})",
}


class ResultsError(ValueError):
    """The results file is missing, or is not one this table can be made from."""


def render(doc: dict[str, Any], source: str) -> str:
    """The introducing sentence and the table for one ``enqueue.json`` document."""
    rows = {r["key"]: r for r in doc.get("results", [])}
    if doc.get("go_reference") != "go_gocraft" or "go_gocraft" not in rows:
        raise ResultsError(
            f"{source} has no gocraft/work 5959e69 row (results from before the pinned Go rows, "
            "or a run without Go): run `python -m bench.enqueue` first"
        )
    missing = [key for key in PYTHON_ROWS if key not in rows]
    if missing:
        raise ResultsError(f"{source} lacks the row(s) {', '.join(missing)}")
    n = int(doc["workload"]["n"])
    runs = int(doc["workload"]["runs"])
    machine = doc.get("machine", {})
    where = f"one {machine.get('cpu_count') or '?'}-CPU machine"
    if machine.get("pinned_cpu") is not None:
        where += f" with every process pinned to CPU {machine['pinned_cpu']}"
    go_names = " and its fork ".join(GO_ROWS[k] for k in GO_ROWS if k in rows)
    lines = [
        f"Enqueueing {n:,} jobs, Go and Python on {where} and one Redis (best of {runs} run"
        f"{'s' if runs != 1 else ''}, `bench/results/enqueue.md`; the Go side is {go_names}):",
        "",
        "| implementation | jobs/s | vs Go `Enqueue` |",
        "| --- | ---: | ---: |",
    ]
    labels = {key: f"Go {name} `Enqueue` (1 goroutine)" for key, name in GO_ROWS.items()}
    calls = -(-n // 1000)
    calls_text = f"{calls} call{'s' if calls != 1 else ''} of 1,000"
    labels |= {key: text.format(n=n, calls=calls_text) for key, text in PYTHON_ROWS.items()}
    for key, label in labels.items():
        if key not in rows:
            continue
        row = rows[key]
        lines.append(f"| {label} | {row['best_jobs_per_s']:,.0f} | {row['ratio_vs_go_best']:.2f}x |")
    return "\n".join(lines) + "\n"


WORKERS_JSON = Path("runtime") / "workers.json"


def render_workers(doc: dict[str, Any], source: str) -> str:
    """The introducing sentence and the worker-pool table for one ``workers.json`` document."""
    rows = [r for r in doc.get("results", []) if r.get("status") == "ok"]
    go = next((r for r in rows if r.get("key") == "go"), None)
    if go is None:
        raise ResultsError(f"{source} has no row for the fork's pool (key 'go'): run `python -m bench.workers`")
    workload = doc["workload"]
    machine = doc.get("machine", {})
    lines = [
        f"Running {int(workload['n']):,} no-op jobs queued beforehand, concurrency "
        f"{int(workload['concurrency'])}, job history on, on one {machine.get('cpu_count') or '?'}-CPU machine "
        f"that also runs Redis (best of {int(workload['runs'])}, `bench/results/runtime/workers.md`, "
        "which also has start-up, memory and scale-out):",
        "",
        "| worker | jobs/s, first to last job | vs the fork's pool | Redis CPU µs/job | vs the fork's | p50 / p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    go_rate = float(go["jobs_per_s_first_to_last"])
    go_cpu = go.get("redis_cpu_us_per_job")
    for r in rows:
        rate = float(r["jobs_per_s_first_to_last"])
        cpu = r.get("redis_cpu_us_per_job")
        cpu_text = f"{cpu:.1f}" if cpu else "n/a"
        cpu_ratio = f"{cpu / go_cpu:.2f}x" if cpu and go_cpu else "n/a"
        lat = r.get("latency") or {}
        p50, p99 = lat.get("p50_ms"), lat.get("p99_ms")
        lat_text = f"{p50:.1f} / {p99:.1f}" if p50 is not None and p99 is not None else "n/a"
        label = f"{r['label']} {r.get('version_text') or ''}".strip()
        lines.append(f"| {label} | {rate:,.0f} | {rate / go_rate:.2f}x | {cpu_text} | {cpu_ratio} | {lat_text} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.readme_table", description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=RESULTS_DIR, help="results folder (default bench/results)")
    args = p.parse_args(argv)
    path = args.results / "enqueue.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        sys.stdout.write(render(doc, str(path)))
        path = args.results / WORKERS_JSON
        if path.exists():
            sys.stdout.write("\n" + render_workers(json.loads(path.read_text(encoding="utf-8")), str(path)))
    except ResultsError as err:
        print(err, file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"{path}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
