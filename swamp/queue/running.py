"""Running one claimed item through the engine: mark it running in its
file (the claim), start or continue its run, and record the run's outcome
in the item; give the item back as it was when nothing ran."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from swamp import freeze
from swamp.engine import runs, service
from swamp.engine.events import JobReleased
from swamp.engine.progress import PlainProgress
from swamp.engine.runs import NewRun
from swamp.engine.state import RunStatus
from swamp.errors import SwampError
from swamp.identity import runner_identity
from swamp.interrupts import Interrupted
from swamp.items import Item
from swamp.queue.decision import Action, Report
from swamp.queue.outcome import detail, record_outcome, release_commit
from swamp.queue.status import Disposition
from swamp.repo import Repository
from swamp.timing import iso, utcnow

# Kept around each run (with --push, the lease: see lease.py).
Around = Callable[[Action], contextlib.AbstractContextManager[None]]


def write_claim(root: Path, action: Action) -> None:
    """Mark the item running, by this runner in this checkout, in its file."""
    claim = {
        "by": runner_identity(),
        "host": socket.gethostname(),
        "checkout": str(root),
        "at": iso(utcnow()),
        "run": action.run_id,
    }
    action.item.mark_claimed(action.run_id, claim)
    action.item.save()


def give_back(action: Action) -> None:
    """Nothing ran: the item goes back to what it was before the claim."""
    action.item.restore(action.before)
    action.item.save()


def run_action(
    repo: Repository,
    action: Action,
    *,
    by: str,
    quiet: bool = False,
    rerun_unknown: bool = False,
    around: Around | None = None,
) -> Report:
    """Run a claimed item (`around` kept around its run); what it did, or
    why it did not start (the item is then given back)."""
    item = action.item
    frozen = freeze.refusal(repo.root)
    if frozen is not None:  # frozen while earlier items ran: start nothing more
        give_back(action)
        return Report(item.id, item.target, Disposition.FROZEN, frozen)
    try:
        with around(action) if around is not None else contextlib.nullcontext():
            return _run(repo, action, by, quiet, rerun_unknown)
    except SwampError as e:
        give_back(action)
        return Report(item.id, item.target, RunStatus.FAILED, str(e), item.run)


def _run(repo: Repository, action: Action, by: str, quiet: bool, rerun_unknown: bool) -> Report:
    item = action.item
    progress = None if quiet else PlainProgress(label=f"{item.id} {item.target}")
    staged = item.take_release()
    released_by, commit = _released_by(repo.root, item, staged, by) if staged else (by, None)
    item.save()
    handle = None
    if action.mode == "resume":
        with contextlib.suppress(SwampError):  # claimed, but the run never began
            handle = runs.open_exact(repo.root, action.run_id)
        if handle is not None and not handle.state.target:
            handle.journal.close()  # cut off as it began: nothing of it ran
            handle = None
    if handle is not None and handle.state.state == RunStatus.SUCCEEDED:
        # The run finished but its runner died before recording it.
        handle.journal.close()
        record_outcome(repo.root, handle.state, _audit(action, by))
        return Report(item.id, item.target, RunStatus.SUCCEEDED, "result recorded", handle.id)
    if handle is not None:
        if staged:
            handle.record(JobReleased, job=staged["job"], by=released_by, commit=commit)
        result = service.resume(
            repo,
            handle,
            progress=progress,
            item_locked=True,
            rerun_unknown=rerun_unknown,
        )
    else:
        new = NewRun(
            item.kind,
            item.target,
            item.inputs,
            by,
            item=item.id,
            run_id=action.run_id,
            request=item.request.digest(),
            pin=item.request.pin,
        )
        result = service.start(repo, new, progress=progress, item_locked=True)
    # The engine reports how the run stopped; the queue records it in the item.
    record_outcome(repo.root, result.state, _audit(action, by))
    if result.state.state == RunStatus.INTERRUPTED:  # Ctrl-C, SIGTERM: no further item starts
        raise Interrupted(service.interrupted(result.state))
    return Report(item.id, item.target, result.state.state, detail(result.state), result.id)


def _released_by(
    root: Path, item: Item, staged: Mapping[str, str], by: str
) -> tuple[str, str | None]:
    """Who released the hold, and the commit that staged the release: its
    author, never the release's own `by` text; for a release made in this
    checkout and not committed, whoever runs it (and no commit)."""
    commit = release_commit(root, item, staged)
    if commit is None:
        return by, None
    return f"{commit.author} <{commit.email}>", commit.sha


def _audit(action: Action, by: str) -> dict[str, Any]:
    """What this runner verified itself: the only source of the audit's
    approvedBy, pullRequest and executedBy (never the item's own fields)."""
    audit: dict[str, Any] = {"executedBy": by}
    verdict = action.approval
    if verdict is not None and verdict.ok:
        audit["approvedBy"] = list(verdict.approvers)
        if verdict.pull_request:
            audit["pullRequest"] = verdict.pull_request
        if verdict.requested is not None:
            audit["requestedBy"] = verdict.requested
    return audit
