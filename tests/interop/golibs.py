"""The two pinned Go libraries, and how to build a Go program against each (the one place that knows).

A Go module of the project's tests (the interop driver, bench/go/*) requires the exact published
version of a library in its committed go.mod. Where the Go module proxy serves that version, as on
the public internet, the build takes it from there. Where it does not, a local source tree of the
library stands in: ``WORK_COMPAT_GOCRAFT_SRC`` / ``WORK_COMPAT_FORK_SRC`` (the test runner's
``--gocraft-src`` / ``--fork-src`` set them). Either way the build runs in a temporary copy of the
module, with a ``replace`` in the copy only: the committed go.mod and the source tree stay as they are.

    from tests.interop.golibs import go_binary
    driver = go_binary("fork", Path("tests/interop/fork"))            # a module that requires the fork
    webui = go_binary("fork", package="./cmd/workwebui")              # a command of the library itself
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LIBRARIES", "Library", "LibraryUnavailable", "find_go", "go_binary", "source_tree"]


@dataclass(frozen=True)
class Library:
    """One pinned library: its module and version, and where a local source tree may be named."""

    key: str
    module: str
    version: str
    env: str
    option: str

    @property
    def pinned(self) -> str:
        return f"{self.module} {self.version}"


LIBRARIES = {
    "orig": Library(
        "orig",
        "github.com/gocraft/work",
        "v0.5.2-0.20200429214246-5959e69ad211",
        "WORK_COMPAT_GOCRAFT_SRC",
        "--gocraft-src",
    ),
    "fork": Library("fork", "github.com/LarnTechKe/work", "v0.0.3", "WORK_COMPAT_FORK_SRC", "--fork-src"),
}


class LibraryUnavailable(RuntimeError):
    """Neither a source tree nor the module proxy has the library; the message is one line."""


def find_go() -> str | None:
    return shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if os.access(p, os.X_OK)), None
    )


def _library(lib: str) -> Library:
    try:
        return LIBRARIES[lib]
    except KeyError:
        raise ValueError(f"unknown Go library {lib!r}; choose from {sorted(LIBRARIES)}") from None


def source_tree(lib: str) -> Path | None:
    """The local source tree named for ``lib`` (its environment variable), or None.

    A named tree that is not the library's module root is an error, not a silent proxy fallback.
    """
    library = _library(lib)
    value = os.environ.get(library.env, "").strip()
    if not value:
        return None
    tree = Path(value).expanduser().resolve()
    go_mod = tree / "go.mod"
    if not go_mod.is_file():
        raise RuntimeError(f"{library.env}={value}: no go.mod there; name the root of {library.module}'s source")
    found = re.search(r"^module\s+(\S+)", go_mod.read_text(encoding="utf-8"), re.M)
    if found is None or found.group(1) != library.module:
        raise RuntimeError(f"{library.env}={value}: its go.mod is not module {library.module}")
    return tree


def _how_to_provide(library: Library) -> str:
    return (
        f"{library.pinned}: the Go module proxy did not serve it; point {library.option} or "
        f"{library.env} at its source tree"
    )


_build_root: Path | None = None
_built: dict[tuple[str, str, str, str], Path] = {}


def _scratch() -> Path:
    global _build_root
    if _build_root is None:
        _build_root = Path(tempfile.mkdtemp(prefix="work-compat-go-"))
        atexit.register(shutil.rmtree, _build_root, True)
    return _build_root


def _go(go: str, args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CGO_ENABLED": "0"}
    return subprocess.run([go, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def _refused(stderr: str) -> bool:
    """The proxy's answer for a version it will not serve (or no network to ask)."""
    return any(
        s in stderr
        for s in (
            "403 Forbidden",
            "404 Not Found",
            "410 Gone",
            "not available",
            "dial tcp",
            "no such host",
            "disabled by GOPROXY",
        )
    )


