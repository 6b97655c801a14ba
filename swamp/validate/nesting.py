"""Cycles and depth: jobs and steps that depend on each other, workflows that call each other.

One cycle finder (graphlib's) serves all three.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from graphlib import CycleError, TopologicalSorter

from swamp.definitions import MAX_DEPTH, Step
from swamp.errors import Problem
from swamp.loader import Document, JsonPath, format_path
from swamp.repo import Contents


def find_cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each cycle of `graph` (node -> what it depends on) once, as the nodes
    along its edges, starting at the member that comes first in `graph`.

    graphlib reports one cycle at a time: an edge of each found cycle is
    dropped and the search goes on, until the graph sorts.
    """
    order = {node: i for i, node in enumerate(graph)}
    edges = {node: list(deps) for node, deps in graph.items()}
    found: list[list[str]] = []
    while True:
        try:
            TopologicalSorter(edges).prepare()
        except CycleError as e:
            # graphlib lists a cycle from dependency to dependent; ours go
            # the other way, like the arrows of `dependsOn`.
            ring = list(reversed(e.args[1][1:]))
            start = min(range(len(ring)), key=lambda i: order.get(ring[i], len(order)))
            cycle = ring[start:] + ring[:start]
            found.append(cycle)
            edges[cycle[0]].remove(cycle[1 % len(cycle)])
            continue
        return found


def cycle_problems(
    doc: Document, graph: Mapping[str, list[str]], where: Callable[[str], JsonPath], noun: str
) -> list[Problem]:
    """One problem per dependency cycle, at its first member."""
    out = []
    for cycle in find_cycles(graph):
        path = where(cycle[0])
        out.append(
            doc.problem(
                path,
                f"{format_path(path)}: dependency cycle between {noun}s: "
                + " -> ".join([*cycle, cycle[0]]),
                key=True,
            )
        )
    return out


def check_nesting(repo: Contents) -> None:
    """Workflows calling workflows must not loop back, nor nest deeper than
    the engine runs them (reported in the workflow that starts the chain)."""
    edges: dict[str, list[tuple[str, Step]]] = {}
    for wf in repo.workflows.values():
        for job in wf.jobs.values():
            for step in (*job.steps, *job.prechecks, *(job.checks.steps if job.checks else ())):
                if step.workflow in repo.workflows:
                    edges.setdefault(wf.name, []).append((step.workflow, step))
    graph = {name: [t for t, _ in edges[name]] for name in sorted(edges)}
    for cycle in find_cycles(graph):
        # Reported at the step that closes the cycle.
        last, first = cycle[-1], cycle[0]
        step = next(s for t, s in edges[last] if t == first)
        spath = (*step.path, "workflow")
        repo.problems.append(
            repo.docs[repo.workflows[last].file].problem(
                spath,
                f"{format_path(spath)}: workflows call each other in a cycle: "
                + " -> ".join([*cycle, first]),
            )
        )
    reported: set[frozenset[str]] = set()

    def visit(stack: list[str]) -> None:
        for target, _ in edges.get(stack[-1], []):
            if target in stack:
                continue  # a cycle, reported above
            chain = [*stack, target]
            if len(stack) <= MAX_DEPTH:
                visit(chain)
            elif frozenset(chain) not in reported:
                reported.add(frozenset(chain))
                first = next(s for t, s in edges[chain[0]] if t == chain[1])
                spath = (*first.path, "workflow")
                repo.problems.append(
                    repo.docs[repo.workflows[chain[0]].file].problem(
                        spath,
                        f"{format_path(spath)}: workflows nested {len(chain) - 1} deep "
                        f"(at most {MAX_DEPTH}): " + " -> ".join(chain),
                    )
                )

    for name in sorted(edges):
        visit([name])
