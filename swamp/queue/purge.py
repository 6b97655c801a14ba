"""Removing items from the queue (`swamp queue purge`): a held, failed or
interrupted item's run is cancelled with it; a running one is refused."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import assert_never

from swamp import items
from swamp.engine import control, runs
from swamp.engine.events import RunStateSet
from swamp.engine.state import RunStatus
from swamp.errors import SwampError
from swamp.items import Item, ItemState
from swamp.queue.decision import Report
from swamp.queue.status import NEEDS_ACTION, DisplayState, Disposition, ItemLock, claim_status
from swamp.repo import Repository
from swamp.timing import utcnow


def purge(repo: Repository, item: Item, *, dry_run: bool) -> Report:
    """Remove an item's file; a held, failed or interrupted item's run is
    cancelled too. A running item is refused."""
    lock = ItemLock(repo.root, item.id)
    if not lock.try_acquire():
        run = item.run or "?"
        return Report(
            item.id,
            item.target,
            Disposition.REFUSED,
            f"running (run {run}); stop it with `swamp run stop {run}` first",
            item.run,
        )
    try:
        fresh = items.read_item(item.path)
        if fresh is None:
            return Report(item.id, item.target, Disposition.SKIPPED, "no longer queued")
        item = fresh
        run_id = item.run
        if item.state == ItemState.RUNNING:
            # This process holds its lock: a claim that is running is a runner's elsewhere.
            claimed = claim_status(repo, item, utcnow(), active=False)
            match claimed.state:
                case DisplayState.RUNNING:
                    detail = (
                        f"{claimed.detail}; purge it where it runs, or once that runner is gone "
                        f"take it over with `swamp queue execute --item {item.id} --reclaim`"
                    )
                    return Report(item.id, item.target, Disposition.REFUSED, detail, run_id)
                case DisplayState.INTERRUPTED | DisplayState.STALE_CLAIM:
                    pass
                case _:
                    assert_never(claimed.state)
        if dry_run:
            return Report(item.id, item.target, Disposition.WOULD_PURGE, "", run_id)
        if run_id and (item.state in NEEDS_ACTION or item.state == ItemState.RUNNING):
            _cancel_run(repo.root, run_id)
        with contextlib.suppress(FileNotFoundError):
            item.path.unlink()
        return Report(item.id, item.target, Disposition.PURGED, "", run_id)
    finally:
        lock.release()


def _cancel_run(root: Path, run_id: str) -> None:
    try:
        handle = runs.open_run(root, run_id)
    except SwampError:
        return  # the run's folder is gone already: nothing to cancel
    lock = control.RunLock(handle.dir)
    try:
        lock.acquire(handle.id)
        handle.record(RunStateSet, state=RunStatus.CANCELLED, reason="its queue item was purged")
    finally:
        lock.release()
        handle.journal.close()
