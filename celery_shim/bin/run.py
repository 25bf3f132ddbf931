"""``celery-shim --celery-alias run manage.py runserver``: run a Python program in this process.

The worker of an unmodified Celery project runs with ``--celery-alias``; its web process must see
the same ``celery`` to publish gocraft jobs. ``run`` starts any program — a script, or ``-m module``
as ``python -m`` does — after the global options took effect (the alias installed, ``-b`` and
``--result-backend`` set), so ``celery-shim --celery-alias run -m flask --app shop run`` or
``celery-shim --celery-alias run manage.py runserver`` publishes through celery_shim.
"""

from __future__ import annotations

import argparse
import runpy
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["GLOBAL_OPTIONS_WITH_VALUES", "add_parser", "run_program", "split_run"]

# Global options of celery-shim that take a value: what precedes a ``run`` command may use them.
GLOBAL_OPTIONS_WITH_VALUES = ("-A", "--app", "-b", "--broker", "--result-backend", "--config", "--workdir", "--loader")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a Python program (script or -m module) with the global options applied",
        description="Run 'SCRIPT [ARGS]' or '-m MODULE [ARGS]' in this process, as python would, after the "
        "global options (--celery-alias above all) have taken effect.",
    )
    p.add_argument("program", nargs=argparse.REMAINDER, help="SCRIPT [ARGS] or -m MODULE [ARGS]")
    p.set_defaults(func=run_program)


def split_run(argv: Sequence[str]) -> tuple[list[str], list[str]] | None:
    """``(global options + ['run'], program argv)`` when the command is ``run``, else None.

    The program's own options (``-m``, ``--app``) must not be read as celery-shim's, so they are
    cut off before parsing.
    """
    i = 0
    args = list(argv)
    while i < len(args):
        token = args[i]
        if token == "run":
            return args[: i + 1], args[i + 1 :]
        if not token.startswith("-"):
            return None  # another command
        if token in GLOBAL_OPTIONS_WITH_VALUES:
            i += 1  # skip its value
        i += 1
    return None


def run_program(app: Any, args: argparse.Namespace) -> int:
    program = list(args.program)
    if program[:1] == ["--"]:
        program = program[1:]
    if not program:
        print("celery-shim run: give a script or -m MODULE to run", file=sys.stderr)
        return 2
    try:
        if program[0] == "-m":
            if len(program) < 2:
                print("celery-shim run: -m needs a module name", file=sys.stderr)
                return 2
            sys.argv = [program[1], *program[2:]]
            runpy.run_module(program[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = program
            runpy.run_path(program[0], run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    return 0
