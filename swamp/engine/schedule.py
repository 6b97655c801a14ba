"""When a job or a step may start: the order of a dependency graph
(graphlib) and the conditions on what it depends on.

The same rules hold for jobs in a run and for steps in a job (the README
explains them): something is looked at once everything it depends on has
finished; then it starts, is skipped (a condition can no longer hold), or
waits for a resume (it depends on a failure that a resume may mend).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from graphlib import TopologicalSorter
from typing import assert_never

from swamp.definitions import Condition, Dependency
from swamp.engine.state import JobStatus, StepStatus, finished

# Both kinds of state: a job's and a step's (a step not recorded yet is pending).
Status = JobStatus | StepStatus


def _succeeded(status: Status) -> bool:
    return status in (StepStatus.SUCCEEDED, JobStatus.SUCCEEDED)


def _failed(status: Status) -> bool:
    return status in (StepStatus.FAILED, JobStatus.FAILED)


def condition_met(dep: Dependency, status: Status, allowed: bool = False) -> bool | None:
    """True/False once decided; None while the dependency has not finished.
    `allowed`: it failed, but allowFailure says that does not count."""
    if not finished(status):
        return None
    ok = _succeeded(status) or (_failed(status) and allowed)
    match dep.condition:
        case Condition.SUCCEEDED:
            return ok
        case Condition.FAILED:
            return _failed(status) and not allowed
        case Condition.COMPLETED:
            return _succeeded(status) or _failed(status)
        case Condition.ALWAYS:
            return True
        case _:
            assert_never(dep.condition)


def verdict(
    deps: Sequence[Dependency], lookup: Callable[[str], tuple[Status, bool]]
) -> bool | str | None:
    """True to start, a reason string to skip, None to wait.
    `lookup`: a dependency's (state, allowed to fail)."""
    for dep in deps:
        status, allowed = lookup(dep.name)
        met = condition_met(dep, status, allowed)
        if met is None:
            return None
        if not met:
            if _failed(status) and not allowed and dep.condition == Condition.SUCCEEDED:
                return None  # wait: a resume may make it succeed
            return f"{dep.name} {status} (needs {dep.condition})"
    return True


def handles_failure(deps: Sequence[Dependency]) -> bool:
    """Whether it depends on a failure explicitly: after a failure, only such
    work still starts."""
    return any(d.condition != Condition.SUCCEEDED for d in deps)


class Ordering:
    """The nodes of a dependency graph as they become ready to be looked at.

    A node is ready once every node it depends on is `done` (finished in this
    invocation, or before it: those are passed through at once). A node that
    is never done (it waits, or stays pending) holds back what depends on it.
    Nodes come in the order of `deps` (the order of the definition).
    """

    def __init__(
        self, deps: Mapping[str, Iterable[str]], was_finished: Callable[[str], bool]
    ) -> None:
        self._sorter: TopologicalSorter[str] = TopologicalSorter(deps)
        self._sorter.prepare()  # validation has refused cycles; this would raise on one
        self._was_finished = was_finished
        self._index = {name: i for i, name in enumerate(deps)}

    def ready(self) -> list[str]:
        """The nodes that became ready since the last call, in graph order,
        without those that had finished before (they are done at once)."""
        found: list[str] = []
        while True:
            batch = self._sorter.get_ready()
            if not batch:
                return sorted(found, key=self._index.__getitem__)
            again = False
            for name in batch:
                if self._was_finished(name):
                    self._sorter.done(name)
                    again = True
                else:
                    found.append(name)
            if not again:
                return sorted(found, key=self._index.__getitem__)

    def done(self, name: str) -> None:
        self._sorter.done(name)
