"""What an item's state is right now: stored state, plus time, window, pin
and whoever holds it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, assert_never

from swamp.errors import SwampError
from swamp.items import Item, ItemState, stale_files
from swamp.locks import FileLock, is_held
from swamp.repo import Pinned
from swamp.timing import iso, parse_iso, window_status

LOCKS = ".swamp/locks"
# Stored states that need a person (release, resume, purge) before running.
NEEDS_ACTION = frozenset(
    {ItemState.HELD, ItemState.FAILED, ItemState.PAUSED, ItemState.STOPPED, ItemState.INTERRUPTED}
)


class DisplayState(StrEnum):
    """The state `queue list` shows for an item now (and `--json` prints).

    Not the same thing as `ItemState`, the state stored in an item's file:
    a stored state is shown under its own name (same value, same meaning, see
    ItemState), and what the file cannot know is added: the clock, the
    window and the pin (`waiting`, `stale`), who holds a claim
    (`interrupted`, `stale-claim`), and whether a run's journal vouches for a
    done/ record (`unverified`)."""

    # Shown as stored (see ItemState).
    QUEUED = "queued"
    RUNNING = "running"
    HELD = "held"
    FAILED = "failed"
    PAUSED = "paused"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"  # also: claimed here, and no process here holds it
    EXPIRED = "expired"  # also: queued, and its notAfter has passed
    CANCELLED = "cancelled"
    SUCCEEDED = "succeeded"  # in done/: only when its run's journal confirms it
    # Known only now.
    WAITING = "waiting"  # for its notBefore or its window
    STALE = "stale"  # its definitions changed since review
    STALE_CLAIM = "stale-claim"  # claimed elsewhere, and silent for claimTimeout
    UNVERIFIED = "unverified"  # in done/, and no journal confirms it


class Disposition(StrEnum):
    """What `queue execute` and `queue purge` say of an item besides a state
    (DisplayState, or the RunStatus of the run they just made): why it did
    not run, or what a dry run or a purge did."""

    SKIPPED = "skipped"  # not this time (held, finished elsewhere, claimed by another)
    REFUSED = "refused"  # it must not run as it is (a mismatch, a claim held elsewhere)
    FROZEN = "frozen"  # the repository is frozen
    INVALID = "invalid"  # its definitions have problems (`swamp validate`)
    UNAPPROVED = "unapproved"  # the forge does not vouch for its review
    WOULD_RUN = "would-run"  # --dry-run
    WOULD_PURGE = "would-purge"  # purge --dry-run
    PURGED = "purged"


# What time, the window and the pin make of an item that may run (timing_status).
Timing = Literal[
    DisplayState.QUEUED, DisplayState.WAITING, DisplayState.EXPIRED, DisplayState.STALE
]
# What becomes of a claimed item (claim_status).
Claimed = Literal[DisplayState.RUNNING, DisplayState.INTERRUPTED, DisplayState.STALE_CLAIM]


@dataclass(frozen=True)
class Status:
    state: DisplayState
    detail: str = ""


@dataclass(frozen=True)
class TimingStatus(Status):
    state: Timing


@dataclass(frozen=True)
class ClaimStatus(Status):
    state: Claimed


def shown(stored: ItemState) -> DisplayState:
    """A stored state under its own name."""
    return DisplayState(stored.value)


def status(
    repo: Pinned,
    item: Item,
    now: datetime,
    *,
    active: bool | None = None,
    leases: Mapping[str, str] | None = None,
) -> Status:
    """The state a reviewer should see for `item` at `now`.

    `leases`: {item: when its runner last renewed its lease} as origin has
    them (see lease.py); without it a claim made elsewhere is judged by the
    claim's own time."""
    if item.done:
        return done_status(repo.root, item)
    stored = item.state
    match stored:
        case ItemState.RUNNING:
            return claim_status(repo, item, now, active, (leases or {}).get(item.id))
        case ItemState.HELD:
            job = item.held_job or "?"
            staged = item.staged_release or {}
            if staged.get("job") == job:
                # Not its `by` text: who released it is who committed it (see outcome.py).
                return Status(DisplayState.HELD, f"release of {job} staged; runs next")
            return Status(
                DisplayState.HELD,
                f"release with: swamp workflow release {job} --run {item.run or '?'}",
            )
        case ItemState.FAILED | ItemState.PAUSED | ItemState.STOPPED | ItemState.INTERRUPTED:
            where = item.failed_step
            what = f"step {where}" if where else f"run {item.run or '?'}"
            return Status(
                shown(stored), f"{what}; resume with: swamp queue execute --item {item.id}"
            )
        case ItemState.EXPIRED | ItemState.CANCELLED | ItemState.SUCCEEDED:
            return Status(shown(stored))
        case ItemState.QUEUED:
            return timing_status(repo, item, now)
        case _:
            assert_never(stored)


