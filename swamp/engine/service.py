"""Starting and continuing runs: what `workflow run`, `method run`, `run
resume`, `workflow release` and the queue all call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from swamp import freeze
from swamp.definitions import Workflow
from swamp.engine import control
from swamp.engine.progress import make_progress
from swamp.engine.runner import Progress, Runner
from swamp.engine.runs import RunHandle, create_run, method_workflow
from swamp.engine.state import RunState
from swamp.errors import SwampError
from swamp.repo import Repository


@dataclass
class RunResult:
    id: str
    state: RunState

    @property
    def final(self) -> str:
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
    kind: str,
    target: str,
    inputs: Mapping[str, Any],
    *,
    by: str,
    concurrency: int | None = None,
    item: str | None = None,
    run_id: str | None = None,
    quiet: bool = False,
    progress: Progress | None = None,
    item_locked: bool = False,
    request: str | None = None,
    pin: dict[str, str] | None = None,
) -> RunResult:
    """Create a run and execute it until it ends, holds, fails or pauses.

    `item_locked`: the caller (the queue layer) holds the item's lock, and
    records the item's outcome from the result.
    """
    wf, handle = create(
        repo,
        kind,
        target,
        inputs,
        by=by,
        concurrency=concurrency,
        item=item,
        run_id=run_id,
        request=request,
        pin=pin,
    )
    return _execute(repo, wf, handle, quiet=quiet, progress=progress, item_locked=item_locked)


def create(
    repo: Repository,
    kind: str,
    target: str,
    inputs: Mapping[str, Any],
    *,
    by: str,
    concurrency: int | None = None,
    item: str | None = None,
    run_id: str | None = None,
    request: str | None = None,
    pin: dict[str, str] | None = None,
) -> tuple[Workflow, RunHandle]:
    """Journal a new run (durably) without executing it: `swamp serve`
    accepts a run this way before it answers, and executes it later."""
    refuse_if_frozen(repo)
    wf = target_workflow(repo, kind, target, inputs)
    handle = create_run(
        repo.root,
        wf,
        kind=kind,
        inputs=dict(inputs),
        by=by,
        concurrency=concurrency or repo.config.concurrency,
        item=item,
        run_id=run_id,
        request=request,
        pin=pin,
    )
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
) -> RunResult:
    """Continue a run; a queue item's run only through the queue layer
    (`swamp.queue.item_runs`), which holds the item's lock (`item_locked`)."""
    refuse_if_frozen(repo)
    state = handle.state
    if not state.target:
        handle.journal.close()
        raise SwampError(
            f"run {handle.id} was cut off before it recorded what it runs; nothing of it ran "
            f"(delete it with `swamp run delete {handle.id}`)"
        )
    if state.state == "succeeded" and not retrying:
        raise SwampError(f"run {handle.id} already succeeded; nothing to resume")
    if state.state == "cancelled":
        raise SwampError(f"run {handle.id} was cancelled")
    wf = target_workflow(repo, state.kind, state.target, state.inputs)
    control.clear(handle.dir)
    return _execute(repo, wf, handle, quiet=quiet, progress=progress, item_locked=item_locked)


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
    made = make_progress(quiet) if progress is None else None
    try:
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
