"""``python -m bench [NAME] [ARGS...]``: run one benchmark (default ``enqueue``).

Each benchmark is also runnable directly, e.g. ``python -m bench.enqueue --help``.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "enqueue": "bench.enqueue",
    "workers": "bench.workers",
}


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("benchmarks: " + ", ".join(sorted(BENCHMARKS)))
        return 0
    name = "enqueue"
    if argv and not argv[0].startswith("-"):
        name, argv = argv[0], argv[1:]
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[name])
    return int(module.main(argv) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
