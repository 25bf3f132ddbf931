"""``import-backlog``: move the messages waiting in a Celery Redis broker into gocraft jobs.

For switching a project from Celery to celery_shim without losing what is queued. Each message
(protocol 1 or 2) becomes the job ``publish`` would have written for the same call: job name = task
name, args bound to the local task's signature (D1; ``"*args"`` when the task is not registered
here), an eta in the future goes to ``scheduled``, and expires, headers, ids and limits go into the
``"celery"`` metadata (D4).

Nothing is lost on the way. A message is taken from its queue into a claim list with one atomic
``LMOVE`` (as a Celery worker would take it, so a Celery worker still running cannot get it too),
the job is written, and only then is the message dropped from the claim list. A message that cannot
be converted (pickle, a chain or callback, args that do not fit the local signature, ...) is put
back at the head of its queue in its old order and reported. A claim list left by a crash is put
back at the start of the next run (those messages may have been imported already: at least once).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from work_compat import Connection, InvalidJobNameError, Job, validate_job_name

from ..exceptions import EncodeError
from .arguments import encode_args, typed_values, unbound_args
from .call_job import job_for
from .celery_message import CeleryMessage, Unconvertible, decode_message, describe, require_kombu
from .keys import KombuKeys
from .options import plan_publish
from .publish import push_with_retries

if TYPE_CHECKING:
    from ..app.base import Celery

__all__ = [
    "BacklogImporter",
    "BacklogReport",
    "Converted",
    "LeftMessage",
    "QueueReport",
    "as_mapping",
    "message_to_job",
]

logger = logging.getLogger(__name__)

_WHITESPACE = re.compile(r"\s")
_PAGE = 500
# Exchanges whose bindings are not task queues: remote control and events.
_CONTROL_EXCHANGES = re.compile(r"(^celeryev$|\.pidbox$)")


@dataclass
class Converted:
    """The gocraft job one message becomes."""

    job: Job
    run_at: int | None  # None: LPUSH now; else the scheduled set's score
    bound: bool  # False: the task is not registered here, positionals went under "*args"


@dataclass
class LeftMessage:
    """A message left in Celery's queue, and why."""

    queue: str
    message: str  # "<task id> <task name>"
    reason: str


@dataclass
class QueueReport:
    queue: str
    found: int = 0
    imported: int = 0
    scheduled: int = 0
    left: list[LeftMessage] = field(default_factory=list)


@dataclass
class BacklogReport:
    dry_run: bool
    queues: list[QueueReport] = field(default_factory=list)
    unbound: Counter[str] = field(default_factory=Counter)  # task names with no local signature
    recovered: int = 0  # messages put back from an interrupted run's claim list
    unacked: int = 0  # messages held by Celery workers right now (not touched)

    @property
    def imported(self) -> int:
        return sum(q.imported for q in self.queues)

    @property
    def left(self) -> list[LeftMessage]:
        return [m for q in self.queues for m in q.left]


def message_to_job(app: Celery, message: CeleryMessage, now: float) -> Converted:
    """The job ``app`` would have written for this call; Unconvertible when there is none."""
    name = message.task
    try:
        validate_job_name(name)
    except InvalidJobNameError as err:
        raise Unconvertible(f"task name {name!r} cannot be a gocraft job name: {err}") from None
    if _WHITESPACE.search(name):
        raise Unconvertible(f"task name {name!r} cannot be a gocraft job name: it contains whitespace")
    if message.continuations:
        raise Unconvertible(
            f"it carries {'/'.join(message.continuations)} (a chain, link or chord), which an imported job "
            "cannot carry yet; let a Celery worker run it"
        )
    task = app.tasks.get(name)
    try:
        if task is not None:
            job_args = task.bind_args(message.args, message.kwargs)
        else:
            job_args = unbound_args(message.args, message.kwargs)
    except TypeError as err:
        raise Unconvertible(f"its args do not fit the local task {name}: {err}") from None
    options: dict[str, Any] = {
        "task_id": message.id,
        "eta": message.eta,
        "expires": message.expires,
        "headers": message.headers or None,
        "root_id": message.root_id,
        "parent_id": message.parent_id,
        "shadow": message.shadow,
        "time_limit": message.time_limit,
        "soft_time_limit": message.soft_time_limit,
        "retries": message.retries or None,
        "group_id": message.group_id,
        "group_index": message.group_index,
    }
    try:
        plan = plan_publish(options, now)
        if message.origin:
            plan.meta["origin"] = message.origin
        typed = typed_values(job_args)
        if typed:
            plan.meta["types"] = typed
        job = job_for(name, encode_args(job_args), plan, plan.job_id or message.id)
    except (EncodeError, TypeError, ValueError) as err:
        raise Unconvertible(str(err)) from None
    return Converted(job, plan.run_at, task is not None)


