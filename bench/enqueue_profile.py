"""Where enqueue time goes: timed phases with Redis stubbed out, and a cProfile split by layer.

Used by ``bench.enqueue`` when a target is missed (or with ``--profile``).
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from work_compat import Job, make_identifier
from work_compat.keys import Keys, validate_job_name

from .enqueue import (
    FILLER,
    JOB_NAME,
    LPUSH_CHUNK,
    MANY_RATE_TARGET,
    Series,
    encoded_payloads,
    make_run_enqueue_many,
    run_enqueue,
)


class _NoNetworkPipeline:
    def lpush(self, *args: Any) -> None:
        pass

    def sadd(self, *args: Any) -> None:
        pass

    def execute(self) -> list[Any]:
        return []


class _NoNetworkRedis(redis.Redis):
    """A client whose enqueue commands do nothing: what is left is work_compat's own CPU time."""

    def lpush(self, *args: Any) -> int:
        return 1

    def sadd(self, *args: Any) -> int:
        return 1

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        return _NoNetworkPipeline()


def phase_timings(client: redis.Redis, n: int, reps: int = 5) -> dict[str, float]:
    """Seconds for N jobs of each piece of the two paths, and of the two paths whole, timed without a
    profiler. The pieces are interleaved (one of each per round, best of ``reps`` rounds) so that a
    noisy machine disturbs them alike."""
    ns = "bench-enqueue-phases"
    keys = Keys(ns)
    queue, known = keys.jobs(JOB_NAME), keys.known_jobs()
    payloads = encoded_payloads(n)
    now = int(time.time())
    pool: Any = client.connection_pool
    try:
        conn: Any = pool.get_connection()
    except TypeError:  # redis-py < 5.3 wants a command name
        conn = pool.get_connection("LPUSH")
    packed_each = [conn.pack_command("LPUSH", queue, d) for d in payloads]
    cmds: list[tuple[Any, ...]] = [("MULTI",)]
    for start in range(0, n, LPUSH_CHUNK):
        cmds.append(("LPUSH", queue, *payloads[start : start + LPUSH_CHUNK]))
    cmds += [("SADD", known, JOB_NAME), ("EXEC",)]
    packed_many = conn.pack_commands(cmds)

    def t_enqueue() -> float:
        client.flushdb()
        return run_enqueue(client, ns, n)

    def t_many() -> float:
        client.flushdb()
        return make_run_enqueue_many(n)(client, ns, n)

    stub = _NoNetworkRedis(host="127.0.0.1", port=1)  # never connects

    def t_enqueue_own() -> float:
        return run_enqueue(stub, ns, n)

    def t_many_own() -> float:
        return make_run_enqueue_many(n)(stub, ns, n)

    def t_ids() -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            make_identifier()
        return time.perf_counter() - t0

    def t_encode() -> float:  # what both paths do per job before Redis: Job(...) + to_bytes
        t0 = time.perf_counter()
        for k in range(n):
            Job(JOB_NAME, make_identifier(), now, {"i": k, "s": FILLER}).to_bytes()
        return time.perf_counter() - t0

    def t_validate() -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            validate_job_name(JOB_NAME)
        return time.perf_counter() - t0

    def t_list() -> float:  # the caller's side of enqueue_many
        t0 = time.perf_counter()
        [(JOB_NAME, {"i": k, "s": FILLER}) for k in range(n)]
        return time.perf_counter() - t0

    def t_call() -> float:  # redis-py per call, bytes already encoded
        client.flushdb()
        t0 = time.perf_counter()
        for d in payloads:
            client.lpush(queue, d)
        return time.perf_counter() - t0

    def t_rtt() -> float:  # round trip only: pre-packed command, send it, read the reply
        client.flushdb()
        t0 = time.perf_counter()
        for p in packed_each:
            conn.send_packed_command(p)
            conn.read_response()
        return time.perf_counter() - t0

    def t_pack() -> float:  # redis-py packing of enqueue_many's MULTI / LPUSH... / SADD / EXEC
        t0 = time.perf_counter()
        conn.pack_commands(cmds)
        return time.perf_counter() - t0

    def t_wire() -> float:  # send that packed batch, read its replies
        client.flushdb()
        t0 = time.perf_counter()
        conn.send_packed_command(packed_many)
        for _ in cmds:
            conn.read_response()
        return time.perf_counter() - t0

    def t_pipe() -> float:  # redis-py's whole enqueue_many pipeline, values pre-encoded
        client.flushdb()
        t0 = time.perf_counter()
        pipe = client.pipeline(transaction=True)
        for start in range(0, n, LPUSH_CHUNK):
            pipe.lpush(queue, *payloads[start : start + LPUSH_CHUNK])
        pipe.sadd(known, JOB_NAME)
        pipe.execute()
        return time.perf_counter() - t0

    pieces: dict[str, Callable[[], float]] = {
        "enqueue": t_enqueue,
        "enqueue_many": t_many,
        "enqueue_own": t_enqueue_own,
        "many_own": t_many_own,
        "ids": t_ids,
        "encode": t_encode,
        "validate": t_validate,
        "list_build": t_list,
        "redis_py_call": t_call,
        "rtt_per_call": t_rtt,
        "pack_many": t_pack,
        "wire_many": t_wire,
        "pipeline_many": t_pipe,
    }
    times: dict[str, list[float]] = {k: [] for k in pieces}
    try:
        for _ in range(reps):
            for name, fn in pieces.items():
                gc.collect()
                times[name].append(fn())
    finally:
        client.connection_pool.release(conn)
        client.flushdb()
    return {k: min(v) for k, v in times.items()}


