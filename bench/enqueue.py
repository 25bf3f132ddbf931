"""Enqueue throughput: work_compat's Enqueuer against the Go libraries' Enqueue, on one Redis, in one run.

Run from the repository root::

    python -m bench.enqueue                  # private redis-server on a free loopback port
    python -m bench.enqueue --redis URL      # an existing Redis; its database is FLUSHED

Workload: N (10,000) jobs named ``bench_job`` with args ``{"i": k, "s": "x" * 32}``. Every measured
run starts from FLUSHDB and a fresh namespace and Enqueuer (so the known_jobs cache starts empty on
both sides), builds each job's args inside the timed region, and is checked afterwards (LLEN == N,
the newest job decodes with ``work_compat.decode_job`` to the expected name and args). The runs of
all implementations are interleaved round-robin, so a busy machine disturbs them alike.

Go rows (``--go``): gocraft/work at 5959e69 (the ratios are against it), the fork LarnTechKe/work
v0.0.3, and gocraft/work v0.5.1 as an extra; one program (``bench/go/enqueue`` and
``bench/go/enqueue-fork``) built against each by ``bench/gobuild.py``. A library that cannot be
built is left out with one line saying why.

Results: a Markdown table on stdout, ``bench/results/enqueue.json`` and ``bench/results/enqueue.md``;
``bench/results/enqueue-profile.md`` says where the time goes when a target is missed (or with
``--profile``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

import work_compat
from work_compat import Enqueuer, Job, decode_job, make_identifier
from work_compat.keys import Keys

try:
    from work_compat.enqueue import _LPUSH_CHUNK as LPUSH_CHUNK  # read only: to mirror its pipeline
except ImportError:  # pragma: no cover - the constant moved
    LPUSH_CHUNK = 5000

from .gobuild import LIBRARIES, GoBuildError, GoLibrary, build, find_go

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
OUTPUTS = ("enqueue.md", "enqueue.json", "enqueue-profile.md")  # what a run writes into --results

JOB_NAME = "bench_job"
FILLER = "x" * 32
GO_REFERENCE = "gocraft"  # the Go row the ratios and the target are against
GO_DEFAULT = "gocraft,fork,v0.5.1"

ENQUEUE_RATIO_TARGET = 0.5  # enqueue >= 0.5x Go's Enqueue
MANY_RATE_TARGET = 150_000  # enqueue_many >= 150k jobs/s


class BenchError(RuntimeError):
    """A run produced the wrong data, or a tool it needs failed."""


@dataclass
class Series:
    key: str
    label: str
    n: int
    seconds: list[float]

    @property
    def best_s(self) -> float:
        return min(self.seconds)

    @property
    def median_s(self) -> float:
        return float(statistics.median(self.seconds))

    @property
    def best_rate(self) -> float:
        return self.n / self.best_s

    @property
    def median_rate(self) -> float:
        return self.n / self.median_s


# -- the workloads (each returns the seconds of its timed region) ------------------------------------

RunFn = Callable[[redis.Redis, str, int], float]


def run_enqueue(client: redis.Redis, ns: str, n: int) -> float:
    enq = Enqueuer(ns, client)
    t0 = time.perf_counter()
    for k in range(n):
        enq.enqueue(JOB_NAME, {"i": k, "s": FILLER})
    return time.perf_counter() - t0


def make_run_enqueue_many(batch: int) -> RunFn:
    def run_enqueue_many(client: redis.Redis, ns: str, n: int) -> float:
        enq = Enqueuer(ns, client)
        t0 = time.perf_counter()
        for start in range(0, n, batch):
            enq.enqueue_many([(JOB_NAME, {"i": k, "s": FILLER}) for k in range(start, min(n, start + batch))])
        return time.perf_counter() - t0

    return run_enqueue_many


def encoded_payloads(n: int) -> list[bytes]:
    now = int(time.time())
    return [Job(JOB_NAME, make_identifier(), now, {"i": k, "s": FILLER}).to_bytes() for k in range(n)]


def make_run_raw_lpush(payloads: list[bytes]) -> RunFn:
    def run_raw_lpush(client: redis.Redis, ns: str, n: int) -> float:
        key = Keys(ns).jobs(JOB_NAME)
        data = payloads[:n]
        t0 = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for d in data:
            pipe.lpush(key, d)
        pipe.execute()
        return time.perf_counter() - t0

    return run_raw_lpush


# -- checks -------------------------------------------------------------------------------------------


def check_sample(raw: bytes | str | None, n: int, where: str) -> None:
    """The newest job (LINDEX 0) must be job n-1 with the workload's args."""
    if raw is None:
        raise BenchError(f"{where}: queue is empty")
    job = decode_job(raw)
    if job.name != JOB_NAME or len(job.id) != 24 or job.enqueued_at <= 0 or job.args != {"i": n - 1, "s": FILLER}:
        raise BenchError(f"{where}: unexpected newest job {raw!r}")


