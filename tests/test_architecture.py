"""House rules the code itself must keep: no import circles inside the package, no module over 700 lines.

Every import statement counts, lazy ones inside functions included: a circle
that only closes at run time is still a circle to read and to test.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "chimeqda"
MAX_LINES = 700


def _modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of the package (packages by their ``__init__``)."""
    found = {}
    for path in (SRC / PACKAGE).rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's own modules that ``name`` imports (the nearest enclosing module for a name)."""
    is_package = path.name == "__init__.py"
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - node.level + 1]
                base = ".".join(here + ([base] if base else []))
            targets += [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    found = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def _is_cli(module: str) -> bool:
    return module == f"{PACKAGE}.cli" or module.startswith(f"{PACKAGE}.cli.")


def _long_modules() -> dict[str, int]:
    lengths = {path.relative_to(SRC).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
               for path in _modules().values()}
    return {path: n for path, n in sorted(lengths.items()) if n > MAX_LINES}


def test_the_circle_finder_finds_circles_and_only_circles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set(), "g": {"h"}, "h": {"g", "f"}}
    assert sorted(circles(graph)) == [["a", "b", "c"], ["g", "h"]]


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert f"{PACKAGE}.cli.common" in graph[f"{PACKAGE}.cli.project"]
    assert f"{PACKAGE}.cli.project" in graph[f"{PACKAGE}.cli"]
    # `from chimeqda.services import import_files` sits inside the import command's function
    assert f"{PACKAGE}.services" in graph[f"{PACKAGE}.cli.project"]


def test_the_command_line_has_no_import_circle():
    graph = import_graph()
    assert not [group for group in circles(graph) if any(_is_cli(m) for m in group)]
    assert not [m for m in graph if _is_cli(m) and m != f"{PACKAGE}.cli" and f"{PACKAGE}.cli" in graph[m]], \
        "cli area modules import chimeqda.cli.common, never the package that registers them"


def test_the_command_line_modules_are_short():
    assert not {path: n for path, n in _long_modules().items() if path.startswith(f"{PACKAGE}/cli/")}


def test_no_import_circle_in_the_package():
    found = circles(import_graph())
    assert not found, "import circles: " + "; ".join(" ↔ ".join(group) for group in found)


def test_no_module_over_700_lines():
    assert not _long_modules(), f"modules over {MAX_LINES} lines: {_long_modules()}"