_IO_NAMES = ("sendall", "recv", "recv_into", "send", "poll", "select", "gets", "feed")
_CATEGORIES = ("encode", "enqueuer", "redis_pack", "round_trip", "other")


def _category(func: tuple[str, int, str]) -> str | None:
    """Category of a function's own time, or None to inherit it from its callers (builtins)."""
    filename, _, name = func
    path = filename.replace("\\", "/")
    if "work_compat/" in path:
        if path.endswith(("work_compat/job.py", "work_compat/gojson.py")):
            return "encode"
        return "enqueuer"
    if path.endswith("secrets.py"):
        return "encode"
    if "/redis/" in path:
        if "/_parsers/" in path or name in (
            "read_response",
            "send_packed_command",
            "_send_packed_command",
            "can_read",
            "_read_from_socket",
            "read_from_socket",
        ):
            return "round_trip"
        return "redis_pack"
    if filename == "~":
        if any(k in name for k in _IO_NAMES):
            return "round_trip"
        if "pack_command" in name:
            return "redis_pack"
        return None
    if path.endswith("socket.py") or path.endswith("selectors.py"):
        return "round_trip"
    if filename == "<string>":  # dataclass-generated __init__ (Job)
        return "encode"
    return None


def _func_name(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    return f"{{{name}}}" if filename == "~" else f"{filename}:{line}({name})"


def profile_categories(fn: Callable[[], Any]) -> tuple[dict[str, float], list[tuple[str, float]], float]:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    st = pstats.Stats(prof)
    raw: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
    memo: dict[Any, dict[str, float]] = {}

    def shares(func: Any, depth: int = 0) -> dict[str, float]:
        """Fractions of func's own time per category, splitting builtins by who called them."""
        if func in memo:
            return memo[func]
        cat = _category(func)
        if cat is not None or depth > 8:
            res = {cat or "other": 1.0}
        else:
            callers = raw[func][4]
            total = sum(v[2] for v in callers.values())
            res = {}
            if total <= 0:
                res = {"other": 1.0}
            else:
                for caller, v in callers.items():
                    sub = shares(caller, depth + 1) if caller in raw else {"other": 1.0}
                    for c, f in sub.items():
                        res[c] = res.get(c, 0.0) + f * v[2] / total
        memo[func] = res
        return res

    cats = dict.fromkeys(_CATEGORIES, 0.0)
    top: list[tuple[str, float]] = []
    for func, (_, _, tt, _, _) in raw.items():
        for c, f in shares(func).items():
            cats[c] += tt * f
        top.append((_func_name(func), tt))
    total = sum(cats.values())
    top.sort(key=lambda x: -x[1])
    return cats, top[:8], total


def _short(func: str) -> str:
    for marker in ("site-packages/", "work_compat/"):
        if marker in func:
            i = func.index(marker)
            return ("work_compat/" if marker == "work_compat/" else "") + func[i + len(marker) :]
    return func


def write_profile(client: redis.Redis, n: int, series: dict[str, Series], go: Series | None, path: Path) -> str:
    print("profiling ...", file=sys.stderr)
    ph = phase_timings(client, n)
    us = 1e6 / n  # seconds for N jobs -> microseconds per job

    # enqueue, per job: work_compat's own CPU + redis-py's per-command work + the round trip (+ noise)
    e_total = ph["enqueue"] * us
    e_own = ph["enqueue_own"] * us
    e_enc = ph["encode"] * us
    e_rtt = ph["rtt_per_call"] * us
    e_redis = max(ph["redis_py_call"] - ph["rtt_per_call"], 0.0) * us
    e_rest = e_total - e_own - e_redis - e_rtt
    # enqueue_many, per job: work_compat's own CPU (incl. the caller's list) + redis-py's pipeline (+ noise)
    m_total = ph["enqueue_many"] * us
    m_own = ph["many_own"] * us
    m_enc = ph["encode"] * us
    m_val = ph["validate"] * us
    m_list = ph["list_build"] * us
    m_pipe = ph["pipeline_many"] * us
    m_pack = ph["pack_many"] * us
    m_wire = ph["wire_many"] * us
    m_rest = m_total - m_own - m_pipe

    client.flushdb()
    e_cats, e_top, e_tot = profile_categories(lambda: run_enqueue(client, "bench-enqueue-prof-e", n))
    client.flushdb()
    m_cats, m_top, m_tot = profile_categories(lambda: make_run_enqueue_many(n)(client, "bench-enqueue-prof-m", n))
    client.flushdb()

    def pct(part: float, whole: float) -> str:
        return f"{100 * part / whole:.0f}%" if whole > 0 else "n/a"

    def cat_line(c: dict[str, float], tot: float) -> str:
        names = {
            "encode": "job build+encode",
            "enqueuer": "Enqueuer/keys code",
            "redis_pack": "redis-py packing/dispatch",
            "round_trip": "socket + reply parsing",
            "other": "other",
        }
        return ", ".join(f"{names[k]} {pct(c[k], tot)}" for k in _CATEGORIES)

    go_part = "" if go is None else f" (Go's best run: {go.best_s * us:.1f} µs/job)"
    lines = [
        f"- `enqueue`: {e_total:.1f} µs/job{go_part}, and it is round-trip bound. The round trip itself "
        f"(pre-packed send, wait, reply) takes {e_rtt:.1f} µs ({pct(e_rtt, e_total)}), and redis-py's "
        f"per-command work on top of it (pool, retry wrapper, packing, reply handling) takes {e_redis:.1f} µs "
        f"({pct(e_redis, e_total)}). work_compat's own CPU, timed with Redis stubbed out, is {e_own:.1f} µs "
        f"({pct(e_own, e_total)}). Of that, job build+encode is {e_enc:.1f} µs. "
        f"Unattributed (noise): {e_rest:+.1f} µs.",
        f"- `enqueue_many` (one call of {n:,}): {m_total:.2f} µs/job, and it is CPU-bound in work_compat. "
        f"Its own CPU, timed with Redis stubbed out, is {m_own:.2f} µs ({pct(m_own, m_total)}): job build+encode "
        f"{m_enc:.2f}, `validate_job_name` on every job {m_val:.2f}, the caller's (name, args) list {m_list:.2f}, "
        f"and the rest of the loop. redis-py's whole pipeline of pre-encoded bytes takes {m_pipe:.2f} µs "
        f"({pct(m_pipe, m_total)}): packing {m_pack:.2f} and the one round trip {m_wire:.2f}. "
        f"Unattributed: {m_rest:+.2f} µs.",
        f"- Limits: encoding alone allows {n / ph['encode']:,.0f} jobs/s, and work_compat's own CPU allows "
        f"{n / ph['many_own']:,.0f} jobs/s before Redis is involved. Adding redis-py's pipeline brings that to "
        f"{n / (ph['many_own'] + ph['pipeline_many']):,.0f} jobs/s (target {MANY_RATE_TARGET:,}). The raw "
        "LPUSH row shows that redis-py itself is not the limit.",
        f"- cProfile own-time split, `enqueue`: {cat_line(e_cats, e_tot)}. `enqueue_many`: "
        f"{cat_line(m_cats, m_tot)}. The profiler inflates per-call Python overhead, so the timed split above is "
        "the one to trust.",
        "- Top own-time functions in `enqueue_many`: "
        + "; ".join(f"{_short(f)} {pct(t, m_tot)}" for f, t in m_top[:6])
        + ".",
    ]
    chunks = -(-n // LPUSH_CHUNK)
    body = [
        "# Where enqueue time goes",
        "",
        *lines,
        "",
        f"## Timed pieces (no profiler; one of each per round, best of 5 rounds; µs per job, {n:,} jobs)",
        "",
        "| piece | µs/job |",
        "| --- | ---: |",
        f"| `Enqueuer.enqueue` x N, whole | {e_total:.2f} |",
        f"| `Enqueuer.enqueue` x N, Redis stubbed (work_compat's own CPU) | {e_own:.2f} |",
        f"| `Enqueuer.enqueue_many` of N (+ building its list), whole | {m_total:.2f} |",
        f"| `Enqueuer.enqueue_many` of N (+ building its list), Redis stubbed | {m_own:.2f} |",
        f"| make_identifier | {ph['ids'] * us:.2f} |",
        f"| Job(...) + to_bytes (incl. make_identifier) | {m_enc:.2f} |",
        f"| validate_job_name | {m_val:.2f} |",
        f"| list of (name, args) for enqueue_many | {m_list:.2f} |",
        f"| redis-py `lpush` per call, pre-encoded | {ph['redis_py_call'] * us:.2f} |",
        f"| round trip per call, pre-packed (send_packed_command + read_response) | {e_rtt:.2f} |",
        f"| redis-py pack_commands of enqueue_many's MULTI/LPUSH/SADD/EXEC | {m_pack:.2f} |",
        f"| send that packed batch + read the replies | {m_wire:.2f} |",
        f"| redis-py pipeline (MULTI, LPUSH x{chunks}, SADD, EXEC), pre-encoded | {m_pipe:.2f} |",
        f"| benchmark best: `enqueue` / `enqueue_many` | {series['enqueue'].best_s * us:.2f} / "
        f"{series['enqueue_many_all'].best_s * us:.2f} |",
        "",
        "## cProfile, top own time",
        "",
        "`enqueue`:",
        "",
        *[f"- {_short(f)}: {pct(t, e_tot)}" for f, t in e_top],
        "",
        "`enqueue_many`:",
        "",
        *[f"- {_short(f)}: {pct(t, m_tot)}" for f, t in m_top],
        "",
    ]
    path.write_text("\n".join(body))
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------------