def verify(client: redis.Redis, ns: str, n: int, *, known: bool, where: str) -> None:
    keys = Keys(ns)
    queue = keys.jobs(JOB_NAME)
    llen = client.llen(queue)
    if llen != n:
        raise BenchError(f"{where}: LLEN {queue} = {llen}, want {n}")
    check_sample(client.lindex(queue, 0), n, where)
    if known and not client.sismember(keys.known_jobs(), JOB_NAME):
        raise BenchError(f"{where}: {JOB_NAME!r} missing from {keys.known_jobs()}")


def python_run(client: redis.Redis, key: str, fn: RunFn, n: int, *, known: bool = True) -> Callable[[int], float]:
    """One measured run of a Python workload: FLUSHDB, fresh namespace, timed call, checks."""

    def run(r: int) -> float:
        ns = f"bench-enqueue-{key}-{'w' if r < 0 else 'r'}{abs(r)}"
        client.flushdb()
        gc.collect()
        seconds = fn(client, ns, n)
        verify(client, ns, n, known=known, where=f"{key} run {r}")
        return seconds

    return run


def measure_interleaved(
    impls: list[tuple[str, str, Callable[[int], float]]], n: int, runs: int, warmup: int
) -> dict[str, Series]:
    """Run every implementation once per round, rotating who goes first, so that a busy machine
    disturbs them alike: ``warmup`` unrecorded rounds (a fresh Redis is slow to grow its memory
    the first time), then ``runs`` measured ones."""
    seconds: dict[str, list[float]] = {key: [] for key, _, _ in impls}
    for r in range(-warmup, runs):
        shift = r % len(impls)
        for key, _, run in impls[shift:] + impls[:shift]:
            t = run(r)
            if r >= 0:
                seconds[key].append(t)
        what = "warm-up round" if r < 0 else f"round {r + 1}/{runs}"
        print(f"  {what} done", file=sys.stderr)
    out = {key: Series(key, label, n, seconds[key]) for key, label, _ in impls}
    for s in out.values():
        print(f"  {s.label}: best {s.best_rate:,.0f} jobs/s, median {s.median_rate:,.0f} jobs/s", file=sys.stderr)
    return out


# -- Go -----------------------------------------------------------------------------------------------


def go_key(lib: str) -> str:
    return "go_" + lib.replace(".", "")


