"""``python -m bench.peers SYSTEM ROLE [options]``: run one role of one system's runner module.

The runner is imported by its real name (``bench.peers.SYSTEM``), never run as ``__main__``, so the
task functions that workers import, pickle or look up by module path are the same ones the enqueuing
process registered.
"""

from __future__ import annotations

import importlib
import sys

from bench.peers._common import run_cli

SYSTEMS = ("work_compat_pool", "celery_peer", "celery_shim_peer", "rq_peer", "dramatiq_peer", "arq_peer", "huey_peer")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in SYSTEMS:
        print(f"usage: python -m bench.peers {{{','.join(SYSTEMS)}}} ROLE [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.peers.{argv[0]}")
    return run_cli(argv[0], module.ROLES, argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
