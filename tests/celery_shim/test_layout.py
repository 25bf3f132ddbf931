"""celery_shim's package layout: dependencies run one way, as the package docstrings say.

The units are celery_shim's top-level packages and modules (``app``, ``worker``, ``canvas``,
``exceptions``, ...). Every import of a celery_shim module counts, at module level or inside a
function (a deferred import is still a dependency), except those under ``if TYPE_CHECKING:``, which
never run. Read with ``ast``, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "celery_shim"
CORE = ("app", "canvas", "result", "backends")
TOP = ("worker", "bin")


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _runtime_imports(tree: ast.AST) -> Iterator[ast.ImportFrom | ast.Import]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _runtime_imports(ast.Module(body=[child])))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _runtime_imports(node)


def _imported(name: str, is_package: bool, node: ast.ImportFrom | ast.Import) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        parts = name.split(".") if is_package else name.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts) + (f".{node.module}" if node.module else "")
    for alias in node.names:
        yield f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent / dotted.replace(".", "/")
    return path.is_dir() or path.with_suffix(".py").is_file()


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def unit_edges() -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> the module-level imports behind that edge."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name, is_package = _module_name(path)
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _imported(name, is_package, node):
                if not target.startswith("celery_shim.") or _unit(target) == _unit(name):
                    continue
                edges.setdefault((_unit(name), _unit(target)), []).append(f"{name} -> {target} (line {node.lineno})")
    return edges


def _cycle(edges: dict[tuple[str, str], list[str]]) -> list[str] | None:
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_packages() -> None:
    edges = unit_edges()
    cycle = _cycle(edges)
    if cycle:
        lines = [line for a, b in zip(cycle, cycle[1:], strict=False) for line in edges[(a, b)]]
        pytest.fail("import cycle " + " -> ".join(cycle) + ":\n" + "\n".join(lines))


@pytest.mark.parametrize("core", CORE)
def test_the_core_never_imports_the_worker_or_the_command_line(core: str) -> None:
    wrong = [line for (a, b), lines in unit_edges().items() if a == core and b in TOP for line in lines]
    assert not wrong, wrong


def test_every_package_says_what_lives_there() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), init
