"""Print swamp's internal import graph; exit 1 on a cycle or a forbidden edge.

A development tool, outside the package: run it as

    python tools/import_graph.py            # the graph, one module a line
    python tools/import_graph.py --quiet    # only the problems
    python tools/import_graph.py --packages # the graph of the packages

Packages have no cycle either: with each subpackage's modules taken as one
(swamp.engine, swamp.queue, …), the graph still flows one way.

Every `import` counts, wherever it stands: at the top, inside a function, or
under `if TYPE_CHECKING:`. A function-level import hides a cycle from Python,
not from a reader, so it is an edge here too.

A function-level import is allowed only to keep start-up fast, and says so:
a comment on its line, or on the line just above its block of imports.
The tool reports every one that does not.
"""

from __future__ import annotations

import argparse
import ast
import functools
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "swamp"

# Layers that must not reach into each other: (importer prefix, imported prefix, why).
FORBIDDEN = [
    ("swamp.engine", "swamp.queue", "the engine reports outcomes; the queue layer records them"),
    ("swamp.engine", "swamp.commands", "commands call the engine, not the other way"),
    ("swamp.engine", "swamp.cli", "the CLI calls the engine, not the other way"),
    ("swamp.validate", "swamp.engine", "validation does not depend on the engine"),
]


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    found: dict[str, Path] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that `name` names or lies in."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` imports the module a.b when there is one.
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            if name.split(".")[0] != PACKAGE:
                continue
            target = _resolve(name, known)
            if target and target not in (module, PACKAGE):
                targets.add(target)
    return targets


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    return {name: set(targets) for name, targets in _graph(root).items()}


@functools.cache  # the tests ask for the same tree's graph several times
def _graph(root: Path) -> dict[str, frozenset[str]]:
    known = modules(root)
    return {name: frozenset(imports_of(name, path, known)) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def forbidden(edges: dict[str, set[str]]) -> list[str]:
    problems = []
    for importer, targets in sorted(edges.items()):
        for target in sorted(targets):
            for source_prefix, target_prefix, why in FORBIDDEN:
                if _under(importer, source_prefix) and _under(target, target_prefix):
                    problems.append(f"{importer} imports {target}: {why}")
    return problems


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def packages(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph with every module of a subpackage (swamp.engine.runs) merged
    into it (swamp.engine); top-level modules stay themselves."""

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    merged: dict[str, set[str]] = {}
    for importer, targets in edges.items():
        mine = merged.setdefault(package(importer), set())
        mine.update(package(t) for t in targets if package(t) != package(importer))
    return merged


def problems(edges: dict[str, set[str]]) -> list[str]:
    module_cycles = cycles(edges)
    found = [f"import cycle: {' <-> '.join(c)}" for c in module_cycles]
    found += [
        f"package cycle: {' <-> '.join(c)}"
        for c in cycles(packages(edges))
        if c not in module_cycles  # top-level modules are packages of their own
    ]
    return found + forbidden(edges)


def unexplained_lazy_imports(root: Path = ROOT) -> list[str]:
    """`path:line: import …` of every function-level import with no comment
    on its line, nor on the line just above its block of imports (blank
    lines between the groups of a block are part of it)."""
    return list(_unexplained_lazy_imports(root))


@functools.cache  # as for _graph
def _unexplained_lazy_imports(root: Path) -> tuple[str, ...]:
    found = []
    for path in modules(root).values():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines), str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import | ast.ImportFrom) and not _explained(
                    lines, sub.lineno
                ):
                    where = path.relative_to(root)
                    found.append(f"{where}:{sub.lineno}: {lines[sub.lineno - 1].strip()}")
    return tuple(sorted(found))


def _explained(lines: list[str], lineno: int) -> bool:
    i = lineno - 1
    if "#" in lines[i]:
        return True
    while i > 0:
        above = lines[i - 1].strip()
        if above.startswith("#"):
            return True
        if above and not above.startswith(("import ", "from ")):
            return False
        i -= 1
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="print only the problems")
    parser.add_argument("--packages", action="store_true", help="print the packages' graph")
    args = parser.parse_args(argv)
    edges = graph()
    shown = packages(edges) if args.packages else edges
    if not args.quiet:
        try:
            # Dependencies first: a reader can go top to bottom.
            order = list(TopologicalSorter(shown).static_order())
        except CycleError:
            order = sorted(shown)
        for name in order:
            targets = sorted(shown[name])
            print(f"{name} -> {', '.join(targets)}" if targets else name)
    found = problems(edges) + [
        f"{where}: a function-level import must say why (start-up time) in a comment"
        for where in unexplained_lazy_imports()
    ]
    for line in found:
        print(f"error: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