def done_status(root: Path, item: Item) -> Status:
    """A done/ record counts as succeeded only when its run's journal says so
    for exactly this request. A record written by hand, or one whose run was
    deleted, is `unverified`: swamp never vouches for what it cannot see.
    (A journal can be planted too; only branch protection stops that, see
    docs/security.md.)"""
    # start-up time: loaded only on this path
    from swamp.engine import runs
    from swamp.engine.state import RunStatus

    run_id = item.run or ""
    if not run_id:
        return Status(DisplayState.UNVERIFIED, "it names no run")
    try:
        state = runs.run_state(root, run_id)
    except SwampError as e:
        return Status(DisplayState.UNVERIFIED, f"the journal of run {run_id} is unreadable: {e}")
    if state is None:
        return Status(DisplayState.UNVERIFIED, f"no journal of run {run_id} confirms it")
    if state.item != item.id:
        return Status(DisplayState.UNVERIFIED, f"its run's journal names item {state.item!r}")
    if state.request != item.request.digest():
        return Status(DisplayState.UNVERIFIED, "its run's journal records another request")
    if state.state != RunStatus.SUCCEEDED:
        return Status(DisplayState.UNVERIFIED, f"its run's journal says {state.state}")
    return Status(DisplayState.SUCCEEDED, run_id)


def timing_status(repo: Pinned, item: Item, now: datetime) -> TimingStatus:
    """What time, the window and the pin say of an item that may run."""
    not_after = item.request.not_after
    if not_after and parse_iso(not_after) < now:
        return TimingStatus(DisplayState.EXPIRED, f"not after {not_after}")
    changed = stale_files(repo, item)
    if changed:
        return TimingStatus(DisplayState.STALE, "changed since review: " + ", ".join(changed))
    not_before = item.request.not_before
    if not_before and parse_iso(not_before) > now:
        return TimingStatus(DisplayState.WAITING, f"until {not_before}")
    window = item.request.window
    if window:
        w = repo.config.windows.get(window)
        if w is None:
            return TimingStatus(
                DisplayState.STALE, f"window {window!r} is no longer defined in swamp.yaml"
            )
        is_open, when = window_status(w, now)
        if not is_open:
            return TimingStatus(DisplayState.WAITING, f"window {window} opens at {iso(when)}")
    return TimingStatus(DisplayState.QUEUED)


def silent_for(claim: Mapping[str, Any], renewed_at: str | None, now: datetime) -> float | None:
    """Seconds since the runner that holds a claim last showed it is alive:
    when it claimed the item, or last renewed its lease; None if neither says."""
    seen = []
    for moment in (claim.get("at"), renewed_at):
        try:
            seen.append(parse_iso(str(moment)))
        except ValueError:
            continue
    return (now - max(seen)).total_seconds() if seen else None


def lapsed(silence: float | None, claim_timeout: float) -> bool:
    """The one rule for taking a claim over (listing and `--reclaim` alike):
    its runner has been silent for defaults.claimTimeout, however long its
    run has taken."""
    return silence is None or silence >= claim_timeout


def claim_status(
    repo: Pinned,
    item: Item,
    now: datetime,
    active: bool | None = None,
    renewed_at: str | None = None,
) -> ClaimStatus:
    """A claimed item: running; `interrupted` when this checkout claimed it and
    no process here holds it (its runner died); `stale-claim` when a claim
    made elsewhere has had neither a result nor a lease renewal for longer
    than defaults.claimTimeout."""
    claim = item.claim
    run = item.run or "?"
    running = item_locked(repo.root, item.id) if active is None else active
    if running:
        return ClaimStatus(DisplayState.RUNNING, f"run {run}")
    # start-up time: socket costs `queue list` 5 ms, and only a claim needs it
    import socket

    who_ = f"claimed by {claim.get('by', '?')} at {claim.get('at', '?')}"
    here = claim.get("host") == socket.gethostname() and claim.get("checkout") in (
        None,  # claims made before claims named their checkout
        str(repo.root),
    )
    if here:
        return ClaimStatus(
            DisplayState.INTERRUPTED,
            f"{who_}; no runner holds it (resume with: swamp queue execute --item {item.id})",
        )
    if lapsed(silent_for(claim, renewed_at, now), repo.config.claim_timeout):
        return ClaimStatus(
            DisplayState.STALE_CLAIM,
            f"{who_}; no result since (take it over with: "
            f"swamp queue execute --item {item.id} --reclaim)",
        )
    renewed = f"; lease renewed at {renewed_at}" if renewed_at else ""
    return ClaimStatus(DisplayState.RUNNING, f"{who_}{renewed} (run {run})")


def lock_path(root: Path, item_id: str) -> Path:
    return root / LOCKS / f"{item_id}.lock"


def item_locked(root: Path, item_id: str) -> bool:
    return is_held(lock_path(root, item_id))


class ItemLock(FileLock):
    """Exclusive, per machine: two `queue execute` on one checkout never run
    the same item at once."""

    def __init__(self, root: Path, item_id: str) -> None:
        super().__init__(lock_path(root, item_id))