def go_run(
    binary: Path, lib: GoLibrary, client: redis.Redis, url: str, n: int, docs: list[dict[str, Any]]
) -> Callable[[int], float]:
    """One measured run of the Go program (``-runs 1``; it FLUSHes and times inside), then the checks,
    including that the binary was built against ``lib``."""

    def run(r: int) -> float:
        ns = f"bench-enqueue-{go_key(lib.key)}-{'w' if r < 0 else 'r'}{abs(r)}"
        proc = subprocess.run(
            [str(binary), "-redis", url, "-ns", ns, "-n", str(n), "-runs", "1"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise BenchError(f"{binary.name} failed ({proc.returncode}):\n{proc.stderr.strip()}")
        doc = json.loads(proc.stdout)
        docs.append(doc)
        if not str(doc.get("library", "")).startswith(f"{lib.module} {lib.full_version}"):
            raise BenchError(
                f"{binary.name} reports library {doc.get('library')!r}, want {lib.module} {lib.full_version}"
            )
        (one,) = doc["runs"]
        if one["llen"] != n:
            raise BenchError(f"{go_key(lib.key)} run {r}: LLEN = {one['llen']}, want {n}")
        check_sample(one["sample_job"].encode(), n, f"{go_key(lib.key)} run {r}")
        verify(client, ns, n, known=True, where=f"{go_key(lib.key)} run {r} (read back from Python)")
        return float(one["seconds"])

    return run


# -- machine info -------------------------------------------------------------------------------------


def machine_info(client: redis.Redis, go: str | None, go_runtime: str | None) -> dict[str, Any]:
    try:
        import hiredis

        hiredis_version: str | None = getattr(hiredis, "__version__", "unknown")
    except ImportError:
        hiredis_version = None
    from redis.utils import HIREDIS_AVAILABLE

    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    go_version = None
    if go:
        go_version = subprocess.run([go, "version"], capture_output=True, text=True).stdout.strip() or None
    server = client.info("server")
    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "redis_py": redis.__version__,
        "hiredis": hiredis_version is not None,
        "hiredis_version": hiredis_version,
        "redis_py_uses_hiredis": bool(HIREDIS_AVAILABLE),
        "redis_server": server.get("redis_version"),
        "go": go_version,
        "go_runtime_of_benchmark": go_runtime,
        "work_compat": getattr(work_compat, "__version__", None),
    }


# -- report -------------------------------------------------------------------------------------------


def ratio(s: Series, go: Series | None) -> float | None:
    return None if go is None else s.best_rate / go.best_rate


def targets(series: dict[str, Series], go: Series | None, fork: Series | None) -> list[dict[str, Any]]:
    """The targets, against gocraft/work's ``Enqueue`` (``go``); the fork's ratio is given beside it."""
    enq, many = series["enqueue"], series["enqueue_many_all"]
    fork_text = "" if fork is None else f"; {enq.best_rate / fork.best_rate:.2f}x the fork's {fork.best_rate:,.0f}"
    out: list[dict[str, Any]] = []
    r = ratio(enq, go)
    out.append(
        {
            "name": f"`enqueue` >= {ENQUEUE_RATIO_TARGET}x Go `Enqueue` ({LIBRARIES[GO_REFERENCE].label})",
            "value": r,
            "threshold": ENQUEUE_RATIO_TARGET,
            "met": None if r is None else r >= ENQUEUE_RATIO_TARGET,
            "text": (
                "Go not measured"
                if r is None or go is None
                else f"{r:.2f}x ({enq.best_rate:,.0f} vs {go.best_rate:,.0f} jobs/s, best of runs; "
                f"median {enq.median_rate / go.median_rate:.2f}x{fork_text})"
            ),
        }
    )
    out.append(
        {
            "name": f"`enqueue_many` >= {MANY_RATE_TARGET:,} jobs/s",
            "value": many.best_rate,
            "threshold": MANY_RATE_TARGET,
            "met": many.best_rate >= MANY_RATE_TARGET,
            "text": (
                f"{many.best_rate:,.0f} jobs/s best, {many.median_rate:,.0f} median (one call of {many.n:,}); "
                f"batches of 1,000: {series['enqueue_many_1000'].best_rate:,.0f} best"
            ),
        }
    )
    return out


def render_markdown(
    order: list[Series],
    go: Series | None,
    fork: Series | None,
    tgts: list[dict[str, Any]],
    machine: dict[str, Any],
    n: int,
    runs: int,
    warmup: int,
    go_sources: dict[str, str],
    go_missing: dict[str, str],
) -> str:
    lines = [
        f"# Enqueue throughput ({n:,} jobs per run, best and median of {runs} runs)",
        "",
        f"Generated by `python -m bench.enqueue` on {dt.date.today().isoformat()}.",
        "",
        f"Machine: {machine['cpu_count']} CPUs ({machine['cpu_model'] or 'unknown model'}), "
        f"Python {machine['python']}, redis-py {machine['redis_py']} "
        f"(hiredis {machine['hiredis_version'] if machine['hiredis'] else 'absent'}), "
        f"Redis {machine['redis_server']}, {machine['go'] or 'Go absent'}. "
        "All rows ran in one invocation against the same Redis, their runs interleaved round-robin "
        f"after {warmup} unrecorded warm-up round{'s' if warmup != 1 else ''}"
        + (
            "."
            if machine.get("pinned_cpu") is None
            else f"; this process, redis-server and the Go program all pinned to CPU {machine['pinned_cpu']}."
        ),
        "",
        f"| implementation | jobs/s (best) | jobs/s (median) | vs {LIBRARIES[GO_REFERENCE].label} "
        f"| vs {LIBRARIES['fork'].label} |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for s in order:
        cells = ["n/a" if r is None else f"{r:.2f}x" for r in (ratio(s, go), ratio(s, fork))]
        lines.append(f"| {s.label} | {s.best_rate:,.0f} | {s.median_rate:,.0f} | {cells[0]} | {cells[1]} |")
    lines += [
        "",
        "Ratios: best jobs/s over that Go row's best jobs/s. The raw LPUSH row is context only: pre-encoded "
        "bytes, no job building, the ceiling for a pure-Python redis-py client.",
        "",
    ]
    for key, source in sorted(go_sources.items()):
        lines.append(f"- Go {LIBRARIES[key].label}: built from the {source}.")
    for key, why in sorted(go_missing.items()):
        lines.append(f"- Go {LIBRARIES[key].label}: not measured: {why}")
    if go_sources or go_missing:
        lines.append("")
    for t in tgts:
        status = "not measured" if t["met"] is None else ("MET" if t["met"] else "NOT MET")
        lines.append(f"- Target {t['name']}: **{status}**: {t['text']}")
    return "\n".join(lines) + "\n"


# -- profile ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.enqueue", description=__doc__.split("\n\n")[0])
    p.add_argument("--redis", metavar="URL", help="use this Redis (its database is FLUSHED) instead of a private one")
    p.add_argument("-n", type=int, default=10_000, help="jobs per run (default 10000)")
    p.add_argument("--runs", type=int, default=5, help="measured runs per implementation (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="unrecorded rounds before them (default 1)")
    p.add_argument(
        "--go",
        default=GO_DEFAULT,
        metavar="LIST",
        help=f"Go rows, from {', '.join(LIBRARIES)} (default {GO_DEFAULT}); ratios are against "
        f"{GO_REFERENCE}, which must be among them to get ratios",
    )
    p.add_argument("--no-go", action="store_true", help="no Go rows (the same as --go '')")
    p.add_argument(
        "--pin",
        type=int,
        metavar="CPU",
        help="run this process, the private redis-server and the Go program on one CPU (Linux). On a small VM "
        "this takes cross-CPU wake-up latency out of per-call round trips",
    )
    p.add_argument("--profile", action="store_true", help="profile even when the targets are met")
    p.add_argument("--results", type=Path, default=RESULTS_DIR, help="output directory (default bench/results)")
    args = p.parse_args(argv)
    if args.n <= 0 or args.runs <= 0 or args.warmup < 0:
        p.error("-n and --runs must be positive, --warmup not negative")
    args.go_libs = [] if args.no_go else [k.strip() for k in args.go.split(",") if k.strip()]
    unknown = [k for k in args.go_libs if k not in LIBRARIES]
    if unknown:
        p.error(f"unknown Go row(s) {', '.join(unknown)}; known: {', '.join(LIBRARIES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    n, runs = args.n, args.runs
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})  # children (redis-server, the Go program) inherit it
    go = find_go()
    go_binaries: dict[str, Path] = {}
    go_sources: dict[str, str] = {}
    go_missing: dict[str, str] = {}
    for lib in args.go_libs:
        if go is None:
            go_missing[lib] = "the Go toolchain (`go`) was not found"
            continue
        print(f"building the Go program against {LIBRARIES[lib].label} ...", file=sys.stderr)
        try:
            built = build("enqueue", lib)
        except GoBuildError as err:
            go_missing[lib] = str(err).splitlines()[0]
            print(f"  left out: {err}", file=sys.stderr)
            continue
        go_binaries[lib], go_sources[lib] = built.binary, built.source

    server = None
    if args.redis:
        url = args.redis
    else:
        from work_compat.embedded import EmbeddedRedis as RedisServer

        server = RedisServer().start()
        url = server.url
    try:
        client = redis.Redis.from_url(url)
        client.ping()
        print(f"Redis at {url}; {n:,} jobs per run, {runs} runs each", file=sys.stderr)

        impls: list[tuple[str, str, Callable[[int], float]]] = []
        go_docs: dict[str, list[dict[str, Any]]] = {}
        for lib, binary in go_binaries.items():
            spec = LIBRARIES[lib]
            impls.append(
                (
                    go_key(lib),
                    f"Go {spec.module} {spec.full_version} `Enqueue` (1 goroutine, 1 call per job)",
                    go_run(binary, spec, client, url, n, go_docs.setdefault(lib, [])),
                )
            )
        impls += [
            (
                "enqueue",
                "work_compat `Enqueuer.enqueue` (1 thread, 1 call per job)",
                python_run(client, "enqueue", run_enqueue, n),
            ),
            (
                "enqueue_many_all",
                f"work_compat `Enqueuer.enqueue_many` (1 call of {n:,} jobs)",
                python_run(client, "enqueue_many_all", make_run_enqueue_many(n), n),
            ),
            (
                "enqueue_many_1000",
                f"work_compat `Enqueuer.enqueue_many` ({-(-n // 1000)} calls of 1,000 jobs)",
                python_run(client, "enqueue_many_1000", make_run_enqueue_many(1000), n),
            ),
            (
                "raw_lpush_pipeline",
                f"redis-py raw pipelined LPUSH ({n:,} pre-encoded, 1 pipeline; context)",
                python_run(client, "raw_lpush_pipeline", make_run_raw_lpush(encoded_payloads(n)), n, known=False),
            ),
        ]
        series = measure_interleaved(impls, n, runs, args.warmup)
        go_rows = [series.pop(go_key(lib)) for lib in go_binaries]
        go_series = next((s for s in go_rows if s.key == go_key(GO_REFERENCE)), None)
        fork_series = next((s for s in go_rows if s.key == go_key("fork")), None)
        go_doc = next((docs[0] for docs in go_docs.values() if docs), None)
        order = go_rows + list(series.values())
        machine = machine_info(client, go, go_doc["go_version"] if go_doc else None)
        machine["pinned_cpu"] = args.pin
        tgts = targets(series, go_series, fork_series)
        md = render_markdown(order, go_series, fork_series, tgts, machine, n, runs, args.warmup, go_sources, go_missing)

        args.results.mkdir(parents=True, exist_ok=True)
        profile_path = args.results / "enqueue-profile.md"
        missed = any(t["met"] is False for t in tgts)
        profile_summary = None
        if missed or args.profile:
            from .enqueue_profile import write_profile  # imports this module back: load it late

            profile_summary = write_profile(client, n, series, go_series, profile_path)
        else:
            profile_path.write_text(
                "# Where enqueue time goes\n\nAll targets were met in the last run, so "
                "nothing was profiled; `python -m bench.enqueue --profile` profiles anyway.\n"
            )

        doc = {
            "benchmark": "enqueue",
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": "python -m bench.enqueue " + " ".join(argv if argv is not None else sys.argv[1:]),
            "redis": "private redis-server on 127.0.0.1" if server else "given by --redis",
            "workload": {
                "job_name": JOB_NAME,
                "args": '{"i": k, "s": "x" * 32}',
                "n": n,
                "runs": runs,
                "fresh_namespace_and_flushdb_per_run": True,
                "runs_interleaved_round_robin": True,
                "warmup_rounds_unrecorded": args.warmup,
                "pinned_to_cpu": args.pin,
            },
            "machine": machine,
            "results": [
                {
                    "key": s.key,
                    "label": s.label,
                    "seconds": s.seconds,
                    "best_s": s.best_s,
                    "median_s": s.median_s,
                    "best_jobs_per_s": s.best_rate,
                    "median_jobs_per_s": s.median_rate,
                    "ratio_vs_go_best": ratio(s, go_series),
                    "ratio_vs_go_median": None if go_series is None else s.median_rate / go_series.median_rate,
                    "ratio_vs_fork_best": ratio(s, fork_series),
                }
                for s in order
            ],
            "go_reference": go_key(GO_REFERENCE) if go_series is not None else None,
            "go_programs": {
                go_key(lib): {
                    "library": docs[0]["library"] if docs else None,
                    "built_from": go_sources[lib],
                }
                for lib, docs in go_docs.items()
            },
            "go_not_measured": {go_key(lib): why for lib, why in go_missing.items()},
            "targets": [{k: v for k, v in t.items() if k != "text"} | {"detail": t["text"]} for t in tgts],
            "profile": str(profile_path) if profile_summary else None,
        }
        (args.results / "enqueue.json").write_text(json.dumps(doc, indent=2) + "\n")
        (args.results / "enqueue.md").write_text(md)
        print()
        print(md)
        if profile_summary:
            print(f"Profile ({profile_path}):")
            print(profile_summary)
        print("results: " + ", ".join(str(args.results / name) for name in OUTPUTS), file=sys.stderr)
        return 0
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
