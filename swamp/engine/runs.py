"""Where runs live (runs/<run-id>/) and how they are created and found."""

from __future__ import annotations

import os
import re
import secrets as random
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swamp import paths
from swamp.definitions import Job, Model, Step, Workflow
from swamp.engine import control
from swamp.engine.events import E, EventClass, P, RunCreated
from swamp.engine.journal import JOURNAL, Journal
from swamp.engine.state import RunState, load_state
from swamp.errors import SwampError
from swamp.fsutil import fsync_dir

RUNS = "runs"


def runs_dir(root: Path) -> Path:
    return root / RUNS


def new_run_id(name: str) -> str:
    slug = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-")[:40] or "run"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{slug}-{random.token_hex(3)}"


@dataclass
class RunHandle:
    """An open run: its folder, its journal and its state in memory."""

    id: str
    dir: Path
    journal: Journal
    state: RunState

    def record(self, cls: EventClass[P, E], *args: P.args, **fields: P.kwargs) -> E:
        """Journal an event durably, `cls(seq, now, **fields)`, and apply it
        to the state."""
        event = self.journal.append(cls, *args, **fields)
        self.state.apply(event)
        return event


@dataclass(frozen=True)
class NewRun:
    """What a new run executes (a workflow, or a model's method as `model.method`,
    with its inputs) and what it records of why: who asked and, for a queue
    item's run, the item, its request's digest and the commits it pinned."""

    kind: str  # "workflow" or "method"
    target: str
    inputs: Mapping[str, Any]
    by: str
    concurrency: int | None = None  # None: the repository's default
    item: str | None = None
    run_id: str | None = None  # None: a new id (new_run_id)
    request: str | None = None
    pin: Mapping[str, str] | None = None


def create_run(
    root: Path, workflow: Workflow, new: NewRun, *, concurrency: int, run_dir: Path | None = None
) -> RunHandle:
    """Journal a new run of `workflow` (durably) in runs/<id>/, or in
    `run_dir` (a nested run's folder)."""
    run_id = new.run_id or new_run_id(workflow.name)
    folder = run_dir or run_folder(root, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    fsync_dir(folder.parent)
    handle = RunHandle(run_id, folder, Journal(folder / JOURNAL), RunState())
    handle.record(
        RunCreated,
        run=run_id,
        kind=new.kind,
        workflow=workflow.name,
        target=workflow.name,
        inputs=dict(new.inputs),
        by=new.by,
        concurrency=concurrency,
        item=new.item,
        request=new.request,
        pin=None if new.pin is None else dict(new.pin),
        jobs=tuple(workflow.jobs),
        pid=os.getpid(),
    )
    return handle


def run_folder(root: Path, run_id: str) -> Path:
    """runs/<run_id>, for an id read from a file: a strict name, inside the
    repository, reached through no symbolic link."""
    if not paths.is_run_id(run_id):
        raise SwampError(f"run {paths.shown(run_id)!r} is not a valid run id")
    return paths.inside(root, f"{RUNS}/{run_id}")


def run_state(root: Path, run_id: str) -> RunState | None:
    """The state of run `run_id` exactly (no prefix matching), or None if it
    has no journal (claimed, but it never began)."""
    folder = run_folder(root, run_id)
    if not (folder / JOURNAL).is_file():
        return None
    paths.check_no_symlinks(root, Path(RUNS, run_id, JOURNAL))
    return load_state(folder)


def open_exact(root: Path, run_id: str) -> RunHandle:
    folder = run_folder(root, run_id)
    if not (folder / JOURNAL).is_file():
        raise SwampError(f"no run {run_id!r} (see `swamp run list`)")
    state = load_state(folder)
    return RunHandle(state.id or folder.name, folder, Journal(folder / JOURNAL), state)


def open_run(root: Path, run_id: str) -> RunHandle:
    folder = find_run(root, run_id)
    state = load_state(folder)
    return RunHandle(
        state.id or folder.name, folder, Journal(folder / JOURNAL, seq=state.seq), state
    )


def open_child(folder: Path) -> RunHandle | None:
    if not (folder / JOURNAL).is_file():
        return None
    state = load_state(folder)
    return RunHandle(state.id, folder, Journal(folder / JOURNAL, seq=state.seq), state)


# A run named by part of its id: at least this much of it (its random suffix
# is 6 characters), so that `run delete 2` never picks a run by one digit.
MIN_ID_PART = 6


def find_run(root: Path, run_id: str) -> Path:
    """The folder of a run, by full id or a unique part of at least
    MIN_ID_PART characters."""
    if not paths.is_run_id(run_id):  # never a path: only names runs/ holds
        raise SwampError(f"no run '{paths.shown(run_id, 60)}' (see `swamp run list`)")
    base = runs_dir(root)
    exact = base / run_id
    if (exact / JOURNAL).is_file():
        return exact
    if len(run_id) < MIN_ID_PART:
        raise SwampError(
            f"run {run_id!r}: give the full run id, or at least {MIN_ID_PART} characters "
            "of it that name one run (see `swamp run list`)"
        )
    matches = [p for p in iter_run_dirs(root) if run_id in p.name]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise SwampError(f"no run {run_id!r} (see `swamp run list`)")
    names = ", ".join(p.name for p in matches[:5])
    raise SwampError(f"{run_id!r} matches several runs ({names}); give more of the id")


def iter_run_dirs(root: Path) -> Iterator[Path]:
    base = runs_dir(root)
    if not base.is_dir():
        return
    for p in sorted(base.iterdir()):
        if (p / JOURNAL).is_file():
            yield p


def delete_run(root: Path, run_id: str) -> str:
    folder = find_run(root, run_id)
    if control.is_active(folder):
        raise SwampError(f"run {folder.name} is executing; stop it first (`swamp run stop`)")
    shutil.rmtree(folder)
    fsync_dir(folder.parent)
    for suffix in (control.LOCK, control.CONTROL):
        control.local_path(folder, suffix).unlink(missing_ok=True)
    return folder.name


def method_workflow(model: Model, method: str, inputs: dict[str, Any]) -> Workflow:
    """A one-step workflow calling one method, so that `method run` and queued
    methods go through the same engine as workflows.

    Inputs are passed as `${{ inputs.NAME }}` so their values are data: an
    input that looks like an expression is never evaluated.
    """
    step = Step(
        name=method,
        model=model.name,
        method=method,
        workflow=None,
        inputs={k: f"${{{{ inputs[{k!r}] }}}}" for k in inputs},
        depends_on=(),
        timeout=None,
        retry=None,
        allow_failure=False,
        description="",
        path=(),
    )
    job = Job(method, "", (), None, None, (), None, (step,), ())
    return Workflow(
        name=f"{model.name}.{method}",
        description=model.methods[method].description,
        inputs=model.methods[method].inputs,
        jobs={method: job},
        file=model.file,
        digest=model.digest,
    )
