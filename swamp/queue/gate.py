"""The one gate every path to execution of a queue item passes.

A queued item that starts, a held one whose release was staged, a failed,
paused, stopped or interrupted one that is resumed or retried, a reclaimed
one, `--item`, and `run resume` / `run retry` / `workflow release` on the run
of an item: all call `admit`. Stored, runner-owned fields (state, run,
release, claim) only choose *which* path is taken; none of them widens what
runs, because each path takes the same checks:

identity   the item's id is the digest of its kind, target and inputs;
freeze     nothing starts while the repository is frozen;
time       notAfter expires it, notBefore and its window make it wait;
pin        the definitions it was reviewed against are unchanged;
valid      those definitions have no problems (a broken definition elsewhere
           does not stop the items that do not use it);
journal    a run being continued was started for exactly this request;
approval   with a policy, every change since staging was approved (approval.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, assert_never

from swamp import freeze, items
from swamp.errors import SwampError
from swamp.items import Item
from swamp.queue.status import DisplayState, Disposition, timing_status
from swamp.repo import Repository
from swamp.timing import utcnow

if TYPE_CHECKING:
    from swamp.approval import Approvals, Verdict
    from swamp.engine.state import RunState


@dataclass(frozen=True)
class Refusal:
    """Why an item may not run now: an outcome (stale, invalid, waiting,
    expired, frozen, unapproved, refused) and one line saying why."""

    outcome: Disposition | DisplayState
    detail: str


@dataclass(frozen=True)
class Admitted:
    """The item may run; `approval` is what the forge verified (or None)."""

    approval: Verdict | None = None


def admit(
    repo: Repository,
    item: Item,
    now: datetime,
    *,
    run: RunState | None = None,
    approvals: Approvals | None = None,
) -> Admitted | Refusal:
    """Whether `item` may run (or its `run` be continued) now."""
    expected = items.identity(item.kind, item.target, item.inputs)
    if expected != item.id:
        return Refusal(
            Disposition.REFUSED,
            f"its id does not match its content ({expected}); purge it and queue it again",
        )
    frozen = freeze.refusal(repo.root)
    if frozen is not None:
        return Refusal(Disposition.FROZEN, frozen)
    timing = timing_status(repo, item, now)
    not_now: Refusal | None = None
    match timing.state:
        case DisplayState.STALE:
            return Refusal(
                DisplayState.STALE,
                timing.detail
                + "; re-approve by purging it and queueing it again in a reviewed change",
            )
        case DisplayState.EXPIRED | DisplayState.WAITING:
            not_now = Refusal(timing.state, timing.detail)  # said after `invalid`
        case DisplayState.QUEUED:
            pass
        case _:
            assert_never(timing.state)
    problems = [p for p in repo.problems if p.file in item.request.pin]
    if problems:  # its definitions cannot run; the other items still do
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return Refusal(Disposition.INVALID, f"{problems[0]}{more}; see `swamp validate`")
    if not_now is not None:
        return not_now
    if run is not None:
        mismatch = journal_mismatch(item, run)
        if mismatch:
            return Refusal(Disposition.REFUSED, mismatch)
    if approvals is None:
        return Admitted()
    verdict = approvals.check(item)
    if not verdict.ok:
        return Refusal(Disposition.UNAPPROVED, verdict.reason)
    return Admitted(verdict)


def journal_mismatch(item: Item, run: RunState) -> str:
    """Why `run` is not a run of exactly this item's request ("" if it is).

    The journal records progress only: what runs is decided by the item, and
    a journal that names anything else was not written by swamp for it.
    """
    what = f"run {run.id or '?'} was not started for this item"
    if run.item != item.id:
        return f"{what} (its journal names item {run.item!r})"
    if run.kind != item.kind or run.target != item.target:
        return f"{what} (its journal names {run.kind} {run.target!r}, the item {item.target!r})"
    if items.canonical(run.inputs) != items.canonical(item.inputs):
        return f"{what} (its journal's inputs differ from the item's)"
    if run.request != item.request.digest():
        return f"{what} (its journal does not record this item's request digest)"
    if dict(run.pin) != dict(item.request.pin):
        return f"{what} (its journal records another pin)"
    return ""


def admit_run(repo: Repository, run: RunState) -> None:
    """The gate for a run of a queue item continued by hand (`run resume`,
    `run retry`, `workflow release`): raises SwampError with the reason."""
    # start-up time: loaded only on this path
    from swamp.approval import approvals_for

    item_id = run.item or ""
    found = items.existing(repo.root, item_id)
    if found is None:
        raise SwampError(
            f"run {run.id} belongs to queue item {item_id!r}, which is not in queue/ "
            "(finished or purged); nothing of it may run"
        )
    approvals = approvals_for(repo)
    try:
        verdict = admit(repo, found, utcnow(), run=run, approvals=approvals)
    finally:
        if approvals is not None:
            approvals.close()
    if isinstance(verdict, Refusal):
        raise SwampError(f"queue item {found.id} may not run: {verdict.outcome}: {verdict.detail}")
