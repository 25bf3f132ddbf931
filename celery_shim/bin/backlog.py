"""``import-backlog``: the command around ``celery_shim.gocraft.backlog`` (options, progress bar, report).

Exit status 0 when every message was imported (or, with ``--dry-run``, would be), 1 when some stay
in Celery's queues (they are listed with the reason), 2 for bad options or a missing kombu.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from work_compat import connect

from ..app.base import Celery
from ..app.routes import queues_of
from ..gocraft.backlog import BacklogImporter, BacklogReport, as_mapping
from .options import comma_list
from .progress import make_progress

__all__ = ["add_parser", "print_report"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "import-backlog",
        help="move the messages waiting in a Celery Redis broker into gocraft jobs",
        description="Drain the queues of an existing Celery broker on Redis (message protocol 1 and 2) into "
        "gocraft jobs on the app's namespace. A message that cannot be converted stays in Celery's queue "
        "and is listed.",
    )
    p.add_argument("-Q", "--queues", type=comma_list, action="extend", help="only these Celery queues")
    p.add_argument("-X", "--exclude-queues", type=comma_list, action="extend", help="not these queues")
    p.add_argument("--from", dest="source", help="the Celery broker's Redis URL (default: the app's broker_url)")
    p.add_argument(
        "--key-prefix",
        help="the Celery broker's global_keyprefix (default: the app's broker_transport_options)",
    )
    p.add_argument("--dry-run", action="store_true", help="convert and report, change nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_import)


def _queues(app: Celery, importer: BacklogImporter, args: argparse.Namespace) -> list[str]:
    if args.queues:
        wanted = list(dict.fromkeys(args.queues))
    else:
        wanted = sorted({*importer.discover_queues(), *queues_of(app), str(app.conf.task_default_queue)})
    excluded = set(args.exclude_queues or ())
    return [q for q in wanted if q not in excluded]


def print_report(report: BacklogReport) -> None:
    verb = "would import" if report.dry_run else "imported"
    for q in report.queues:
        if not q.found:
            continue
        scheduled = f" ({q.scheduled} scheduled for later)" if q.scheduled else ""
        print(f"queue {q.queue}: {q.found} messages, {verb} {q.imported}{scheduled}, left {len(q.left)}")
    print(f"{verb} {report.imported} message{'s' if report.imported != 1 else ''} in total")
    for name, n in sorted(report.unbound.items()):
        print(f"  task {name} is not registered here: {n} job(s) carry positional args under '*args'")
    if report.recovered:
        print(f"put back {report.recovered} message(s) an interrupted import had taken (they may be imported twice)")
    if report.unacked:
        print(f"{report.unacked} message(s) are held by Celery workers (unacked); they were not touched")
    if report.left:
        print(f"left in Celery's queues ({len(report.left)}):")
        for m in report.left:
            print(f"  {m.queue}: {m.message}: {m.reason}")


def run_import(app: Celery, args: argparse.Namespace) -> int:
    try:
        from ..gocraft.celery_message import require_kombu

        require_kombu()
    except ImportError as err:
        print(f"celery-shim import-backlog: {err}", file=sys.stderr)
        return 2
    url = args.source or app.conf.broker_url
    prefix = args.key_prefix
    if prefix is None:
        prefix = str((app.conf.broker_transport_options or {}).get("global_keyprefix") or "")
    source = connect(app._redis_url(url))
    try:
        importer = BacklogImporter(app, source, key_prefix=prefix, dry_run=args.dry_run)
        queues = _queues(app, importer, args)
        total = importer.count(queues)
        bar = make_progress(total, "import-backlog", enabled=not (args.no_progress or args.quiet or args.json))
        importer.on_message = lambda: bar.update(1)
        try:
            report = importer.run(queues)
        finally:
            bar.close()
    finally:
        source.close()
    if args.json:
        print(json.dumps(as_mapping(report), indent=2))
    else:
        print_report(report)
    return 1 if report.left else 0
