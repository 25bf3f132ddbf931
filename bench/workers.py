"""Worker throughput and latency: the Go pool, work_compat's pool and the Python job systems, side by side.

Run from the repository root::

    python -m bench.workers                       # every system, private redis-server
    python -m bench.workers --only go,celery,rq   # some of them
    python -m bench.workers --setup-arq           # first make bench/.build/venv-arq (arq pins redis<6)

Systems, each with concurrency 8, one at a time, each in its own Redis database of ONE Redis (FLUSHDB
before and after), each worker in its own subprocess (runner modules in ``bench/peers/``):

- Go: the ``WorkerPool`` of the fork ``github.com/LarnTechKe/work`` v0.0.3 (job history on, as
  work_compat's), and of ``github.com/gocraft/work`` at 5959e69 (no history) beside it: one program,
  ``bench/go/workers`` and ``bench/go/workers-fork``, built against each (``bench/gobuild.py``). It
  enqueues nothing: work_compat's ``Enqueuer`` fills its queue.
- work_compat's ``WorkerPool`` (threads, and ``processes=True``); "not available yet" when
  ``from work_compat import WorkerPool`` fails.
- Celery (prefork pool, threads pool), RQ, Dramatiq, arq, Huey, with their own enqueue APIs and
  their defaults (results and history kept where they keep them by default).

Workloads:

1. Throughput: N (10,000) no-op jobs with args ``{"i": k, "s": "x" * 32}`` enqueued before the
   worker starts; wall time from starting the worker process until the last handler returned.
2. Latency at light load: after the throughput run, with the worker idle for ``--idle`` (1) s,
   ``--lead-in-s`` (6) seconds of unrecorded jobs, then 500 recorded ones, are enqueued one at a time
   at 200/s, each carrying ``time.time()`` from just before its enqueue call; latency = handler
   start - that time. The lead-in wakes pollers that backed off while idle (gocraft/work sleeps up
   to 5 s); the first lead-in job's latency is reported as the wake-up latency.
3. Memory: RSS (and PSS) summed over the worker's process tree right after the throughput run.
4. Redis CPU per job: Redis's own ``used_cpu_sys + used_cpu_user`` (INFO cpu) over the throughput
   run, from just before the worker starts to its last job, divided by the jobs.
5. Scale-out (``--scale``): throughput of 1, 2 and 4 worker processes of each kind on one Redis
   (``bench/scale.py``).

Every handler, in every system, does the same thing: it makes one 32-byte record (job ``i``, start
ns, end ns, enqueue ns) that a thread of its process writes, with others, to a FIFO this process
reads (``bench/peers/_common.py``). Results: a Markdown table on stdout and in
``bench/results/workers.md``, everything in ``bench/results/workers.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from .gobuild import LIBRARIES, GoBuildError, build, find_go
from .scale import render_scale, render_targets, run_scale

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
BUILD_DIR = BENCH_DIR / ".build"
ARQ_VENV = BUILD_DIR / "venv-arq"
RESULTS_DIR = BENCH_DIR / "results"
OUTPUTS = ("workers.md", "workers.json")  # what a run writes into --results

GO_NOTE = (
    "The Go rows run the fork github.com/LarnTechKe/work v0.0.3 (job history on, as work_compat's; the ratios "
    "are against it) and github.com/gocraft/work 5959e69 (no history), the same program built against each."
)
NAMESPACE = "bench-workers"
JOB_NAME = "noop"
RECORD_SIZE = 32
READ_PAUSE = 0.005  # seconds between reads of the report FIFO (it holds 1 MiB: 32k records)
OVERLOAD_FACTOR = 1.25  # latency marked † when first→last throughput < this x the enqueue rate
UNAVAILABLE = 3
STOP_RECORD = (-(2**63), 0, 0, 0)


class BenchError(RuntimeError):
    """A system failed: it crashed, timed out or processed the wrong jobs."""


@dataclass
class System:
    key: str
    label: str
    kind: str  # "go", "work_compat" or "peer"
    module: str  # runner module under bench.peers (for Go: the enqueuing side)
    mode: str
    db: int
    notes: str
    python: str = sys.executable
    version: dict[str, Any] = field(default_factory=dict)
    go_lib: str = ""  # for kind "go": a key of bench.gobuild.LIBRARIES


def all_systems(arq_python: str) -> list[System]:
    return [
        System(
            "go",
            "Go LarnTechKe/work WorkerPool (fork)",
            "go",
            "work_compat_pool",
            "enqueue-only",
            1,
            "concurrency 8; redigo pool; job history on (the fork always keeps it); enqueued with work_compat's "
            "Enqueuer (enqueue_many; enqueue for latency); idle workers back off 0/10/100/1000/5000 ms",
            go_lib="fork",
        ),
        System(
            "go_gocraft",
            "Go gocraft/work WorkerPool",
            "go",
            "work_compat_pool",
            "enqueue-only",
            12,
            "as the fork's row, with github.com/gocraft/work at 5959e69 (no job history)",
            go_lib="gocraft",
        ),
        System(
            "work_compat",
            "work_compat WorkerPool (threads)",
            "work_compat",
            "work_compat_pool",
            "threads",
            2,
            "WorkerPool(8, ns, url); job history on (its default)",
        ),
        System(
            "work_compat_processes",
            "work_compat WorkerPool (processes)",
            "work_compat",
            "work_compat_pool",
            "processes",
            3,
            "WorkerPool(8, ns, url, processes=True); job history on (its default)",
        ),
        System(
            "celery_prefork",
            "Celery prefork",
            "peer",
            "celery_peer",
            "prefork",
            4,
            "worker --pool=prefork --concurrency=8; Redis broker; no result backend (default); mingle, "
            "gossip, heartbeat on (defaults)",
        ),
        System(
            "celery_threads",
            "Celery threads",
            "peer",
            "celery_peer",
            "threads",
            5,
            "worker --pool=threads --concurrency=8; otherwise as prefork",
        ),
        System(
            "celery_shim_threads",
            "celery_shim threads",
            "celery_shim",
            "celery_shim_peer",
            "threads",
            10,
            "the Celery runner's task module with `from celery_shim import Celery`; WorkController(app, "
            "concurrency=8, pool='threads'); no result backend; job history on (default)",
        ),
        System(
            "celery_shim_prefork",
            "celery_shim prefork",
            "celery_shim",
            "celery_shim_peer",
            "prefork",
            11,
            "as threads, with pool='prefork' (child processes)",
        ),
        System(
            "rq",
            "RQ",
            "peer",
            "rq_peer",
            "",
            6,
            "rq WorkerPool of 8 workers (`rq worker-pool -n 8`); default Worker forks a horse per job; "
            "results kept 500 s (default)",
        ),
        System(
            "dramatiq",
            "Dramatiq",
            "peer",
            "dramatiq_peer",
            "",
            7,
            "`dramatiq --processes 1 --threads 8` (8 is its default thread count); RedisBroker, default "
            "middleware, no results",
        ),
        System(
            "arq",
            "arq",
            "peer",
            "arq_peer",
            "",
            8,
            "Worker(max_jobs=8); results kept 3600 s and poll_delay 0.5 s (defaults); own venv (arq pins redis<6)",
            python=arq_python,
        ),
        System(
            "huey",
            "Huey",
            "peer",
            "huey_peer",
            "",
            9,
            "consumer with 8 thread workers (`huey_consumer -w 8`); blocking BRPOP dequeue (default)",
        ),
    ]


# -- the report FIFO ----------------------------------------------------------------------------------


class Reporter:
    """Reads the 32-byte records that every handler writes to one FIFO, on a thread of its own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path, 0o600)
        self.fd = os.open(path, os.O_RDWR)  # never blocks, never sees EOF when writers come and go
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.fd, 1031, 1 << 20)  # F_SETPIPE_SZ: 1 MiB, so writers never wait on us
        self.cond = threading.Condition()
        self.records: list[tuple[int, int, int, int]] = []
        self.distinct: set[int] = set()
        self.thread = threading.Thread(target=self._run, name="report-reader", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import struct

        rec = struct.Struct("<qqqq")
        buf = b""
        while True:
            data = os.read(self.fd, 1 << 16)
            buf += data
            whole = len(buf) - len(buf) % RECORD_SIZE
            got = list(rec.iter_unpack(buf[:whole]))
            buf = buf[whole:]
            with self.cond:
                for r in got:
                    if r == STOP_RECORD:
                        self.cond.notify_all()
                        return
                    self.records.append(r)
                    self.distinct.add(r[0])
                self.cond.notify_all()
            # Records carry their own times, so reading late changes no figure; reading each one as
            # it lands would wake this thread per job and take CPU from the system being measured.
            time.sleep(READ_PAUSE)

    def reset(self) -> None:
        with self.cond:
            self.records = []
            self.distinct = set()

    def snapshot(self) -> list[tuple[int, int, int, int]]:
        with self.cond:
            return list(self.records)

    def wait_distinct(
        self, want: int, deadline: float, proc: subprocess.Popen[bytes] | None, what: str, t0_ns: int = 0
    ) -> None:
        """Return once ``want`` distinct jobs reported; BenchError when the worker died or time ran out
        (with the rate so far when ``t0_ns``, the worker's start, is given)."""
        with self.cond:
            while len(self.distinct) < want:
                left = deadline - time.monotonic()
                if left <= 0:
                    done = len(self.distinct)
                    rate = ""
                    if t0_ns and done:
                        rate = f" ({done / ((max(r[2] for r in self.records) - t0_ns) / 1e9):,.0f} jobs/s so far)"
                    raise BenchError(f"{what}: timed out with {done:,} of {want:,} jobs done{rate}")
                if proc is not None and proc.poll() is not None:
                    raise BenchError(
                        f"{what}: worker exited with code {proc.returncode} after "
                        f"{len(self.distinct):,} of {want:,} jobs"
                    )
                self.cond.wait(min(left, 0.2))

    def close(self) -> None:
        import struct

        os.write(self.fd, struct.pack("<qqqq", *STOP_RECORD))
        self.thread.join(5)
        os.close(self.fd)


# -- process trees ------------------------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _kb(path: str, label: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(label):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_memory(root: int) -> dict[str, Any]:
    pids = [p for p in process_tree(root) if Path(f"/proc/{p}").exists()]
    rss = sum(_kb(f"/proc/{p}/status", "VmRSS:") for p in pids)
    pss = sum(_kb(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
    return {"processes": len(pids), "rss_mb": rss / 1024, "pss_mb": pss / 1024}


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid``, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(entry))
    return out


def stop_group(proc: subprocess.Popen[bytes], grace: float) -> str:
    """SIGTERM the worker (the leader of its own process group), as its own shutdown expects; SIGKILL the
    whole group after ``grace`` seconds, and any of its processes that outlived the leader."""
    how = "exited by itself"
    if proc.poll() is None:
        how = "SIGTERM"
        t0 = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
            how = f"SIGTERM, exited in {time.monotonic() - t0:.1f}s"
        except subprocess.TimeoutExpired:
            how = f"SIGKILL after {grace:.0f}s"
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    left = group_members(proc.pid)
    if left:
        how += f"; {len(left)} leftover process(es) killed"
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    return how


# -- running one system -------------------------------------------------------------------------------


def with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


class Bench:
    def __init__(self, args: argparse.Namespace, base_url: str, go_binaries: dict[str, Path], workdir: Path) -> None:
        self.args = args
        self.base_url = base_url
        self.go_binaries = go_binaries
        self.workdir = workdir
        self.reporter = Reporter(workdir / "report.fifo")

    def url(self, s: System) -> str:
        return with_db(self.base_url, s.db)

    def env(self, s: System, worker: bool) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
        env["BENCH_BROKER_URL"] = self.url(s)
        env.pop("BENCH_REPORT_FIFO", None)
        if worker:
            env["BENCH_REPORT_FIFO"] = str(self.reporter.path)
        return env

    def peer_cmd(self, s: System, role: str, *extra: str) -> list[str]:
        return [s.python, "-m", "bench.peers", s.module, role, "--url", self.url(s), "--mode", s.mode, *extra]

    def run_role(self, s: System, role: str, timeout: float, *extra: str) -> dict[str, Any]:
        try:
            proc = subprocess.run(
                self.peer_cmd(s, role, *extra),
                cwd=REPO,
                env=self.env(s, False),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"{role}: timed out after {timeout:.0f}s") from None
        doc: dict[str, Any] = {}
        lines = proc.stdout.strip().splitlines()
        if lines:
            with contextlib.suppress(ValueError):
                doc = json.loads(lines[-1])
        if proc.returncode == UNAVAILABLE:
            doc.setdefault("unavailable", "not available")
            return doc
        if proc.returncode != 0:
            raise BenchError(f"{role} exited with {proc.returncode}: {tail(proc.stderr or proc.stdout)}")
        return doc

    def check(self, s: System) -> str | None:
        """None when the system can run, else why not."""
        if s.kind == "go" and s.go_lib not in self.go_binaries:
            return "not run: go not found or the build failed"
        doc = self.run_role(s, "check", 120)
        if "unavailable" in doc:
            return str(doc["unavailable"])
        s.version = doc
        return None

    def flush(self, s: System) -> None:
        client = redis.Redis.from_url(self.url(s))
        try:
            client.flushdb()
        finally:
            client.close()

    def worker_cmd(self, s: System, expect: int, concurrency: int) -> list[str]:
        if s.kind == "go":
            return [
                str(self.go_binaries[s.go_lib]),
                "-redis",
                self.url(s),
                "-ns",
                NAMESPACE,
                "-job",
                JOB_NAME,
                "-concurrency",
                str(concurrency),
                "-n",
                str(expect),
                "-report",
                str(self.reporter.path),
                "-timeout",
                f"{int(self.args.timeout) + 120}s",
            ]
        return self.peer_cmd(s, "worker", "--concurrency", str(concurrency))

    def redis_cpu(self) -> float:
        """Seconds of CPU the Redis server has used (user + system)."""
        client = redis.Redis.from_url(self.base_url)
        try:
            info = client.info("cpu")
        finally:
            client.close()
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    def run(
        self, s: System, r: int, with_latency: bool, procs: int = 1, concurrency: int | None = None
    ) -> dict[str, Any]:
        """One throughput run (and the latency test after it when ``with_latency``), of ``procs``
        worker processes of ``concurrency`` each (default ``--concurrency``)."""
        a, n = self.args, self.args.n
        conc = a.concurrency if concurrency is None else concurrency
        lat_total = a.lead_in + a.latency_n if with_latency and a.latency_n > 0 else 0
        out: dict[str, Any] = {"run": r + 1, "loadavg_at_start": os.getloadavg()}
        self.flush(s)
        self.reporter.reset()
        try:
            enqueued = self.run_role(s, "enqueue", a.timeout, "-n", str(n))
            out["enqueue_s"] = enqueued["seconds"]
            if enqueued.get("lpush_floor_seconds"):  # celery_shim: raw-socket LPUSH round trips, same process
                out["lpush_floor_s"] = enqueued["lpush_floor_seconds"]
        except BaseException:
            with contextlib.suppress(redis.RedisError):
                self.flush(s)
            raise

        log_path = self.workdir / f"{s.key}-{r}-{procs}x{conc}.log"
        stdout_path = self.workdir / f"{s.key}-{r}-{procs}x{conc}.out"
        cpu0 = self.redis_cpu()
        workers: list[subprocess.Popen[bytes]] = []
        with open(log_path, "wb") as log, open(stdout_path, "wb") as stdout:
            t0_ns = time.time_ns()
            for _ in range(procs):
                workers.append(
                    subprocess.Popen(
                        self.worker_cmd(s, n + lat_total, conc),
                        cwd=REPO,
                        env=self.env(s, True),
                        stdin=subprocess.DEVNULL,
                        stdout=stdout if s.kind == "go" else log,
                        stderr=log,
                        start_new_session=True,
                    )
                )
        proc = workers[0]
        try:
            self.reporter.wait_distinct(n, time.monotonic() + a.timeout, proc, "throughput", t0_ns)
            out["redis_cpu_us_per_job"] = (self.redis_cpu() - cpu0) / n * 1e6
            recs = self.reporter.snapshot()
            if any(rec[3] != 0 for rec in recs) or self.reporter.distinct != set(range(n)):
                raise BenchError("throughput: the handlers reported jobs that were not enqueued")
            first_start = min(rec[1] for rec in recs)
            last_end = max(rec[2] for rec in recs)
            out.update(
                jobs=n,
                duplicates=len(recs) - n,
                wall_s=(last_end - t0_ns) / 1e9,
                first_job_after_s=(first_start - t0_ns) / 1e9,
                processing_s=(last_end - first_start) / 1e9,
            )
            out["jobs_per_s"] = n / out["wall_s"]
            out["jobs_per_s_first_to_last"] = n / out["processing_s"] if out["processing_s"] > 0 else None
            trees = [tree_memory(w.pid) for w in workers]
            out["memory"] = {k: sum(t[k] for t in trees) for k in ("processes", "rss_mb", "pss_mb")}
            out["worker_processes"], out["concurrency"] = procs, conc
            print(
                f"  {s.key} run {r + 1}: {out['jobs_per_s']:,.0f} jobs/s ({out['wall_s']:.2f}s, first job after "
                f"{out['first_job_after_s']:.2f}s), RSS {out['memory']['rss_mb']:.0f} MB in "
                f"{out['memory']['processes']} processes",
                file=sys.stderr,
            )
            if lat_total:
                out["latency"] = self.latency(s, proc)
            if procs == 1:
                out["stopped"] = self.finish(s, proc, stdout_path, out)
            else:  # several Go programs never each see n jobs: stop them all
                out["stopped"] = "; ".join(stop_group(w, a.grace) for w in workers)
        except BaseException as err:
            for w in workers:
                stop_group(w, 5)
            if isinstance(err, BenchError):
                err.args = (f"{err.args[0]}; worker log: {tail(log_path.read_text(errors='replace'))}",)
            raise
        finally:
            with contextlib.suppress(redis.RedisError):
                self.flush(s)
        return out

    def latency(self, s: System, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
        a = self.args
        time.sleep(a.idle)
        if proc.poll() is not None:
            raise BenchError(f"latency: worker exited with code {proc.returncode} while idle")
        self.reporter.reset()
        total = a.lead_in + a.latency_n
        send_s = total / a.rate
        extra = ["-n", str(a.latency_n), "--lead-in", str(a.lead_in), "--rate", str(a.rate)]
        doc = self.run_role(s, "latency", send_s + 60, *extra)
        self.reporter.wait_distinct(total, time.monotonic() + a.latency_timeout, proc, "latency")
        recs = self.reporter.snapshot()
        if self.reporter.distinct != set(range(total)) or any(rec[3] == 0 for rec in recs):
            raise BenchError("latency: the handlers reported jobs that were not enqueued")
        by_i: dict[int, float] = {}
        for i, start, _end, enq in recs:
            by_i.setdefault(i, (start - enq) / 1e6)  # a redelivered job counts once, at its first start
        lat = sorted(v for i, v in by_i.items() if i >= a.lead_in)
        result = {
            "jobs": len(lat),
            "lead_in_jobs": a.lead_in,
            "rate_per_s": a.rate,
            "idle_before_s": a.idle,
            "enqueue_loop_s": doc.get("seconds"),
            "achieved_rate_per_s": total / doc["seconds"] if doc.get("seconds") else None,
            "p50_ms": percentile(lat, 0.50),
            "p90_ms": percentile(lat, 0.90),
            "p99_ms": percentile(lat, 0.99),
            "max_ms": lat[-1],
            "mean_ms": statistics.fmean(lat),
            "first_job_after_idle_ms": by_i.get(0),
        }
        print(
            f"  {s.key} latency: p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms "
            f"(first job after idle {result['first_job_after_idle_ms']:.1f} ms)",
            file=sys.stderr,
        )
        return result

    def finish(self, s: System, proc: subprocess.Popen[bytes], stdout_path: Path, out: dict[str, Any]) -> str:
        if s.kind != "go":
            return stop_group(proc, self.args.grace)
        try:
            proc.wait(15)  # the Go program stops its pool and exits once it has seen every job
        except subprocess.TimeoutExpired:
            pass
        how = stop_group(proc, self.args.grace)
        try:
            doc = json.loads(stdout_path.read_text())
        except ValueError as err:
            raise BenchError(f"go: no JSON on stdout ({err})") from None
        lat = doc["latency"]
        check: dict[str, Any] = {
            "library": doc["library"],
            "go_version": doc["go_version"],
            "complete": doc["complete"],
            "seen": doc["seen"],
            "throughput_count": doc["throughput"]["count"],
            "first_start_ns": doc["throughput"]["first_start_ns"],
            "last_end_ns": doc["throughput"]["last_end_ns"],
            "latency_count": lat["count"],
        }
        if lat["count"]:
            own = sorted(
                (st - enq) / 1e6
                for i, st, enq in zip(lat["i"], lat["start_ns"], lat["enqueued_ns"])
                if i >= self.args.lead_in
            )
            check["latency_p50_ms"] = percentile(own, 0.5)
            check["latency_p99_ms"] = percentile(own, 0.99)
        if not doc["complete"] or doc["throughput"]["count"] != self.args.n:
            raise BenchError(f"go: the program's own count disagrees: {check}")
        out["go_program"] = check
        s.version.setdefault("go_version", doc["go_version"])
        return how


def tail(text: str, lines: int = 12) -> str:
    got = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(got[-lines:]) if got else "(empty)"


def setup_arq() -> None:
    """A virtualenv with arq (which pins redis<6) beside the project's environment."""
    py = ARQ_VENV / "bin" / "python"
    if not py.exists():
        print(f"making {ARQ_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(ARQ_VENV)], check=True)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "arq"], check=True, timeout=600
    )


def default_arq_python() -> str:
    py = ARQ_VENV / "bin" / "python"
    return str(py) if py.exists() else sys.executable


# -- report -------------------------------------------------------------------------------------------


def summarize(systems: list[System], results: dict[str, dict[str, Any]]) -> None:
    """Best run per system and the ratios, written into ``results``."""
    for s in systems:
        res = results[s.key]
        runs = [r for r in res.get("runs", []) if "jobs_per_s" in r]
        if res["status"] == "ok" and runs:
            best = max(runs, key=lambda r: r["jobs_per_s"])
            res["best_run"] = best["run"]
            res["jobs_per_s"] = best["jobs_per_s"]
            res["first_job_after_s"] = best["first_job_after_s"]
            res["jobs_per_s_first_to_last"] = best["jobs_per_s_first_to_last"]
            res["rss_mb"] = max(r["memory"]["rss_mb"] for r in runs)
            res["pss_mb"] = max(r["memory"]["pss_mb"] for r in runs)
            res["processes"] = runs[-1]["memory"]["processes"]
            res["redis_cpu_us_per_job"] = best.get("redis_cpu_us_per_job")
            res["latency"] = next((r["latency"] for r in reversed(runs) if "latency" in r), None)
            if res["latency"]:
                capacity = best["jobs_per_s_first_to_last"] or 0.0
                res["latency"]["at_capacity"] = capacity < OVERLOAD_FACTOR * res["latency"]["rate_per_s"]
    go = results.get("go", {}).get("jobs_per_s")
    peers = [(results[s.key].get("jobs_per_s"), s.key) for s in systems if s.kind == "peer"]
    peers = [(rate, key) for rate, key in peers if rate]
    best_peer = max(peers) if peers else None
    for s in systems:
        res = results[s.key]
        rate = res.get("jobs_per_s")
        res["ratio_vs_go"] = rate / go if rate and go else None
        go_cpu = results.get("go", {}).get("redis_cpu_us_per_job")
        cpu = res.get("redis_cpu_us_per_job")
        res["redis_cpu_ratio_vs_go"] = cpu / go_cpu if cpu and go_cpu else None
        res["ratio_vs_best_python_peer"] = rate / best_peer[0] if rate and best_peer else None
    results["_best_python_peer"] = {"key": best_peer[1], "jobs_per_s": best_peer[0]} if best_peer else {}
    # celery_shim against Celery itself: task throughput and delay() throughput, best of each side
    for s in systems:
        res = results[s.key]
        enq = [r for r in res.get("runs", []) if r.get("enqueue_s")]
        best_enq = min(enq, key=lambda r: r["enqueue_s"]) if enq else None
        res["enqueue_per_s"] = args_n(res) / best_enq["enqueue_s"] if best_enq and args_n(res) else None
        floors = best_enq.get("lpush_floor_s") if best_enq else None  # just before and after that run's calls
        res["lpush_floor_per_s"] = [args_n(res) / f for f in floors] if floors and args_n(res) else None
    celery = [results[s.key] for s in systems if s.key.startswith("celery_") and s.kind == "peer"]
    best_tasks = max((r.get("jobs_per_s") or 0 for r in celery), default=0)
    best_delay = max((r.get("enqueue_per_s") or 0 for r in celery), default=0)
    for s in systems:
        res = results[s.key]
        res["ratio_vs_celery"] = res["jobs_per_s"] / best_tasks if res.get("jobs_per_s") and best_tasks else None
        res["delay_ratio_vs_celery"] = (
            res["enqueue_per_s"] / best_delay if res.get("enqueue_per_s") and best_delay else None
        )


def args_n(res: dict[str, Any]) -> int:
    """Jobs enqueued per throughput run, as recorded with the results."""
    return int(res.get("n") or 0)


def fmt(v: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if v is None else f"{v:{spec}}{suffix}"


def render_markdown(
    systems: list[System],
    results: dict[str, dict[str, Any]],
    machine: dict[str, Any],
    a: argparse.Namespace,
    total_s: float,
) -> str:
    best_peer = results.get("_best_python_peer") or {}
    best_label = next((s.label for s in systems if s.key == best_peer.get("key")), "n/a")
    lines = [
        f"# Worker throughput and latency ({a.n:,} no-op jobs, concurrency {a.concurrency})",
        "",
        f"Generated by `python -m bench.workers` on {dt.date.today().isoformat()} in {total_s:.0f} s.",
        "",
        f"Machine: {machine['cpu_count']} CPUs ({machine['cpu_model'] or 'unknown model'}), "
        f"Python {machine['python']}, redis-py {machine['redis_py']} "
        f"(hiredis {machine['hiredis_version'] if machine['hiredis'] else 'absent'}), "
        f"Redis {machine['redis_server']}, {machine['go'] or 'Go absent'}. One Redis, one database per system, "
        "systems run one after another, each worker in its own process tree. Load average (1 min) "
        f"{machine['loadavg_start'][0]:.2f} at the start, {machine['loadavg_end'][0]:.2f} at the end.",
        "",
        GO_NOTE,
        "",
        "| system | jobs/s | ratio vs Go pool | ratio vs best Python peer | p50 ms | p99 ms | RSS MB "
        "| PSS MB | processes | first job after s | jobs/s first→last job | wake-up ms | Redis CPU µs/job "
        "| Redis CPU vs Go |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in systems:
        res = results[s.key]
        name = s.label + (f" {res['version_text']}" if res.get("version_text") else "")
        if res["status"] != "ok":
            lines.append(f"| {name} | {res['status_text']} | | | | | | | | | | | | |")
            continue
        lat = res.get("latency") or {}
        mark = " †" if lat.get("at_capacity") else ""
        lines.append(
            f"| {name} | {res['jobs_per_s']:,.0f} | {fmt(res['ratio_vs_go'], '.2f', 'x')} "
            f"| {fmt(res['ratio_vs_best_python_peer'], '.2f', 'x')} | {fmt(lat.get('p50_ms'), ',.2f')}{mark} "
            f"| {fmt(lat.get('p99_ms'), ',.2f')}{mark} | {res['rss_mb']:.0f} | {res['pss_mb']:.0f} "
            f"| {res['processes']} "
            f"| {res['first_job_after_s']:.2f} | {fmt(res['jobs_per_s_first_to_last'], ',.0f')} "
            f"| {fmt(lat.get('first_job_after_idle_ms'), ',.0f')} | {fmt(res.get('redis_cpu_us_per_job'), '.1f')} "
            f"| {fmt(res.get('redis_cpu_ratio_vs_go'), '.2f', 'x')} |"
        )
    runs_text = "one run" if a.runs == 1 else f"best of {a.runs} runs (interleaved round-robin)"
    lines += [
        "",
        f"- jobs/s: {a.n:,} jobs enqueued before the worker starts, divided by the time from starting the "
        f"worker process to the end of the last handler ({runs_text}); it includes the worker's start-up, "
        "shown on its own as *first job after*. *jobs/s first→last job* leaves the start-up out.",
        f"- Ratios: jobs/s over the Go pool's, and over the best Python peer's ({best_label}; peers are "
        "Celery, RQ, Dramatiq, arq and Huey, not work_compat).",
        f"- p50/p99: handler start minus `time.time()` taken just before the enqueue call, over {a.latency_n} jobs "
        f"enqueued one at a time at {a.rate:g}/s. Before them the worker idles {a.idle:g} s, then gets {a.lead_in:,} "
        f"unrecorded jobs at the same rate ({a.lead_in_s:g} s), long enough for a poller that backed off while idle "
        "to wake up: idle gocraft/work workers sleep up to 5 s between fetches, arq polls every 0.5 s (their "
        "defaults). *wake-up ms* is the latency of the first of those jobs, a single sample of that idle-to-busy "
        f"step. †: the system's own throughput (first→last job) is below {OVERLOAD_FACTOR:g}x the enqueue rate, so "
        "the load is not light for it and its latency is mostly queueing.",
        "- RSS: summed over the worker's process tree after the throughput run (shared pages count once per "
        "process); PSS splits shared pages between processes, so it adds up to what the tree really uses.",
        "- Every handler does the same: two `time_ns()` calls and one 32-byte record appended to its process's buffer, "
        "which a thread writes to a FIFO the runner reads every 2 ms (RQ's work horses, which exit after each job, "
        "write theirs at once).",
        "- Redis CPU µs/job: the server's `used_cpu_sys + used_cpu_user` (INFO cpu) from just before the worker "
        "starts to its last throughput job, over the jobs (heartbeats and polling included); vs Go: over the "
        "fork's row.",
        "",
    ]
    shim = [s for s in systems if s.kind == "celery_shim" or (s.kind == "peer" and s.key.startswith("celery_"))]
    if any(s.kind == "celery_shim" for s in shim):
        lines += [
            "### celery_shim against Celery",
            "",
            "| system | delay()/s | ratio vs Celery | tasks/s | ratio vs Celery | LPUSH round trips/s before / after |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for s in shim:
            res = results[s.key]
            if res["status"] != "ok":
                lines.append(f"| {s.label} | {res.get('status_text', 'n/a')} | | | | |")
                continue
            delay = f"{fmt(res.get('enqueue_per_s'), ',.0f')} | {fmt(res.get('delay_ratio_vs_celery'), '.2f', 'x')}"
            tasks = f"{fmt(res.get('jobs_per_s'), ',.0f')} | {fmt(res.get('ratio_vs_celery'), '.2f', 'x')}"
            floors = res.get("lpush_floor_per_s") or []
            floor = " / ".join(f"{f:,.0f}" for f in floors) or "n/a"
            lines.append(f"| {s.label} | {delay} | {tasks} | {floor} |")
        lines += [
            "",
            f"- delay()/s: {a.n:,} `noop.apply_async(kwargs=...)` calls one at a time from one process, best run; "
            "tasks/s as jobs/s above. Ratios over the better of Celery's prefork and threads rows.",
            f"- LPUSH round trips/s: just before and just after its best delay() run, the same process (Celery's "
            f"too) sends {a.n:,} LPUSHes of a job's bytes over a raw socket, one at a time, each waiting for the "
            "reply: about the most any delay() that returns only once Redis has the job can do (one round trip "
            "per call). On a 2-vCPU VM it swings several-fold with whether the caller and Redis share a CPU and "
            "whether the other CPU is idle, so it is measured beside the calls it bounds.",
            "",
        ]
    lines += [
        "| system | version | configuration |",
        "| --- | --- | --- |",
    ]
    for s in systems:
        res = results[s.key]
        lines.append(f"| {s.label} | {res.get('version_text') or 'n/a'} | {s.notes} |")
    return "\n".join(lines) + "\n"


def version_text(s: System) -> str:
    v = s.version
    if s.kind == "go":
        tag = LIBRARIES[s.go_lib].label.split()[-1]
        return f"{tag} ({v['go_version']})" if v.get("go_version") else tag
    if not v.get("version"):
        return ""
    text = str(v["version"])
    if s.key == "arq" and v.get("redis_py"):
        text += f" (redis-py {v['redis_py']})"
    return text


# -- main ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__.split("\n\n")[0])
    p.add_argument("--redis", metavar="URL", help="use this Redis instead of a private one: databases 1-12 are FLUSHED")
    p.add_argument(
        "--only",
        metavar="LIST",
        help="comma-separated systems: go, work_compat, celery, rq, dramatiq, "
        "arq, huey, or a row key such as celery_threads or work_compat_processes",
    )
    p.add_argument("-n", type=int, default=10_000, help="throughput jobs per run (default 10000)")
    p.add_argument("--runs", type=int, default=1, help="throughput runs per system, best reported (default 1)")
    p.add_argument("--concurrency", type=int, default=8, help="jobs at a time, every system (default 8)")
    p.add_argument("--latency-n", type=int, default=500, help="recorded latency jobs (default 500; 0 skips)")
    p.add_argument("--rate", type=float, default=200.0, help="latency enqueue rate per second (default 200)")
    p.add_argument(
        "--lead-in-s",
        type=float,
        default=6.0,
        help="seconds of unrecorded latency jobs at --rate before "
        "the recorded ones, so pollers that backed off while idle are awake (default 6)",
    )
    p.add_argument("--idle", type=float, default=1.0, help="seconds idle between throughput and latency (default 1)")
    p.add_argument("--timeout", type=float, default=240.0, help="per enqueue and per throughput run (default 240 s)")
    p.add_argument("--latency-timeout", type=float, default=30.0, help="after the last latency job (default 30 s)")
    p.add_argument("--grace", type=float, default=15.0, help="SIGTERM to SIGKILL when stopping a worker (default 15 s)")
    p.add_argument(
        "--arq-python", metavar="PATH", help=f"interpreter with arq (default {ARQ_VENV}/bin/python if it exists)"
    )
    p.add_argument("--setup-arq", action="store_true", help=f"make {ARQ_VENV} with arq first (pip)")
    p.add_argument(
        "--scale",
        default="1,2,4",
        metavar="LIST",
        help="worker process counts for the scale-out table (default 1,2,4; empty: none)",
    )
    p.add_argument("--results", type=Path, default=RESULTS_DIR, help="output directory (default bench/results)")
    args = p.parse_args(argv)
    if args.n <= 0 or args.runs <= 0 or args.concurrency <= 0 or args.rate <= 0:
        p.error("-n, --runs, --concurrency and --rate must be positive")
    if args.latency_n < 0 or args.lead_in_s < 0 or args.idle < 0:
        p.error("--latency-n, --lead-in-s and --idle must not be negative")
    args.lead_in = round(args.lead_in_s * args.rate)
    try:
        args.scale_ks = [int(k) for k in args.scale.split(",") if k.strip()]
    except ValueError:
        p.error("--scale takes a comma-separated list of process counts")
    return args


def select(systems: list[System], only: str | None) -> list[System]:
    if not only:
        return systems
    want = [w.strip() for w in only.split(",") if w.strip()]
    picked = [s for s in systems if any(s.key == w or s.key.startswith(w + "_") for w in want)]
    unknown = [w for w in want if not any(s.key == w or s.key.startswith(w + "_") for s in systems)]
    if unknown:
        raise SystemExit(f"unknown system(s) {', '.join(unknown)}; known: {', '.join(s.key for s in systems)}")
    return picked


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    args = parse_args(argv)
    load_start = os.getloadavg()
    if load_start[0] > 1.0:
        print(f"warning: load average {load_start[0]:.2f}: something else is using the CPUs", file=sys.stderr)
    if args.setup_arq:
        setup_arq()
    systems = select(all_systems(args.arq_python or default_arq_python()), args.only)

    go = find_go()
    go_binaries: dict[str, Path] = {}
    go_sources: dict[str, str] = {}
    build_errors: dict[str, str] = {}
    for lib in sorted({s.go_lib for s in systems if s.kind == "go"}):
        if not go:
            print("go not found: the Go rows are skipped", file=sys.stderr)
            break
        print(f"building the Go worker against {LIBRARIES[lib].label} ...", file=sys.stderr)
        try:
            built = build("workers", lib)
            go_binaries[lib], go_sources[lib] = built.binary, built.source
        except GoBuildError as err:
            build_errors[lib] = str(err)
            print(err, file=sys.stderr)

    from work_compat.embedded import EmbeddedRedis

    from .enqueue import machine_info

    server = None
    if args.redis:
        base_url = args.redis
    else:
        server = EmbeddedRedis().start()
        base_url = server.url
    results: dict[str, dict[str, Any]] = {
        s.key: {"key": s.key, "label": s.label, "runs": [], "n": args.n} for s in systems
    }
    try:
        client = redis.Redis.from_url(base_url)
        client.ping()
        databases = int(client.config_get("databases").get("databases") or 16)
        if databases < 13:
            raise SystemExit(f"this Redis has {databases} databases; the benchmark uses 1-12")
        with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
            bench = Bench(args, base_url, go_binaries, Path(tmp))
            print(f"Redis at {base_url}; {args.n:,} jobs, concurrency {args.concurrency}", file=sys.stderr)
            live: list[System] = []
            for s in systems:
                res = results[s.key]
                try:
                    why = bench.check(s) if s.go_lib not in build_errors else "go build failed"
                except BenchError as err:
                    why = f"failed: {err}"
                if why is None:
                    live.append(s)
                    res["status"] = "ok"
                else:
                    res["status"] = "not available" if "not available" in why or "not installed" in why else "failed"
                    res["status_text"] = why.split(" (")[0].split(":")[0] if res["status"] != "failed" else "failed"
                    res["error"] = why
                    print(f"  {s.key}: {why}", file=sys.stderr)
            for r in range(args.runs):
                for s in live:
                    res = results[s.key]
                    if res["status"] != "ok":
                        continue
                    print(f"{s.label}: run {r + 1}/{args.runs} ...", file=sys.stderr)
                    try:
                        res["runs"].append(bench.run(s, r, with_latency=r == args.runs - 1))
                    except (BenchError, subprocess.SubprocessError, OSError, redis.RedisError) as err:
                        res["status"], res["status_text"], res["error"] = "failed", "failed", str(err)
                        print(f"  {s.key} FAILED: {err}", file=sys.stderr)
            scale = run_scale(bench, live, args.scale_ks, results) if args.scale_ks else {}
            bench.reporter.close()
        for s in systems:
            results[s.key]["version"] = s.version
            results[s.key]["version_text"] = version_text(s)
            results[s.key]["notes"] = s.notes
            results[s.key]["python"] = s.python if s.kind != "go" else None
            if s.kind == "go":
                results[s.key]["go_library_source"] = go_sources.get(s.go_lib)
        summarize(systems, results)
        go_doc = next((r["go_program"] for r in results.get("go", {}).get("runs", []) if "go_program" in r), None)
        machine = machine_info(client, go, go_doc["go_version"] if go_doc else None)
        machine["loadavg_start"], machine["loadavg_end"] = load_start, os.getloadavg()
        total_s = time.monotonic() - started
        md = render_markdown(systems, results, machine, args, total_s)
        md += "\n".join(["", *render_scale(scale, args.scale_ks, args.n), *render_targets(results, scale)])
        failures = {k: v["error"] for k, v in results.items() if not k.startswith("_") and v.get("error")}
        if failures:
            md += "\nNot measured:\n\n" + "".join(f"- {k}: {v}\n" for k, v in failures.items())
        best_peer = results.pop("_best_python_peer")
        doc = {
            "benchmark": "workers",
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": "python -m bench.workers " + " ".join(argv if argv is not None else sys.argv[1:]),
            "redis": "private redis-server on 127.0.0.1" if server else "given by --redis",
            "total_seconds": total_s,
            "go_note": GO_NOTE,
            "workload": {
                "job_name": JOB_NAME,
                "args": '{"i": k, "s": "x" * 32}',
                "n": args.n,
                "runs": args.runs,
                "concurrency": args.concurrency,
                "latency": {
                    "n": args.latency_n,
                    "rate_per_s": args.rate,
                    "lead_in_jobs": args.lead_in,
                    "lead_in_s": args.lead_in_s,
                    "idle_s": args.idle,
                    "extra_arg": '"t": time.time() just before the enqueue call',
                },
                "handler": "two time.time_ns() calls and one 32-byte record (i, start, end, enqueue ns) buffered, written to a FIFO every 2 ms",
                "jobs_per_s": "n / (end of last handler - start of worker process)",
                "memory": "VmRSS and Pss summed over the worker's process tree after the throughput run",
            },
            "machine": machine,
            "best_python_peer": best_peer,
            "results": [results[s.key] for s in systems],
            "scale_out": {key: {str(k): cell for k, cell in cells.items()} for key, cells in scale.items()},
        }
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / "workers.json").write_text(json.dumps(doc, indent=2) + "\n")
        (args.results / "workers.md").write_text(md)
        print()
        print(md)
        print(f"total {total_s:.0f} s", file=sys.stderr)
        print("results: " + ", ".join(str(args.results / name) for name in OUTPUTS), file=sys.stderr)
        return 0
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
