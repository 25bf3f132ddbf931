"""``python -m bench.readme_table``: the README's Performance table, from ``bench/results/enqueue.json``.

Prints the sentence that introduces the table and the Markdown table, to paste over the README's:
the pinned Go rows (gocraft/work 5959e69, the ratios' reference, and the fork LarnTechKe/work
v0.0.3), then ``enqueue`` and ``enqueue_many``. Rows that are context only (v0.5.1, raw LPUSH) stay
in ``bench/results/enqueue.md``. ``--results DIR`` reads another results folder.
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.readme_table", description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=RESULTS_DIR, help="results folder (default bench/results)")
    args = p.parse_args(argv)
    path = args.results / "enqueue.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        sys.stdout.write(render(doc, str(path)))
    except ResultsError as err:
        print(err, file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"{path}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
