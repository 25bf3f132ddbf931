"""Build the benchmarks' Go programs (``bench/go/*``) against the Go libraries they are compared with.

Each program is two Go modules with one ``main.go`` (the second links to the first) and a
``compat.go`` each that imports its library. Their ``go.mod`` files require the pinned versions as
published, as a user on the internet gets them:

- ``bench/go/<program>``: ``github.com/gocraft/work`` at commit 5959e69
  (``v0.5.2-0.20200429214246-5959e69ad211``), the version the protocol spec describes;
- ``bench/go/<program>-fork``: ``github.com/LarnTechKe/work v0.0.3``.

``tests/interop/golibs.py``, the project's one place that knows how to build against these
libraries, does the build in a temporary copy of the module: from the Go module proxy, or, where a
source tree of the library is named, with a ``replace`` onto it in the copy only. The trees are
``$WORK_COMPAT_GOCRAFT_SRC`` and ``$WORK_COMPAT_FORK_SRC``; when one is unset, this module names
``../shared/upstream/gocraft-work-5959e69`` or ``../shared/upstream/larntechke-work-v0.0.3`` beside
the repository if it is there (where the proxy refuses the pinned versions, as here). Nothing of a
library is copied into the project; the binaries live in a temporary folder for the run.

``v0.5.1`` is an extra: the gocraft module built against the older tag ``v0.5.1`` (the Go row of
earlier results), from the proxy only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.interop import golibs

BENCH_DIR = Path(__file__).resolve().parent
GO_DIR = BENCH_DIR / "go"
UPSTREAM = BENCH_DIR.parent.parent / "shared" / "upstream"

__all__ = ["LIBRARIES", "Built", "GoBuildError", "GoLibrary", "build", "find_go"]


@dataclass(frozen=True)
class GoLibrary:
    """One Go library a benchmark row runs on."""

    key: str
    golib: str  # its key in golibs.LIBRARIES
    module_suffix: str  # bench/go/<program><suffix>
    upstream: str  # default source tree under UPSTREAM ("" for none)
    label: str  # short name for tables
    version: str | None = None  # a published version other than the pinned one (proxy only)

    @property
    def module(self) -> str:
        return golibs.LIBRARIES[self.golib].module

    @property
    def full_version(self) -> str:
        return self.version or golibs.LIBRARIES[self.golib].version


LIBRARIES = {
    "gocraft": GoLibrary("gocraft", "orig", "", "gocraft-work-5959e69", "gocraft/work 5959e69"),
    "fork": GoLibrary("fork", "fork", "-fork", "larntechke-work-v0.0.3", "LarnTechKe/work v0.0.3"),
    "v0.5.1": GoLibrary("v0.5.1", "orig", "", "", "gocraft/work v0.5.1", version="v0.5.1"),
}


class GoBuildError(RuntimeError):
    """The program did not build; the first line says why."""


@dataclass(frozen=True)
class Built:
    binary: Path
    source: str  # where the library came from: "source tree DIR" or "Go module proxy"


def find_go() -> str | None:
    return golibs.find_go()


def _source_tree(lib: GoLibrary) -> Path | None:
    """The library's source tree: its environment variable, else the shared upstream copy if present.

    The default is put into the environment, so golibs (and anything the benchmark starts) sees it.
    """
    env = golibs.LIBRARIES[lib.golib].env
    default = UPSTREAM / lib.upstream if lib.upstream else None
    if not os.environ.get(env, "").strip() and default is not None and (default / "go.mod").is_file():
        os.environ[env] = str(default)
    return golibs.source_tree(lib.golib)


def build(program: str, key: str) -> Built:
    """Build ``bench/go/<program>`` (``enqueue`` or ``workers``) against ``LIBRARIES[key]``."""
    lib = LIBRARIES[key]
    module_dir = GO_DIR / f"{program}{lib.module_suffix}"
    try:
        tree = None if lib.version else _source_tree(lib)
        binary = golibs.go_binary(lib.golib, module_dir, version=lib.version)
    except golibs.LibraryUnavailable as err:
        raise GoBuildError(str(err)) from None
    except RuntimeError as err:
        raise GoBuildError(f"{program} against {lib.module} {lib.full_version}: {err}") from None
    return Built(binary, f"source tree {tree}" if tree else "Go module proxy")
