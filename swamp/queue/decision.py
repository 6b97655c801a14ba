"""What a queued item needs now: an `Action` (start its run, or continue
it), or a `Report` saying why not (and, in the end, what its run did).

The stored state only chooses the path; every path then passes the same
gate (gate.admit). Deciding writes nothing but an expiry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, assert_never

from swamp import paths
from swamp.engine import runs
from swamp.engine.state import RunStatus
from swamp.errors import SwampError
from swamp.items import Item, ItemState
from swamp.queue import gate
from swamp.queue.status import DisplayState, Disposition, ItemLock, claim_status, status
from swamp.repo import Repository

if TYPE_CHECKING:
    from swamp.approval import Approvals, Verdict

# Start a new run, or resume the item's run (failed, stopped, paused,
# interrupted, reclaimed, released).
Mode = Literal["start", "resume"]


@dataclass
class Report:
    item: str
    target: str
    # The item's state now, the state of the run just made, or why neither.
    outcome: DisplayState | RunStatus | Disposition
    detail: str = ""
    run: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "target": self.target,
            "outcome": self.outcome,
            "detail": self.detail,
            "run": self.run,
        }


@dataclass
class Action:
    """An item this executor will run: start a new run, or continue one."""

    item: Item
    mode: Mode
    run_id: str
    lock: ItemLock
    before: dict[str, Any]  # the item as it was, to put back if nothing ran
    approval: Verdict | None = None  # what the forge verified, for the audit record


def decide(
    repo: Repository,
    item: Item,
    lock: ItemLock,
    now: datetime,
    *,
    explicit: bool,
    reclaim: bool = False,
    dry_run: bool = False,
    approvals: Approvals | None = None,
    leases: Callable[[], Mapping[str, str]] | None = None,
) -> Action | Report:
    """What `item` needs now: an Action to run, or a Report saying why not
    (in one line, abridged: it quotes values from the item's file).

    `explicit`: the item was named (--item), so it may be resumed;
    `reclaim`: a stale claim on it may be taken over; `lock`: this process
    holds the item's lock, kept by the Action; `leases`: asked for origin's
    lease renewals ({item: when}) when an item is claimed, so that a claim
    made elsewhere is judged as a takeover would judge it, not by its age."""
    renewals = leases() if leases is not None and item.state == ItemState.RUNNING else None
    decided = _decide(repo, item, lock, now, explicit, reclaim, dry_run, approvals, renewals)
    if isinstance(decided, Report):
        decided.detail = paths.shown(decided.detail, 300)
    return decided


def _decide(
    repo: Repository,
    item: Item,
    lock: ItemLock,
    now: datetime,
    explicit: bool,
    reclaim: bool,
    dry_run: bool,
    approvals: Approvals | None,
    leases: Mapping[str, str] | None,
) -> Action | Report:
    st = status(repo, item, now, active=False, leases=leases)
    base = Report(item.id, item.target, st.state, st.detail, item.run)
    mode: Mode = "resume"
    match item.state:
        case ItemState.QUEUED:
            mode = "start"
        case ItemState.HELD:
            staged = item.staged_release or {}
            if staged.get("job") != item.held_job:  # a release continues it
                base.outcome, base.detail = Disposition.SKIPPED, f"held: {st.detail}"
                return base
        case ItemState.RUNNING:
            renewed = (leases or {}).get(item.id)
            claimed = claim_status(repo, item, now, active=False, renewed_at=renewed)
            match claimed.state:
                case DisplayState.RUNNING:
                    return base
                case DisplayState.STALE_CLAIM:
                    if not (explicit and reclaim):
                        base.outcome = Disposition.SKIPPED
                        return base
                case DisplayState.INTERRUPTED:
                    if not explicit:  # never again by accident
                        base.outcome, base.detail = Disposition.SKIPPED, f"{st.state}: {st.detail}"
                        return base
                case _:
                    assert_never(claimed.state)
        case ItemState.FAILED | ItemState.PAUSED | ItemState.STOPPED | ItemState.INTERRUPTED:
            if not explicit:  # never again by accident
                base.outcome, base.detail = Disposition.SKIPPED, f"{st.state}: {st.detail}"
                return base
        case ItemState.EXPIRED | ItemState.CANCELLED | ItemState.SUCCEEDED:
            return base
        case _:
            assert_never(item.state)
    journal = None
    if mode == "resume" and item.run:
        try:
            journal = runs.run_state(repo.root, item.run)
        except SwampError as e:
            base.outcome, base.detail = Disposition.REFUSED, str(e)
            return base
        if journal is not None and not journal.target:
            journal = None  # cut off as it began: nothing of it ran
    verdict = gate.admit(
        repo,
        item,
        now,
        run=journal,
        approvals=None if dry_run else approvals,
    )
    if isinstance(verdict, gate.Refusal):
        base.outcome, base.detail = verdict.outcome, verdict.detail
        if verdict.outcome == DisplayState.EXPIRED and not dry_run:
            item.set_state(ItemState.EXPIRED)
            item.save()
        return base
    if dry_run:
        base.outcome = Disposition.WOULD_RUN
        base.detail = ("resume " if mode == "resume" else "") + item.target
        return base
    before = item.fields()
    run_id = item.run or runs.new_run_id(item.target)
    return Action(item, mode, run_id, lock, before, verdict.approval)