def _prepare(
    library: Library, tree: Path | None, module_dir: Path | None, work: Path, go: str, version: str | None = None
) -> Path:
    """A writable copy of the module to build in, set to use the library's source tree if one is named
    (or, with ``version``, to require that published version instead of the pinned one)."""
    if module_dir is None:  # the library's own module (e.g. its cmd/workwebui)
        if tree is None:
            work.mkdir(parents=True)
            (work / "go.mod").write_text(f"module workcompat/build\n\ngo 1.22\n\nrequire {library.pinned}\n")
            return work
        shutil.copytree(tree, work, ignore=shutil.ignore_patterns(".git", "node_modules"))
        for p in [work, *work.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)  # the tree may be read-only
        proc = _go(go, ["mod", "tidy"], work, 600)  # its go.sum may lack what its commands import
        if proc.returncode != 0:
            raise RuntimeError(f"go mod tidy in a copy of {tree} failed:\n{proc.stderr}")
        return work
    shutil.copytree(module_dir, work)  # links (fork/main.go) become files
    if version is not None:
        proc = _go(go, ["mod", "edit", f"-require={library.module}@{version}"], work, 60)
        if proc.returncode != 0:
            raise RuntimeError(f"go mod edit in a copy of {module_dir} failed:\n{proc.stderr}")
    elif tree is not None:
        proc = _go(go, ["mod", "edit", f"-replace={library.module}={tree}"], work, 60)
        if proc.returncode != 0:
            raise RuntimeError(f"go mod edit in a copy of {module_dir} failed:\n{proc.stderr}")
    return work


def go_binary(
    lib: str, module_dir: Path | None = None, package: str = ".", *, go: str | None = None, version: str | None = None
) -> Path:
    """Build ``package`` of the Go module ``module_dir`` (which requires ``lib``) and return the binary.

    ``module_dir=None`` builds a command of the library's own module (``package="./cmd/workwebui"``).
    ``version`` builds ``module_dir`` against another published version of the library (e.g. an older
    tag to compare with), from the module proxy only: a source tree is of the pinned version.
    The first call per (lib, source, module, package) builds; later calls return the same binary.
    Raises LibraryUnavailable (one line: how to provide the library) when neither a source tree nor
    the proxy has it, and RuntimeError with Go's output for any other failure.
    """
    library = _library(lib)
    go = go or find_go()
    if go is None:
        raise RuntimeError("the Go toolchain is not installed (https://go.dev/dl, or Debian's golang)")
    if version is not None and module_dir is None:
        raise ValueError("version= needs module_dir: the library's own commands build at the pinned version")
    tree = None if version is not None else source_tree(lib)
    module = module_dir.resolve() if module_dir is not None else None
    key = (lib, version or str(tree or ""), str(module or ""), package)
    if key in _built:
        return _built[key]
    scratch = Path(tempfile.mkdtemp(prefix=f"{lib}-", dir=_scratch()))
    work = _prepare(library, tree, module, scratch / "module", go, version)
    target = package
    if module is None and tree is None:  # built from the module cache: name the package in full
        target = library.module if package == "." else f"{library.module}/{package.removeprefix('./')}"
    binary = scratch / (Path(package).name if package != "." else f"{module.name if module else lib}-bin")
    # -mod=mod: the copy's go.mod/go.sum may be completed (the replace, or the pinned module's sums)
    proc = _go(go, ["build", "-mod=mod", "-buildvcs=false", "-o", str(binary), target], work, 900)
    if proc.returncode != 0:
        if version is not None and _refused(proc.stderr):
            raise LibraryUnavailable(f"{library.module} {version}: the Go module proxy did not serve it")
        if tree is None and _refused(proc.stderr):
            raise LibraryUnavailable(_how_to_provide(library))
        wanted = f"{library.module} {version}" if version is not None else library.pinned
        raise RuntimeError(f"go build {target} ({wanted}) failed:\n{proc.stderr}")
    _built[key] = binary
    return binary
