"""The parent side of a process pool (``processes=True``): start the children, watch them, and
put a dead child's jobs back within a second, with the counters Go's reaper would leave.

Each child (``pool_child``) fetches and completes its own jobs under the pool's id, so Go's
client, workwebui and Go's reaper see one pool. When a child dies or overruns its job's time
limit, the parent kills it, asks the live children what they hold (their gates closed, so no
fetch is under way), and reads the pool's in-progress lists: what no live child holds was the
dead child's. The job it was running (known by the digest it showed in shared memory) fails with
WorkerLost or TimeLimitExceeded, so retry and dead rules apply; the others go back to the front of
their queues unchanged. The same pass repairs the lists after a child lost a reply. A whole pool
SIGKILLed leaves everything in the shared lists, where any reaper finds it.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis

from .job import decode_job
from .outage import UNREACHABLE
from .pool_child import DIGEST_SIZE, ChildSpec, child_main, digest
from .processor import Completion, Fetched
from .runner import Outcome
from .worker import hand_back, settle, step_arguments

if TYPE_CHECKING:
    from .worker_pool import WorkerPool

__all__ = ["PoolChildren"]

logger = logging.getLogger(__name__)

# Seconds a live child has to answer "hold" before it is taken for hung and killed. Its control
# thread answers even while a handler runs (pure Python gives up the GIL every few ms); only a
# handler stuck in C code holding the GIL, or a step blocked on a Redis that never answers, is slower.
HOLD_TIMEOUT = 30.0


@dataclass
class _Child:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    deadline: Any  # RawArray('d', 1): 0 idle, else the monotonic time its job must end by (inf: none)
    shown: Any  # RawArray('c', DIGEST_SIZE): digest of the job it runs
    lock: threading.Lock
    started: float

    def send(self, msg: tuple[Any, ...]) -> bool:
        with self.lock:
            try:
                self.conn.send(msg)
            except OSError:
                return False
        return True

    def exited(self, timeout: float | None = 0.0) -> bool:
        """Whether the process ended, waiting up to ``timeout``. Read from its sentinel, never
        from ``is_alive``/``join``: those call waitpid, and of two threads doing so the one that
        loses gets ECHILD, which multiprocessing reads as "still running" (a stop then reported
        a child that had exited as stuck). Only the watching thread reaps, except after it ended."""
        return bool(multiprocessing.connection.wait([self.process.sentinel], timeout))


# What the fork server imports once for every child it forks: this library and its dependencies,
# which import nothing that holds a connection or a thread. Handlers' modules are imported by each
# child itself, as under spawn: their import may open connections a child must not share.
PRELOAD = ["work_compat.pool_child"]


def child_context() -> Any:
    """The way children start: forked from a fork server where there is one, else spawned.

    Both start every child from a single-threaded process, never as a fork of the pool's own
    (threads hold locks a fork would copy held). Spawning re-imports Python, redis-py and this
    library in each child: about 0.25 s of CPU each, so a pool of 8 on 2 cores waited most of a
    second for its children. The fork server imports them once and forks each child from there.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    mp = multiprocessing.get_context("forkserver")
    mp.set_forkserver_preload(PRELOAD)  # a no-op once this process's fork server runs
    return mp


