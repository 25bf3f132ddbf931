"""Scale-out for ``bench.workers``: 1, 2 and 4 worker processes of each kind on one Redis, and the
targets that compare work_compat's rows with each other and with the Go fork's.

Kinds (a run of k "processes"):

- work_compat ``processes=True``: one pool whose k child processes fetch their own jobs
  (``WorkerPool(k, ..., processes=True)``);
- work_compat threads: k separate worker processes, each ``WorkerPool(8, ...)``;
- Go (the fork): k separate Go programs, each a pool of 8;
- Celery prefork: one worker with ``-c 2k`` (2, 4, 8).

Throughput only (no latency run), one run per cell: each cell is N jobs enqueued first, as in the
main table.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .workers import Bench, System

__all__ = ["render_scale", "render_targets", "run_scale"]

# key -> (label, worker processes for k, concurrency for k (None: --concurrency))
KINDS: dict[str, tuple[str, Any, Any]] = {
    "work_compat_processes": ("work_compat processes=True (k children)", lambda k: 1, lambda k: k),
    "work_compat": ("work_compat threads (k processes x 8)", lambda k: k, lambda k: None),
    "go": ("Go fork pools (k processes x 8)", lambda k: k, lambda k: None),
    "celery_prefork": ("Celery prefork (-c 2k)", lambda k: 1, lambda k: 2 * k),
}


def run_scale(bench: Bench, systems: list[System], ks: list[int], results: dict[str, Any]) -> dict[str, Any]:
    """Run every cell; returns ``{key: {k: run dict or {"error": text}}}``."""
    from .workers import BenchError

    out: dict[str, Any] = {}
    for s in systems:
        if s.key not in KINDS or results.get(s.key, {}).get("status") != "ok":
            continue
        _, procs, conc = KINDS[s.key]
        cells: dict[int, Any] = {}
        for k in ks:
            print(f"scale-out: {s.label}, k={k} ...", file=sys.stderr)
            try:
                cells[k] = bench.run(s, 100 + k, with_latency=False, procs=procs(k), concurrency=conc(k))
            except (BenchError, OSError) as err:
                cells[k] = {"error": str(err)}
                print(f"  FAILED: {err}", file=sys.stderr)
        out[s.key] = cells
    return out


def _rate(cell: Any) -> str:
    if not cell or "error" in cell:
        return "failed"
    return f"{cell['jobs_per_s']:,.0f} ({cell['jobs_per_s_first_to_last'] or 0:,.0f})"


def _cpu(cell: Any) -> str:
    if not cell or "error" in cell or cell.get("redis_cpu_us_per_job") is None:
        return "n/a"
    return f"{cell['redis_cpu_us_per_job']:.1f}"


def render_scale(scale: dict[str, Any], ks: list[int], n: int) -> list[str]:
    if not scale:
        return []
    head = " | ".join(f"k={k} jobs/s (first→last)" for k in ks)
    cpu = " / ".join(f"k={k}" for k in ks)
    lines = [
        "### Scale-out: k worker processes on one Redis",
        "",
        f"| kind | {head} | Redis CPU µs/job {cpu} |",
        "| --- | " + " | ".join("---:" for _ in ks) + " | ---: |",
    ]
    for key, cells in scale.items():
        label = KINDS[key][0]
        lines.append(
            f"| {label} | " + " | ".join(_rate(cells.get(k)) for k in ks) + " | "
            f"{' / '.join(_cpu(cells.get(k)) for k in ks)} |"
        )
    lines += [
        "",
        f"- Each cell: {n:,} no-op jobs enqueued first, then the workers start; jobs/s from the start of the "
        "first worker process to the end of the last handler (start-up included), first→last without it. "
        "One run per cell.",
        "",
    ]
    return lines


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def render_targets(results: dict[str, Any], scale: dict[str, Any]) -> list[str]:
    """The targets, as ratios within this run (benchmarks, not tests), of first→last throughput:
    start-up (spawning children, importing) is a fixed cost that a long-running worker pays once."""

    def main(key: str, field: str = "jobs_per_s_first_to_last") -> float | None:
        value = results.get(key, {}).get(field)
        return float(value) if value else None

    two_threads = scale.get("work_compat", {}).get(2) or {}
    rows = [
        (
            "processes=True c=8 vs one threads process",
            _ratio(main("work_compat_processes"), main("work_compat")),
            ">= 1.4x",
            1.4,
            True,
        ),
        (
            "processes=True c=8 vs two separate threads processes",
            _ratio(main("work_compat_processes"), two_threads.get("jobs_per_s_first_to_last")),
            ">= 0.9x",
            0.9,
            True,
        ),
        (
            "Redis CPU per job, threads vs Go fork",
            _ratio(main("work_compat", "redis_cpu_us_per_job"), main("go", "redis_cpu_us_per_job")),
            "<= 0.6x",
            0.6,
            False,
        ),
        (
            "Redis CPU per job, processes=True vs Go fork",
            _ratio(main("work_compat_processes", "redis_cpu_us_per_job"), main("go", "redis_cpu_us_per_job")),
            "<= 0.6x",
            0.6,
            False,
        ),
        ("one threads process vs Go fork pool", _ratio(main("work_compat"), main("go")), ">= 1.0x", 1.0, True),
    ]
    lines = [
        "### Targets (ratios within this run, of first→last-job throughput)",
        "",
        "| target | ratio | wanted | met |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, ratio, wanted, bound, higher in rows:
        met = "n/a" if ratio is None else ("yes" if (ratio >= bound if higher else ratio <= bound) else "no")
        lines.append(f"| {name} | {'n/a' if ratio is None else f'{ratio:.2f}x'} | {wanted} | {met} |")
    return [*lines, ""]
