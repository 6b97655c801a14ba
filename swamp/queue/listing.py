"""The rows of `swamp queue list` (and of `swamp serve`'s queue): each item
with the state a reviewer should see now."""

from __future__ import annotations

from typing import Any

from swamp import items
from swamp.queue.status import item_locked, status
from swamp.repo import Pinned
from swamp.timing import utcnow


def queue_rows(
    repo: Pinned, *, include_done: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """What `queue list --json` prints (and `swamp serve` answers), and the
    files that are not readable items."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    broken: list[str] = []
    found = list(items.in_review_order(items.iter_items(repo.root, include_done=include_done)))
    # Only a claim no process here holds needs origin's leases (one fetch).
    elsewhere = any(
        isinstance(e, items.Item)
        and e.state == items.ItemState.RUNNING
        and not item_locked(repo.root, e.id)
        for e in found
    )
    leases: dict[str, str] = {}
    if elsewhere:
        # start-up time: git only when an item is claimed elsewhere
        from swamp.queue.lease import renewals_at

        leases = renewals_at(repo.root)
    for entry in found:
        if isinstance(entry, items.BrokenItem):
            broken.append(str(entry.problem))
            continue
        st = status(repo, entry, now, leases=leases)
        rows.append(
            {
                "id": entry.id,
                "kind": entry.kind,
                "target": entry.target,
                "inputs": entry.inputs,
                "state": st.state,
                "detail": st.detail,
                "requestedBy": entry.request.requested_by,
                "requestedAt": entry.request.requested_at,
                "note": entry.request.note,
                "run": entry.run,
                "file": entry.path.relative_to(repo.root).as_posix(),
            }
        )
    return rows, broken
