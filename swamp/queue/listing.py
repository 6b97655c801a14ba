"""The rows of `swamp queue list` (and of `swamp serve`'s queue): each item
with the state a reviewer should see now."""

from __future__ import annotations

from pathlib import Path
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
    leases = _renewals(repo.root) if elsewhere else {}
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


def _renewals(root: Path) -> dict[str, str]:
    """The leases of runners elsewhere, so that a claim is judged as a
    takeover would judge it (see status.lapsed); none outside git."""
    # Start-up: git only when an item is claimed elsewhere.
    from swamp.gitrepo import GitError, Repo
    from swamp.queue.lease import renewals

    try:
        with Repo(root) as git:
            return renewals(git)
    except GitError:
        return {}