class PoolChildren:
    """The children of one process pool, one per worker slot, and the thread that watches them."""

    def __init__(self, pool: WorkerPool, registry: bytes, redis_url: str) -> None:
        self.pool = pool
        self.registry = registry
        self.redis_url = redis_url
        self.mp = child_context()
        self.children: list[_Child | None] = [None] * pool.concurrency
        self.drained = [-1] * pool.concurrency
        self._cond = threading.Condition()
        # Guards ``children`` and ``_closing`` together: the watching thread installs a new child
        # only while no stop or kill has begun, so a stop's snapshot holds every child there will be.
        # Reentrant: a second SIGTERM aborts (kill_all) from a signal handler, maybe inside stop().
        self._members = threading.RLock()
        self._closing = False
        self._repair = False
        self._crashes = [0] * pool.concurrency  # deaths in a row soon after start, per slot
        self._respawn_at: dict[int, float] = {}  # slots whose next child waits (a crash loop)
        self._retiring: set[int] = set()  # slots whose child asked to be replaced (retire)
        self._thread = threading.Thread(target=self._supervise, name="work-compat-children", daemon=True)

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        for slot in range(len(self.children)):
            self._install(slot)
        self._thread.start()

    def _install(self, slot: int) -> None:
        """Start the slot's child, unless a stop or kill began (it would never be told to stop)."""
        with self._members:
            self.children[slot] = None if self._closing else self._spawn(slot)

    def _close(self) -> list[tuple[int, _Child]]:
        """Forbid new children; the children there are, which are all there will be."""
        with self._members:
            self._closing = True
            return self._live()

    def _spawn(self, slot: int) -> _Child:
        pool = self.pool
        parent, child_end = self.mp.Pipe()
        deadline = self.mp.RawArray("d", 1)
        shown = self.mp.RawArray("c", DIGEST_SIZE)
        spec = ChildSpec(
            pool.namespace,
            self.redis_url,
            pool.pool_id,
            slot,
            list(pool.worker_ids),
            pool.settings,
            pool.sleep_backoffs,
            pool.clock,
            pool.drain_round,
            dict(os.environ),
            os.getpid(),
        )
        process = self.mp.Process(
            target=child_main,
            args=(child_end, spec, self.registry, (deadline, shown)),
            name=f"work-compat-child-{slot}",
            daemon=True,
        )
        process.start()
        child_end.close()
        with self._cond:
            self.drained[slot] = -1
        child = _Child(process, parent, deadline, shown, threading.Lock(), time.monotonic())
        child.send(("drain", pool.drain_round))  # a drain begun while this child was being started
        return child

    def _live(self) -> list[tuple[int, _Child]]:
        return [(slot, c) for slot, c in enumerate(self.children) if c is not None]

    def broadcast(self, msg: tuple[Any, ...]) -> None:
        for _, child in self._live():
            child.send(msg)

    def drain(self, target: int, timeout: float | None) -> bool:
        """Tell the children a drain round began; wait until each reported it drained."""
        deadline = None if timeout is None else time.monotonic() + timeout
        told = 0.0
        while True:
            now = time.monotonic()
            if now - told >= 0.5:  # again now and then: a child started meanwhile may have missed it
                told = now
                for slot, child in self._live():
                    if self.drained[slot] < target:
                        child.send(("drain", target))
            with self._cond:
                if all(d >= target for d in self.drained):
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.05 if left is None else min(left, 0.05))

    def stop(self, timeout: float) -> list[str]:
        """Ask every child to finish its job, write what it holds and exit; the names of those
        still running after ``timeout`` (killed: their running jobs stay in progress for a reaper)."""
        children = self._close()
        for _, child in children:
            child.send(("stop",))
        deadline = time.monotonic() + timeout
        for _, child in children:
            child.exited(max(0.0, deadline - time.monotonic()))
        stuck = [c.process.name for _, c in children if not c.exited()]
        self.kill_all()
        return stuck

    def kill_all(self) -> None:
        """Kill every child now (a stop whose time is up, or an abort); what they held stays in
        progress, for a reaper."""
        children = self._close()
        for _, child in children:
            if not child.exited():
                child.process.kill()
        for _, child in children:
            child.exited(5)
        self._thread.join(5)
        with self._members:
            for slot, child in self._live():
                child.conn.close()
                self.children[slot] = None
        if not self._thread.is_alive():  # reap them, now that no other thread does
            for _, child in children:
                child.process.join(5)  # at once: exited (its sentinel closes a moment before waitpid sees it)

    def join(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for _, child in self._live():
            child.exited(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return all(c.exited() for _, c in self._live())

    # -- watching -----------------------------------------------------------------------------------
    def _supervise(self) -> None:
        while True:
            live = self._live()
            if self._closing:  # watch only those still running: an exited child's sentinel stays ready
                live = [(slot, c) for slot, c in live if not c.exited()]
                if not live:
                    return
            by_conn = {c.conn: slot for slot, c in live}
            by_sentinel = {c.process.sentinel: slot for slot, c in live}
            try:
                ready = multiprocessing.connection.wait([*by_conn, *by_sentinel], timeout=self._wait_time(live))
            except OSError:  # a connection closed under us by kill_all
                ready = []
            dead: dict[int, str] = {}
            for r in ready:
                if r in by_conn:
                    slot = by_conn[r]
                    try:
                        self._handle(slot, r.recv())
                    except (EOFError, OSError):
                        dead[slot] = "lost"
                else:
                    dead[by_sentinel[r]] = "lost"  # type: ignore[index]
            now = time.monotonic()
            for slot, child in live:
                if 0 < child.deadline[0] < now and not child.exited():
                    child.process.kill()
                    dead[slot] = "time"
            if self._closing:
                continue
            for slot in [s for s in dead if s in self._retiring]:
                if self._retired(slot):
                    del dead[slot]
            for slot, at in list(self._respawn_at.items()):
                if at <= now:
                    del self._respawn_at[slot]
                    self._install(slot)
            if dead or self._repair:
                self._repair = False
                try:
                    self._recover(dead)
                except Exception:
                    logger.exception("pool %s: recovering the jobs of dead children failed", self.pool.pool_id)
                    self._repair = True

    def _wait_time(self, live: list[tuple[int, _Child]]) -> float:
        """Until the nearest time-limit deadline (at most 0.5 s, so that stop is noticed)."""
        now = time.monotonic()
        times = [c.deadline[0] for _, c in live if c.deadline[0] > 0] + list(self._respawn_at.values())
        nearest = min(times, default=now + 0.5)
        return max(0.0, min(nearest - now, 0.5))

    def _handle(self, slot: int, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "drained":
            with self._cond:
                self.drained[slot] = max(self.drained[slot], msg[1])
                self._cond.notify_all()
        elif kind == "repair":
            self._repair = True
        elif kind == "bad_key":
            self.pool.fetch_guard.bad_keys.report(msg[1], msg[2], msg[3], found=msg[4])
        elif kind == "retire":
            self._retiring.add(slot)
            child = self.children[slot]
            if child is not None:
                child.send(("stop",))

    def _retired(self, slot: int) -> bool:
        """Replace a child that exited as asked (``retire``), its job done and completions written;
        False if it died instead (a job still shown, or a failed exit): that is recovered as a death."""
        self._retiring.discard(slot)
        child = self.children[slot]
        assert child is not None
        child.process.join(5)
        if child.deadline[0] != 0 or child.process.exitcode != 0:
            return False
        child.conn.close()
        logger.info("pool %s: child of worker %d retired; starting another", self.pool.pool_id, slot)
        self._install(slot)
        return True

    def signal_running(self, job_id: str, signum: int) -> bool:
        """Send ``signum`` to the child running the job of id ``job_id`` (found by the digest it
        shows); True if one was."""
        pool = self.pool
        wanted: set[bytes] = set()
        for name in pool.job_types:
            for raw in pool._redis.lrange(pool.keys.jobs_in_progress(name, pool.pool_id), 0, -1):
                try:
                    if decode_job(raw).id == job_id:
                        wanted.add(digest(raw))
                except Exception:  # an entry no child could run either
                    continue
        for _, child in self._live():
            if child.deadline[0] != 0 and bytes(child.shown.raw) in wanted and child.process.pid:
                try:
                    os.kill(child.process.pid, signum)
                except ProcessLookupError:
                    return False
                return True
        return False

    # -- recovery -----------------------------------------------------------------------------------
    def _recover(self, dead: dict[int, str]) -> None:
        pool = self.pool
        running: dict[bytes, str] = {}
        for slot, reason in dead.items():
            child = self.children[slot]
            assert child is not None
            child.process.join(5)
            code = child.process.exitcode
            if child.deadline[0] != 0:  # it died running a job
                running[bytes(child.shown.raw)] = reason if reason == "time" else f"lost:{code}"
        held: Counter[bytes] = Counter()
        answered: list[_Child] = []
        try:
            held_by_live = self._hold(dead, running)
            answered = held_by_live[1]
            held = held_by_live[0]
            done = self._orphans(held, running)
            if done:
                script_keys, script_args = step_arguments(pool.keys, pool.pool_id, done, [], [], 0)
                reply = pool.scripts.work_step(keys=script_keys, args=script_args)
                settle(pool, done, reply[1], stopping=True)  # no worker here to send them again
                back = sum(1 for c in done if c.kind == "put_back")
                logger.warning(
                    "pool %s: %d job(s) no child holds went back to their queues, %d failed with their child",
                    pool.pool_id,
                    back,
                    len(done) - back,
                )
        except UNREACHABLE as err:
            pool.outage.failed(f"pool {pool.pool_id} recovery of in-progress jobs", err)
            self._repair = True
        except redis.RedisError as err:
            logger.warning("pool %s: recovering in-progress jobs failed, will retry: %s", pool.pool_id, err)
            self._repair = True
        finally:
            for child in answered:
                child.send(("resume",))
        for slot in dead:
            child = self.children[slot]
            assert child is not None
            child.conn.close()
            with self._members:
                self.children[slot] = None
            try:
                pool._redis.delete(pool.keys.worker_observation(pool.worker_ids[slot]))
            except redis.RedisError:
                pass
            if not self._closing:
                self._replace(slot, child, dead[slot])

    def _replace(self, slot: int, old: _Child, reason: str) -> None:
        """Start the slot's next child: at once, or after a growing pause when children keep
        dying soon after they start (a handler module that fails to import, say)."""
        soon = time.monotonic() - old.started < 2.0
        self._crashes[slot] = self._crashes[slot] + 1 if soon else 0
        delay = 0.0 if self._crashes[slot] < 2 else min(0.1 * 2 ** self._crashes[slot], 10.0)
        logger.warning(
            "pool %s: child of worker %d died (%s, exit code %s); starting another%s",
            self.pool.pool_id,
            slot,
            "time limit" if reason == "time" else "lost",
            old.process.exitcode,
            f" in {delay:.1f}s" if delay else "",
        )
        if delay:
            self._respawn_at[slot] = time.monotonic() + delay
        else:
            self._install(slot)

    def _hold(self, dead: dict[int, str], running: dict[bytes, str]) -> tuple[Counter[bytes], list[_Child]]:
        """Close every live child's gate; what they hold, and the children that answered."""
        live = [(slot, c) for slot, c in self._live() if slot not in dead]
        for _, child in live:
            child.send(("hold",))
        held: Counter[bytes] = Counter()
        answered: list[_Child] = []
        deadline = time.monotonic() + HOLD_TIMEOUT
        for slot, child in live:
            jobs = self._await_held(slot, child, deadline)
            if jobs is None:  # hung or dead: take it for dead, its jobs are recovered with the rest
                logger.error("pool %s: child of worker %d did not answer; killing it", self.pool.pool_id, slot)
                child.process.kill()
                child.process.join(5)
                dead[slot] = "lost"
                if child.deadline[0] != 0:
                    running[bytes(child.shown.raw)] = f"lost:{child.process.exitcode}"
                continue
            held.update(jobs)
            answered.append(child)
        return held, answered

    def _await_held(self, slot: int, child: _Child, deadline: float) -> list[bytes] | None:
        while True:
            try:
                if not child.conn.poll(max(0.0, deadline - time.monotonic())):
                    return None
                msg = child.conn.recv()
            except (EOFError, OSError):
                return None
            if msg[0] == "held":
                jobs: list[bytes] = msg[1]
                return jobs
            self._handle(slot, msg)

    def _orphans(self, held: Counter[bytes], running: dict[bytes, str]) -> list[Completion]:
        """Completions for what the pool's in-progress lists hold and no live child does."""
        pool = self.pool
        failed: list[Completion] = []
        back: list[Fetched] = []
        for name in pool.job_types:
            inprogress = pool.keys.jobs_in_progress(name, pool.pool_id)
            for raw in pool.fetch_guard.in_progress(name):
                if held[raw] > 0:
                    held[raw] -= 1
                    continue
                fetched = Fetched(raw, pool.keys.jobs(name), inprogress, name)
                reason = running.pop(digest(raw), None)
                if reason is None:
                    back.append(fetched)
                else:
                    failed.append(self._failed(fetched, reason))
        return failed + hand_back(back)

    def _failed(self, fetched: Fetched, reason: str) -> Completion:
        """The job a dead child was running fails, as Celery's WorkerLostError / time limits do."""
        pool = self.pool
        try:
            job = decode_job(fetched.raw)
        except Exception:  # undecodable: the child would have buried it; put it back for that
            return Completion(fetched, "put_back")
        job_type = pool.job_types.get(job.name)
        if reason == "time":
            limit = job_type.options.time_limit if job_type else None
            of = f" of {limit}s" if limit is not None else " (set by its handler)"
            text = f"TimeLimitExceeded: the job ran over its hard time limit{of}"
        else:
            text = f"WorkerLost: the worker process died (exit code {reason.split(':', 1)[1]}) while running the job"
        outcome = Outcome("error", text)
        if pool.lost_job_handler is not None and job_type is not None:
            try:
                outcome = pool.lost_job_handler(job_type, job, outcome)
            except Exception:
                logger.exception("pool %s: the lost-job handler failed on job %s; it fails as is", pool.pool_id, job.id)
        return pool.processor.decide(fetched, job, job_type, outcome)
