"""The ``workwebui`` console script and ``python -m webui``: without the ``web`` extra (tornado),
one line saying what to install and exit status 2, instead of an import traceback."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

__all__ = ["main"]

MISSING_TORNADO = (
    "workwebui: the dashboard needs tornado, which is not installed: "
    "pip install 'work-compat[web]' (in a clone of work-compat: pip install '.[web]')"
)


def main(argv: Sequence[str] | None = None) -> int:
    if importlib.util.find_spec("tornado") is None:
        print(MISSING_TORNADO, file=sys.stderr)
        return 2
    from .cli import main as cli_main

    return cli_main(argv)
