"""Cycles and depth: jobs and steps that depend on each other, workflows that call each other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swamp.definitions import (
    Step,
)
from swamp.errors import Problem
from swamp.loader import Document, format_path
from swamp.repo import Repository


def cycle_problems(
    doc: Document, graph: Mapping[str, list[str]], where: Any, noun: str
) -> list[Problem]:
    """One problem per dependency cycle, at its first member."""
    out = []
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    path = where(cycle[0])
                    out.append(
                        doc.problem(
                            path,
                            f"{format_path(path)}: dependency cycle between {noun}s: "
                            + " -> ".join([*cycle, cycle[0]]),
                            key=True,
                        )
                    )
            elif state.get(nxt) is None:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for n in graph:
        if n not in state:
            visit(n, [])
    return out


def check_nesting(repo: Repository) -> None:
    """Workflows calling workflows must not loop back, nor nest deeper than
    the engine runs them (reported in the workflow that starts the chain)."""
    from swamp.engine.runner import MAX_DEPTH

    edges: dict[str, list[tuple[str, Step]]] = {}
    for wf in repo.workflows.values():
        for job in wf.jobs.values():
            for step in (*job.steps, *job.prechecks, *(job.checks.steps if job.checks else ())):
                if step.workflow in repo.workflows:
                    edges.setdefault(wf.name, []).append((step.workflow, step))
    reported: set[frozenset[str]] = set()

    def visit(name: str, stack: list[str]) -> None:
        for target, step in edges.get(name, []):
            if target in stack:
                cycle = [*stack[stack.index(target) :], target]
                if frozenset(cycle) in reported:
                    continue
                reported.add(frozenset(cycle))
                wf = repo.workflows[name]
                doc = repo.docs[wf.file]
                spath = (*step.path, "workflow")
                repo.problems.append(
                    doc.problem(
                        spath,
                        f"{format_path(spath)}: workflows call each other in a cycle: "
                        + " -> ".join(cycle),
                    )
                )
            elif len(stack) > MAX_DEPTH:
                chain = [*stack, target]
                if frozenset(chain) in reported:
                    continue
                reported.add(frozenset(chain))
                wf = repo.workflows[chain[0]]
                doc = repo.docs[wf.file]
                first = next(s for t, s in edges[chain[0]] if t == chain[1])
                spath = (*first.path, "workflow")
                repo.problems.append(
                    doc.problem(
                        spath,
                        f"{format_path(spath)}: workflows nested {len(chain) - 1} deep "
                        f"(at most {MAX_DEPTH}): " + " -> ".join(chain),
                    )
                )
            else:
                visit(target, [*stack, target])

    for name in sorted(edges):
        visit(name, [name])