class BacklogImporter:
    """Reads the Celery broker ``source`` and writes jobs through ``app`` (its namespace, its Redis).

    ``on_message`` is called once per message handled (for a progress bar).
    """

    def __init__(
        self,
        app: Celery,
        source: Connection,
        *,
        key_prefix: str = "",
        dry_run: bool = False,
        on_message: Callable[[], None] | None = None,
    ) -> None:
        require_kombu()
        self.app = app
        self.source = source
        self.redis: Any = source.client
        self.keys = KombuKeys(key_prefix)
        self.dry_run = dry_run
        self.on_message = on_message or (lambda: None)

    # -- what there is ----------------------------------------------------------------------------
    def discover_queues(self) -> list[str]:
        """Queues bound to an exchange in the broker (kombu's binding sets), control queues left out."""
        found: set[str] = set()
        with self.source.errors():
            for key in self.redis.scan_iter(match=self.keys.bindings_pattern(), count=500):
                exchange = self.keys.exchange_of(_text(key))
                if exchange is None or _CONTROL_EXCHANGES.search(exchange):
                    continue
                for member in self.redis.smembers(key):
                    parts = _text(member).split(KombuKeys.SEP)
                    if len(parts) == 3 and parts[2]:
                        found.add(parts[2])
        return sorted(found)

    def count(self, queues: Iterable[str]) -> int:
        """Messages waiting in ``queues`` (every priority list)."""
        with self.source.errors():
            pipe = self.redis.pipeline(transaction=False)
            for queue in queues:
                for key in self.keys.queues(queue):
                    pipe.llen(key)
            return sum(int(n) for n in pipe.execute())

    # -- the import -------------------------------------------------------------------------------
    def run(self, queues: Iterable[str]) -> BacklogReport:
        """Import (or with ``dry_run`` only convert) every message waiting in ``queues``."""
        report = BacklogReport(dry_run=self.dry_run)
        with self.source.errors():
            report.unacked = int(self.redis.hlen(self.keys.unacked()))
        for queue in queues:
            qr = QueueReport(queue)
            report.queues.append(qr)
            for step in KombuKeys.PRIORITY_STEPS:
                if self.dry_run:
                    self._convert_snapshot(queue, step, qr, report)
                else:
                    report.recovered += self._put_back(queue, step)
                    self._import_list(queue, step, qr, report)
        return report

    def _convert(self, raw: bytes, qr: QueueReport, report: BacklogReport) -> Converted | None:
        qr.found += 1
        try:
            converted = message_to_job(self.app, decode_message(raw), self.app.now())
        except Unconvertible as err:
            qr.left.append(LeftMessage(qr.queue, describe(raw), str(err)))
            logger.info("queue %s: left %s: %s", qr.queue, describe(raw), err)
            return None
        if not converted.bound:
            report.unbound[converted.job.name] += 1
        return converted

    def _count(self, converted: Converted, qr: QueueReport) -> None:
        qr.imported += 1
        if converted.run_at is not None:
            qr.scheduled += 1

    def _convert_snapshot(self, queue: str, step: int, qr: QueueReport, report: BacklogReport) -> None:
        for raw in self._oldest_first(self.keys.queue(queue, step)):
            converted = self._convert(raw, qr, report)
            if converted is not None:
                self._count(converted, qr)
            self.on_message()

    def _oldest_first(self, key: str) -> Iterator[bytes]:
        """The list's items from the consuming (right) end, read a page at a time."""
        with self.source.errors():
            length = int(self.redis.llen(key))
        end = length - 1
        while end >= 0:
            start = max(0, end - _PAGE + 1)
            with self.source.errors():
                page = self.redis.lrange(key, start, end)
            yield from reversed(page)
            end = start - 1

    def _import_list(self, queue: str, step: int, qr: QueueReport, report: BacklogReport) -> None:
        key, claim = self.keys.queue(queue, step), self.keys.import_claim(queue, step)
        with self.source.errors():
            waiting = int(self.redis.llen(key))
        try:
            for _ in range(waiting):  # only what was there: failures wait in the claim list meanwhile
                with self.source.errors():
                    raw = self.redis.lmove(key, claim, "RIGHT", "LEFT")
                if raw is None:
                    break  # a Celery worker took the rest
                converted = self._convert(raw, qr, report)
                if converted is not None:
                    push_with_retries(
                        self.app.enqueuer, converted.job, converted.run_at, self.app.conf.task_publish_retry_policy
                    )
                    with self.source.errors():
                        self.redis.lrem(claim, 1, raw)
                    self._count(converted, qr)
                self.on_message()
        finally:
            self._put_back(queue, step)

    def _put_back(self, queue: str, step: int) -> int:
        """Move the claim list back to the head of the queue, oldest nearest the head; how many."""
        key, claim = self.keys.queue(queue, step), self.keys.import_claim(queue, step)
        moved = 0
        with self.source.errors():
            while self.redis.lmove(claim, key, "LEFT", "RIGHT") is not None:
                moved += 1
        return moved


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def as_mapping(report: BacklogReport) -> Mapping[str, Any]:
    """The report as JSON-ready data (``import-backlog --json``)."""
    return {
        "dry_run": report.dry_run,
        "imported": report.imported,
        "queues": [
            {"queue": q.queue, "found": q.found, "imported": q.imported, "scheduled": q.scheduled}
            for q in report.queues
        ],
        "left": [{"queue": m.queue, "message": m.message, "reason": m.reason} for m in report.left],
        "unbound_tasks": dict(report.unbound),
        "recovered": report.recovered,
        "unacked": report.unacked,
    }
