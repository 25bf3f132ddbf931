"""``python -m bench [NAME] [ARGS...]``: run the benchmarks.

    python -m bench                    # every benchmark, one after another, each with its defaults
    python -m bench -n 1000 --runs 1   # every benchmark with these options (ones all of them take:
                                       # --redis URL, -n, --runs, --results DIR)
    python -m bench workers --only go  # one benchmark, with any of its own options

Each benchmark is also runnable directly, e.g. ``python -m bench.enqueue --help``. At the end this
says which result files each one wrote; ``python -m bench.readme_table`` turns them into the
README's Performance table.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

BENCHMARKS = {
    "enqueue": "bench.enqueue",
    "workers": "bench.workers",
}


def _written(module: ModuleType, argv: list[str], since: float) -> list[Path]:
    """The result files ``module`` wrote into its results folder since ``since``."""
    folder = Path(module.parse_args(argv).results)
    files = [folder / name for name in module.OUTPUTS]
    return [f for f in files if f.is_file() and f.stat().st_mtime >= since]


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\nbenchmarks: " + ", ".join(BENCHMARKS))
        return 0
    names = list(BENCHMARKS)
    if argv and not argv[0].startswith("-"):
        if argv[0] not in BENCHMARKS:
            print(f"unknown benchmark {argv[0]!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
        names, argv = [argv[0]], argv[1:]
    modules = {name: importlib.import_module(BENCHMARKS[name]) for name in names}
    for name, module in modules.items():  # every option checked before anything runs
        try:
            module.parse_args(argv)
        except SystemExit as err:
            if len(names) > 1 and err.code:
                print(
                    f"the options given go to every benchmark, and {name} refused them; "
                    f"name one benchmark to give it its own options (python -m bench {name} ...)",
                    file=sys.stderr,
                )
            return int(err.code or 0)
    outcome: dict[str, str | list[Path]] = {}
    for name, module in modules.items():
        print(f"== {name} ({BENCHMARKS[name]} {' '.join(argv)})".rstrip(), file=sys.stderr)
        started = time.time() - 1  # file times can be coarser than the clock
        try:
            code = int(module.main(argv) or 0)
        except Exception as err:  # one benchmark failing must not lose the others' results
            traceback.print_exc()
            outcome[name] = f"FAILED: {type(err).__name__}: {err}"
            continue
        outcome[name] = _written(module, argv, started) if code == 0 else f"FAILED: exit status {code}"
    print("\nresults:", file=sys.stderr)
    for name, result in outcome.items():
        text = result if isinstance(result, str) else ", ".join(str(p) for p in result) or "no files written"
        print(f"  {name}: {text}", file=sys.stderr)
    return 1 if any(isinstance(r, str) for r in outcome.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
