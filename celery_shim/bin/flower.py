"""``celery-shim -A proj flower [flower options]``: the dashboard on the app's broker and namespace.

As with Flower, Celery's options (``-A``, ``-b``) go before ``flower`` and Flower's after it; a
``--broker`` given after ``flower`` is honoured too. Flower's default port, 5555, applies unless
``--port`` says otherwise; it listens on loopback unless ``--address`` says otherwise. Task results
are read from the app's ``result_backend``, as Flower does, unless ``--result-backend`` says otherwise.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from ..app.backends import redis_result_url
from ..app.base import Celery

__all__ = ["FLOWER_PORT", "add_parser", "webui_argv"]

logger = logging.getLogger(__name__)

FLOWER_PORT = 5555


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "flower",
        help="run the web dashboard (Flower's options follow the command)",
        description="Run the web dashboard for the app's broker and namespace; options after 'flower' are the "
        "dashboard's (--port, --address, --url_prefix, --basic_auth, --read_only, ...).",
    )
    p.set_defaults(func=run_flower, takes_unknown=True)  # the dashboard's options: main() passes them on


def _pop_broker(argv: list[str]) -> tuple[list[str], str | None]:
    """Take ``--broker URL`` / ``--broker=URL`` out of Flower's options (Flower 2 moved it before the command)."""
    out: list[str] = []
    broker = None
    it = iter(argv)
    for arg in it:
        if arg == "--broker":
            broker = next(it, None)
        elif arg.startswith("--broker="):
            broker = arg.split("=", 1)[1]
        else:
            out.append(arg)
    return out, broker


def webui_argv(app: Celery, flower_args: list[str]) -> list[str]:
    """The ``workwebui`` arguments for the app: its Redis and namespace, then the user's options."""
    rest, broker = _pop_broker(flower_args)
    url = broker or app.conf.broker_url
    if not url:
        raise ValueError("the app has no broker_url: give -b redis://host:6379/0 before 'flower'")
    redis_url = app._redis_url(url)
    argv = ["--redis", redis_url, "--ns", app.namespace, "--port", str(FLOWER_PORT)]
    results = redis_result_url(app.conf)
    given = any(a.split("=", 1)[0] in ("--result-backend", "--result_backend") for a in rest)
    if results and not given:
        argv += ["--result-backend", results]  # the app's own backend, as Flower reads the app's
    elif not results and not given and app.conf.get("result_backend"):
        logger.warning(
            "result_backend=%r is not a Redis URL the dashboard can read: task results will not be shown",
            app.conf.get("result_backend"),
        )
    return [*argv, *rest]


def run_flower(app: Celery, args: argparse.Namespace) -> int:
    try:
        from webui.cli import main as webui_main
    except ImportError as err:
        print(
            f"celery-shim flower: the dashboard needs tornado ({err}): pip install 'work-compat[web]'", file=sys.stderr
        )
        return 2
    try:
        argv = webui_argv(app, list(args.flower_args))
    except ValueError as err:
        print(f"celery-shim flower: {err}", file=sys.stderr)
        return 2
    return webui_main(argv)
