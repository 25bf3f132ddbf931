"""The ``celery-shim`` command: Celery's command line (``celery -A proj worker``) over celery_shim.

Global options come before the command, as with Celery: ``-A/--app``, ``-b/--broker`` and
``--result-backend`` (set as ``CELERY_BROKER_URL``/``CELERY_RESULT_BACKEND``, which the app's
conf prefers), ``--config``, ``--workdir``, ``-q``, ``-C``, ``--skip-checks`` and ``--loader``
(accepted, no effect), plus ``--celery-alias``, which makes ``import celery`` give celery_shim before
the app is imported, so a project's unmodified ``from celery import Celery`` runs here. With the
``work-compat`` command, the only code of celery_shim that reads the environment or configures
logging.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from work_compat import WorkCompatError

from ..app.base import Celery
from ..exceptions import CeleryShimError
from ..install import refused_attribute
from . import backlog, control, flower, run, worker
from .find_app import AppNotFound, find_app, import_task_modules

__all__ = ["build_parser", "main"]

PROG = "celery-shim"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Celery's command line over celery_shim (gocraft/work jobs on Redis).",
        epilog="Options for the app go before the command: celery-shim -A proj worker -l INFO",
    )
    parser.add_argument("-A", "--app", default=os.environ.get("CELERY_APP"), help="module, module:attr or package")
    parser.add_argument("-b", "--broker", help="broker URL; sets CELERY_BROKER_URL, which overrides the app's")
    parser.add_argument("--result-backend", help="result backend URL; sets CELERY_RESULT_BACKEND")
    parser.add_argument("--config", help="configuration module, read as app.config_from_object(CONFIG)")
    parser.add_argument("--workdir", help="change to this directory first")
    parser.add_argument("-q", "--quiet", action="store_true", help="print less")
    parser.add_argument("-C", "--no-color", action="store_true", help="accepted; output is never colored")
    parser.add_argument("--skip-checks", action="store_true", help="accepted; there are no Django checks to skip")
    parser.add_argument("--loader", help="accepted and ignored (celery_shim has one loader)")
    parser.add_argument(
        "--celery-alias",
        action="store_true",
        help="make 'import celery' give celery_shim before importing the app (celery_shim.install())",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    worker.add_parsers(sub)
    control.add_parsers(sub)
    flower.add_parser(sub)
    backlog.add_parser(sub)
    run.add_parser(sub)
    return parser


def _apply_globals(args: argparse.Namespace) -> None:
    """What must happen before the app is imported: directory, env overrides, the celery alias."""
    if args.workdir:
        os.chdir(args.workdir)
    if args.broker:
        os.environ["CELERY_BROKER_URL"] = args.broker
    if args.result_backend:
        os.environ["CELERY_RESULT_BACKEND"] = args.result_backend
    if args.config:
        os.environ["CELERY_CONFIG_MODULE"] = args.config
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as Celery does: the project's modules import from here
    if args.celery_alias:
        from ..install import install

        install()


def _load_app(args: argparse.Namespace) -> Celery:
    app = find_app(args.app) if args.app else Celery(set_as_current=True)
    if args.config:
        app.config_from_object(args.config)
    import_task_modules(app)  # include/imports: their tasks name the args of call, purge, import-backlog
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    split = run.split_run(sys.argv[1:] if argv is None else argv)
    if split is not None:  # the program's own options are not celery-shim's
        args = parser.parse_args(split[0])
        args.program = split[1]
        _apply_globals(args)
        return run.run_program(None, args)
    args, unknown = parser.parse_known_args(argv)
    if getattr(args, "takes_unknown", False):
        args.flower_args = unknown
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    _apply_globals(args)
    try:
        app = _load_app(args)
    except AppNotFound as err:
        print(f"{PROG}: Unable to load celery application. {err}", file=sys.stderr)
        return 2
    except CeleryShimError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    try:
        code: int = args.func(app, args)
    except (CeleryShimError, WorkCompatError) as err:
        print(f"{PROG} {args.command}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


__getattr__ = refused_attribute(
    __name__,
    {
        "celery": "Celery's click command group (Flower adds its `flower` command to it): the celery-shim command "
        "line is not click; run the dashboard with `celery-shim -A proj flower`"
    },
)
