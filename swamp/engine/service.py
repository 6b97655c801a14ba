"""Starting and continuing runs: what `workflow run`, `method run`, `run
resume`, `workflow release` and the queue all call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, assert_never

from swamp import freeze
from swamp.definitions import Workflow
from swamp.engine import control
from swamp.engine.events import InputsIgnored, UnknownRerun
from swamp.engine.progress import make_progress
from swamp.engine.runner import Progress, Runner
from swamp.engine.runs import NewRun, RunHandle, create_run, method_workflow
from swamp.engine.state import RunState, RunStatus
from swamp.engine.unknown import refusal, unknown_steps
from swamp.errors import SwampError
from swamp.interrupts import reason, running
from swamp.repo import Repository


@dataclass
class RunResult:
    id: str
    state: RunState

    @property
    def final(self) -> RunStatus:
        return self.state.state


def target_workflow(
    repo: Repository, kind: str, target: str, inputs: Mapping[str, Any] | None = None
) -> Workflow:
    """The workflow a run of `kind` ("workflow" or "method") executes; for a
    method, a one-step workflow passing exactly the given inputs."""
    if kind == "workflow":
        return repo.workflow(target)
    model_name, _, method = target.partition(".")
    model = repo.model(model_name)
    if method not in model.methods:
        raise SwampError(
            f"model {model.name!r} has no method {method!r} "
            f"(known: {', '.join(sorted(model.methods))})"
        )
    return method_workflow(model, method, dict(inputs or {}))


def start(
    repo: Repository,
    new: NewRun,
    *,
    quiet: bool = False,
    progress: Progress | None = None,
    item_locked: bool = False,
) -> RunResult:
    """Create a run and execute it until it ends, holds, fails or pauses.

    `item_locked`: the caller (the queue layer) holds the item's lock, and
    records the item's outcome from the result.
    """
    wf, handle = create(repo, new)
    return _execute(repo, wf, handle, quiet=quiet, progress=progress, item_locked=item_locked)


def create(repo: Repository, new: NewRun) -> tuple[Workflow, RunHandle]:
    """Journal a new run (durably) without executing it: `swamp serve`
    accepts a run this way before it answers, and executes it later."""
    refuse_if_frozen(repo)
    wf = target_workflow(repo, new.kind, new.target, new.inputs)
    ignored: list[str] = []
    if wf.dialect == "mender":  # Mender runs a job with inputs it does not declare;
        # they stay in the run as given (its record), and nothing can read them.
        declared = wf.inputs.get("properties") or {}
        ignored = sorted(k for k in new.inputs if k not in declared)
    handle = create_run(repo.root, wf, new, concurrency=new.concurrency or repo.config.concurrency)
    if ignored:
        handle.record(InputsIgnored, names=tuple(ignored))
    return wf, handle


def execute(repo: Repository, wf: Workflow, handle: RunHandle, *, quiet: bool = True) -> RunResult:
    """Execute a run made by `create`."""
    return _execute(repo, wf, handle, quiet=quiet)


def resume(
    repo: Repository,
    handle: RunHandle,
    *,
    quiet: bool = False,
    progress: Progress | None = None,
    retrying: bool = False,
    item_locked: bool = False,
    rerun_unknown: bool = False,
) -> RunResult:
    """Continue a run; a queue item's run only through the queue layer
    (`swamp.queue.item_runs`), which holds the item's lock (`item_locked`).
    Steps whose outcome is unknown run again only if they are safe to repeat
    or `rerun_unknown` (engine/unknown.py)."""
    refuse_if_frozen(repo)
    state = handle.state
    if not state.target:
        handle.journal.close()
        raise SwampError(
            f"run {handle.id} was cut off before it recorded what it runs; nothing of it ran "
            f"(delete it with `swamp run delete {handle.id}`)"
        )
    match state.state:
        case RunStatus.SUCCEEDED if not retrying:
            raise SwampError(f"run {handle.id} already succeeded; nothing to resume")
        case RunStatus.CANCELLED:
            raise SwampError(f"run {handle.id} was cancelled")
        case (
            RunStatus.SUCCEEDED
            | RunStatus.CREATED
            | RunStatus.RUNNING
            | RunStatus.HELD
            | RunStatus.PAUSED
            | RunStatus.FAILED
            | RunStatus.STOPPED
            | RunStatus.INTERRUPTED
        ):
            pass
        case _:
            assert_never(state.state)
    wf = target_workflow(repo, state.kind, state.target, state.inputs)
    control.clear(handle.dir)
    return _execute(
        repo,
        wf,
        handle,
        quiet=quiet,
        progress=progress,
        item_locked=item_locked,
        check_unknown=not rerun_unknown,
    )


def interrupted(state: RunState) -> str:
    """What to tell about a run a signal stopped: its steps in flight."""
    in_flight = state.interrupted_steps()
    told = f"{state.reason or reason()}: run {state.id} stopped"
    if in_flight:
        told += f"; in flight, outcome unknown: {', '.join(in_flight)}"
    return told + f"; continue with `swamp run resume {state.id}`"


def refuse_if_frozen(repo: Repository) -> None:
    why = freeze.refusal(repo.root)
    if why is not None:
        raise SwampError(f"nothing runs: {why}")


def _execute(
    repo: Repository,
    wf: Workflow,
    handle: RunHandle,
    *,
    quiet: bool,
    progress: Progress | None = None,
    item_locked: bool = False,
    check_unknown: bool = False,
) -> RunResult:
    if handle.state.item is not None and not item_locked:
        # A bug, not a user error: the queue layer runs an item's run.
        handle.journal.close()
        raise AssertionError(f"run {handle.id} of item {handle.state.item} without its lock")
    lock = control.RunLock(handle.dir)
    try:
        lock.acquire(handle.id)
    except SwampError:
        handle.journal.close()
        raise
    made = None
    try:
        # Decided under the run's lock: no other process is running it now.
        unknown = unknown_steps(repo, wf, handle)
        if unknown and check_unknown:
            raise SwampError(refusal(handle.id, unknown))
        if unknown:
            handle.record(UnknownRerun, steps=tuple(unknown))  # the operator's decision, audited
        made = make_progress(quiet) if progress is None else None
        with running(repo.config.stop_grace):
            Runner(
                repo,
                wf,
                handle,
                concurrency=handle.state.concurrency,
                progress=progress or made,
            ).execute()
    finally:
        if made is not None:
            made.close()
        handle.journal.close()
        lock.release()
    return RunResult(handle.id, handle.state)
